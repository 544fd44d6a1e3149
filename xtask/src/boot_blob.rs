//! The boot-first blob: what the Linux driver would place in hypervisor memory
//! on enable, built on the host instead (contracts.md "Boot-first start on QEMU").

use crate::image_header::{self, ImageHeader};
use crate::le::put;
use crate::sysconfig::SystemInfo;
use anyhow::{bail, Result};

/// Boot-loader values written into the extension header.
#[derive(Debug, Clone, Copy, Default)]
pub struct BootArgs {
    /// x0 of the root cell's first CPU (Linux: the DTB address).
    pub root_boot_arg: Option<u64>,
    /// Physical address of a bundle whose cells the hypervisor starts at boot.
    pub boot_bundle: Option<u64>,
}

/// The blob to load at `hv_phys_start`, and the physical entry address.
#[derive(Debug)]
pub struct BootBlob {
    pub bytes: Vec<u8>,
    pub load_addr: u64,
    pub entry_addr: u64,
}

pub fn build(image: &[u8], config: &[u8], args: BootArgs) -> Result<BootBlob> {
    let hdr = ImageHeader::parse(image)?;
    let sys = SystemInfo::parse(config)?;
    let mut bytes = image.to_vec();
    put(
        &mut bytes,
        image_header::OFF_MAX_CPUS,
        &sys.max_cpus().to_le_bytes(),
        "image",
    )?;
    put(
        &mut bytes,
        image_header::OFF_ONLINE_CPUS,
        &sys.online_cpus().to_le_bytes(),
        "image",
    )?;
    for (value, off, what) in [
        (
            args.root_boot_arg,
            image_header::OFF_ROOT_BOOT_ARG,
            "root_boot_arg",
        ),
        (
            args.boot_bundle,
            image_header::OFF_BOOT_BUNDLE,
            "boot_bundle",
        ),
    ] {
        if let Some(v) = value {
            if !hdr.has_extension {
                bail!("the image has no SHYPEXT1 extension header, cannot set {what}");
            }
            put(&mut bytes, off, &v.to_le_bytes(), "image")?;
        }
    }
    let config_at = u64::from(sys.max_cpus())
        .checked_mul(hdr.percpu_size)
        .and_then(|p| p.checked_add(hdr.core_size))
        .and_then(|c| usize::try_from(c).ok())
        .ok_or_else(|| anyhow::anyhow!("image header sizes overflow"))?;
    let total = config_at as u64 + config.len() as u64;
    if image.len() as u64 >= sys.hv_size || total > sys.hv_size {
        bail!(
            "hypervisor memory ({:#x} bytes) too small: image {:#x}, image + per-CPU + config {total:#x}",
            sys.hv_size,
            image.len()
        );
    }
    bytes.resize(config_at, 0);
    bytes.extend_from_slice(config);
    Ok(BootBlob {
        bytes,
        load_addr: sys.hv_phys_start,
        entry_addr: sys.hv_phys_start + hdr.entry,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image_header::tests::fake_image;
    use crate::le::{u32_at, u64_at};
    use crate::sysconfig::tests::fake_config;

    #[test]
    fn places_counts_padding_and_config_like_the_driver() {
        let cfg = fake_config(0b1111);
        let args = BootArgs {
            root_boot_arg: Some(0x4000_0000),
            boot_bundle: Some(0x4800_0000),
        };
        let blob = build(&fake_image(true), &cfg, args).unwrap();
        assert_eq!(u32_at(&blob.bytes, 48, "t").unwrap(), 4);
        assert_eq!(u32_at(&blob.bytes, 52, "t").unwrap(), 4);
        assert_eq!(u64_at(&blob.bytes, 104, "t").unwrap(), 0x4000_0000);
        assert_eq!(u64_at(&blob.bytes, 112, "t").unwrap(), 0x4800_0000);
        // core 0x2000 + 4 CPUs * 0x1000
        assert_eq!(&blob.bytes[0x6000..], cfg.as_slice());
        assert!(blob.bytes[0x1000..0x6000].iter().all(|&b| b == 0));
        assert_eq!(blob.load_addr, 0x7fc0_0000);
        assert_eq!(blob.entry_addr, 0x7fc0_0800);
    }

    #[test]
    fn leaves_boot_args_alone_when_not_given_and_refuses_them_without_extension() {
        let blob = build(&fake_image(true), &fake_config(1), BootArgs::default()).unwrap();
        assert_eq!(u64_at(&blob.bytes, 112, "t").unwrap(), 0);
        assert_eq!(u32_at(&blob.bytes, 48, "t").unwrap(), 1);
        let args = BootArgs {
            boot_bundle: Some(1),
            ..BootArgs::default()
        };
        assert!(build(&fake_image(false), &fake_config(1), args).is_err());
    }

    #[test]
    fn refuses_when_hypervisor_memory_is_too_small() {
        let mut cfg = fake_config(1);
        cfg[28..36].copy_from_slice(&0x2000u64.to_le_bytes());
        assert!(build(&fake_image(true), &cfg, BootArgs::default()).is_err());
    }
}

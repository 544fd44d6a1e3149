//! The fields of the hypervisor image header xtask needs (jailhouse-abi.md §1,
//! contracts.md "Extension header").

use crate::le::u64_at;
use anyhow::{bail, Result};

pub const SIGNATURE: &[u8; 8] = b"JAILHOUS";
pub const EXT_MAGIC: &[u8; 8] = b"SHYPEXT1";
pub const OFF_MAX_CPUS: usize = 48;
pub const OFF_ONLINE_CPUS: usize = 52;
pub const OFF_EXT_MAGIC: usize = 80;
pub const OFF_ROOT_BOOT_ARG: usize = 104;
pub const OFF_BOOT_BUNDLE: usize = 112;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageHeader {
    pub core_size: u64,
    pub percpu_size: u64,
    /// Offset of the entry from the image start.
    pub entry: u64,
    /// True when the sysHyper extension header follows the Jailhouse one.
    pub has_extension: bool,
}

impl ImageHeader {
    pub fn parse(image: &[u8]) -> Result<Self> {
        const W: &str = "hypervisor image header";
        if image.get(..8) != Some(SIGNATURE.as_slice()) {
            bail!("hypervisor image does not start with \"JAILHOUS\"");
        }
        let h = ImageHeader {
            core_size: u64_at(image, 8, W)?,
            percpu_size: u64_at(image, 16, W)?,
            entry: u64_at(image, 24, W)?,
            has_extension: image.get(OFF_EXT_MAGIC..OFF_EXT_MAGIC + 8)
                == Some(EXT_MAGIC.as_slice()),
        };
        if h.core_size == 0
            || !h.core_size.is_multiple_of(4096)
            || !h.percpu_size.is_multiple_of(4096)
        {
            bail!(
                "{W}: core_size {:#x} / percpu_size {:#x} are not page multiples",
                h.core_size,
                h.percpu_size
            );
        }
        if h.entry >= image.len() as u64 {
            bail!(
                "{W}: entry offset {:#x} lies outside the {}-byte image",
                h.entry,
                image.len()
            );
        }
        if h.core_size < image.len() as u64 {
            bail!(
                "{W}: core_size {:#x} is smaller than the image ({} bytes)",
                h.core_size,
                image.len()
            );
        }
        Ok(h)
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A minimal valid image: header, extension, entry at 0x800, 8 KiB core, 4 KiB per CPU.
    pub fn fake_image(with_ext: bool) -> Vec<u8> {
        let mut img = vec![0u8; 0x1000];
        img[..8].copy_from_slice(SIGNATURE);
        img[8..16].copy_from_slice(&0x2000u64.to_le_bytes());
        img[16..24].copy_from_slice(&0x1000u64.to_le_bytes());
        img[24..32].copy_from_slice(&0x800u64.to_le_bytes());
        if with_ext {
            img[80..88].copy_from_slice(EXT_MAGIC);
        }
        img
    }

    #[test]
    fn parses_a_valid_header() {
        let h = ImageHeader::parse(&fake_image(true)).unwrap();
        assert_eq!(
            h,
            ImageHeader {
                core_size: 0x2000,
                percpu_size: 0x1000,
                entry: 0x800,
                has_extension: true
            }
        );
        assert!(
            !ImageHeader::parse(&fake_image(false))
                .unwrap()
                .has_extension
        );
    }

    #[test]
    fn refuses_bad_signature_short_image_and_bad_sizes() {
        let mut img = fake_image(true);
        img[0] = b'X';
        assert!(ImageHeader::parse(&img).is_err());
        assert!(ImageHeader::parse(&fake_image(true)[..20]).is_err());
        let mut img = fake_image(true);
        img[8..16].copy_from_slice(&0x1234u64.to_le_bytes());
        assert!(ImageHeader::parse(&img).is_err());
        let mut img = fake_image(true);
        img[24..32].copy_from_slice(&0x5000u64.to_le_bytes());
        assert!(ImageHeader::parse(&img).is_err());
    }
}

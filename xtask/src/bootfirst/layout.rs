//! Where the boot-first Linux pieces go in guest-physical memory, checked
//! against the arm64 boot protocol and against each other.
//!
//! QEMU's own device tree sits at 0x4000_0000..0x4010_0000 even without
//! `-kernel`; the bundle of boot cells at 0x4800_0000..0x4c00_0000
//! (contracts.md); Linux with `mem=768M` owns RAM below 0x7000_0000.

use crate::bundle;
use crate::le::{u32_at, u64_at};
use anyhow::{bail, Result};

/// The device tree handed to Linux (x0 of the root's first CPU).
pub const DTB_ADDR: u64 = 0x4400_0000;
/// The arm64 boot protocol caps the device tree at 2 MiB.
pub const DTB_MAX: u64 = 2 << 20;
/// The initramfs, right above the bundle's 64 MiB.
pub const INITRD_ADDR: u64 = bundle::LOAD_ADDR + bundle::MAX_SIZE as u64;
/// End of the RAM Linux may use (`mem=768M` from 0x4000_0000).
pub const LINUX_RAM_END: u64 = 0x7000_0000;
/// Top of QEMU's own device tree, which nothing may overwrite.
const QEMU_DTB_END: u64 = 0x4010_0000;

const IMAGE_MAGIC: u32 = 0x644d_5241; // "ARM\x64"

/// The fields of the arm64 Image header that decide placement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelImage {
    pub text_offset: u64,
    /// Bytes the kernel occupies from its load address, BSS included.
    pub image_size: u64,
}

impl KernelImage {
    pub fn parse(image: &[u8]) -> Result<Self> {
        const W: &str = "kernel Image header";
        if u32_at(image, 56, W)? != IMAGE_MAGIC {
            bail!("not an arm64 Linux Image (no \"ARM\\x64\" magic at offset 56)");
        }
        let image_size = u64_at(image, 16, W)?;
        if image_size == 0 {
            bail!("the kernel Image header gives no image_size (kernel older than 3.17?)");
        }
        Ok(KernelImage {
            text_offset: u64_at(image, 8, W)?,
            image_size,
        })
    }
}

/// Physical addresses of everything loaded for Linux.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub kernel: u64,
    pub dtb: u64,
    pub initrd: u64,
    pub initrd_end: u64,
}

/// Places the kernel at `entry` (the root cell's cpu_reset_address, where its
/// first CPU starts) and checks that nothing overlaps.
pub fn plan(entry: u64, kernel: KernelImage, dtb_len: u64, initrd_len: u64) -> Result<Layout> {
    let base = entry.checked_sub(kernel.text_offset).unwrap_or(1);
    if !base.is_multiple_of(2 << 20) {
        bail!(
            "the root cell's cpu_reset_address {entry:#x} minus the Image's text_offset {:#x} \
             must be 2 MiB aligned (arm64 boot protocol)",
            kernel.text_offset
        );
    }
    if entry < QEMU_DTB_END {
        bail!(
            "the kernel at {entry:#x} would overwrite QEMU's device tree below {QEMU_DTB_END:#x}"
        );
    }
    if dtb_len > DTB_MAX {
        bail!("the device tree ({dtb_len} bytes) exceeds the arm64 limit of 2 MiB");
    }
    let initrd_end = INITRD_ADDR.saturating_add(initrd_len);
    let pieces = [
        (
            "kernel Image (image_size)",
            entry,
            entry.saturating_add(kernel.image_size),
        ),
        ("device tree", DTB_ADDR, DTB_ADDR + DTB_MAX),
        ("boot bundle", bundle::LOAD_ADDR, INITRD_ADDR),
        ("initramfs", INITRD_ADDR, initrd_end),
    ];
    for (i, a) in pieces.iter().enumerate() {
        for b in &pieces[i + 1..] {
            if a.1 < b.2 && b.1 < a.2 {
                bail!(
                    "{} {:#x}..{:#x} overlaps the {} {:#x}..{:#x}",
                    a.0,
                    a.1,
                    a.2,
                    b.0,
                    b.1,
                    b.2
                );
            }
        }
    }
    if initrd_end > LINUX_RAM_END {
        bail!(
            "the initramfs ({initrd_len} bytes at {INITRD_ADDR:#x}) runs past Linux's RAM end {LINUX_RAM_END:#x}"
        );
    }
    Ok(Layout {
        kernel: entry,
        dtb: DTB_ADDR,
        initrd: INITRD_ADDR,
        initrd_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(text_offset: u64, image_size: u64) -> Vec<u8> {
        let mut h = vec![0u8; 64];
        h[8..16].copy_from_slice(&text_offset.to_le_bytes());
        h[16..24].copy_from_slice(&image_size.to_le_bytes());
        h[56..60].copy_from_slice(b"ARM\x64");
        h
    }

    #[test]
    fn reads_the_image_header() {
        // Debian 6.1: text_offset 0, image_size 0x2010000.
        let k = KernelImage::parse(&header(0, 0x201_0000)).unwrap();
        assert_eq!(
            k,
            KernelImage {
                text_offset: 0,
                image_size: 0x201_0000
            }
        );
        let mut bad = header(0, 1);
        bad[56] = b'X';
        assert!(KernelImage::parse(&bad).is_err());
        assert!(KernelImage::parse(&header(0, 0)).is_err());
        assert!(KernelImage::parse(&header(0, 1)[..40]).is_err());
    }

    #[test]
    fn plans_the_debian_kernel_at_the_root_reset_address() {
        let k = KernelImage {
            text_offset: 0,
            image_size: 0x201_0000,
        };
        let l = plan(0x4020_0000, k, 0x10_0000, 11 << 20).unwrap();
        assert_eq!(
            l,
            Layout {
                kernel: 0x4020_0000,
                dtb: 0x4400_0000,
                initrd: 0x4c00_0000,
                initrd_end: 0x4cb0_0000
            }
        );
    }

    #[test]
    fn refuses_misalignment_overlap_and_overflow() {
        let k = KernelImage {
            text_offset: 0,
            image_size: 0x201_0000,
        };
        assert!(
            plan(0x4030_0000, k, 0x1000, 0x1000).is_err(),
            "not 2 MiB aligned"
        );
        assert!(plan(
            0x4020_0000,
            KernelImage {
                text_offset: 0x8_0000,
                ..k
            },
            0x1000,
            0x1000
        )
        .is_err());
        assert!(plan(
            0x4028_0000,
            KernelImage {
                text_offset: 0x8_0000,
                ..k
            },
            0x1000,
            0x1000
        )
        .is_ok());
        assert!(
            plan(0x4000_0000, k, 0x1000, 0x1000).is_err(),
            "over QEMU's DTB"
        );
        let huge = KernelImage {
            text_offset: 0,
            image_size: 0x400_0000,
        };
        assert!(
            plan(0x4020_0000, huge, 0x1000, 0x1000).is_err(),
            "kernel BSS over the DTB"
        );
        assert!(plan(0x4020_0000, k, DTB_MAX + 1, 0x1000).is_err());
        assert!(
            plan(0x4020_0000, k, 0x1000, 0x2500_0000).is_err(),
            "initramfs past mem=768M"
        );
        assert!(plan(
            0x4020_0000,
            KernelImage {
                text_offset: u64::MAX,
                ..k
            },
            0x1000,
            0x1000
        )
        .is_err());
    }
}

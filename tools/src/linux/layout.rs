//! Where `cell linux` puts the kernel, the initramfs, the device tree and
//! the boot stub in the cell's RAM (arm64 boot protocol, booting.rst):
//! the kernel at a 2 MiB aligned base plus its text_offset, the device
//! tree 8-byte aligned in a 2 MiB block of its own at the top of RAM,
//! the initramfs page aligned right below it, the stub at the cell's
//! reset address (where the hypervisor starts the cell).

use super::image::Header;
use anyhow::{bail, Result};

pub const MIB2: u64 = 0x20_0000;
const PAGE: u64 = 0x1000;

/// Guest-physical addresses of everything loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    pub stub: u64,
    /// Load address of the Image (its first instruction).
    pub kernel: u64,
    pub kernel_end: u64,
    pub initrd: Option<(u64, u64)>,
    pub dtb: u64,
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    Some(v.checked_add(a - 1)? & !(a - 1))
}

/// Places a kernel with `header`, an initramfs of `initrd_len` bytes (0:
/// none) and a device tree of at most 2 MiB in the RAM region `ram`
/// (guest address, size) holding the reset address `stub`.
pub fn place(ram: (u64, u64), stub: u64, header: &Header, initrd_len: u64) -> Result<Layout> {
    let (base, size) = ram;
    let end = base.checked_add(size).filter(|_| size != 0);
    let Some(end) = end else { bail!("RAM region {base:#x}+{size:#x} is empty or wraps") };
    if stub < base || stub.saturating_add(super::stub::SIZE as u64) > end || !stub.is_multiple_of(8) {
        bail!("the cell's reset address {stub:#x} (where the boot stub goes) must be 8-byte aligned in its RAM {base:#x}-{end:#x}");
    }
    // The kernel's 2 MiB block must not hold the stub's page.
    let mut kbase = align_up(base, MIB2).unwrap_or(u64::MAX);
    if stub >= kbase && stub < kbase.saturating_add(header.text_offset).saturating_add(header.image_size) {
        kbase = align_up(stub + PAGE, MIB2).unwrap_or(u64::MAX);
    }
    let kernel = kbase.saturating_add(header.text_offset);
    let kernel_end = kernel.saturating_add(header.image_size);
    let dtb = (end & !(MIB2 - 1)).saturating_sub(if end % MIB2 == 0 { MIB2 } else { 0 });
    let initrd = if initrd_len == 0 {
        None
    } else {
        let start = dtb.saturating_sub(initrd_len) & !(PAGE - 1);
        Some((start, start + initrd_len))
    };
    let low = initrd.map_or(dtb, |(s, _)| s);
    if kernel_end > low || dtb < base {
        bail!(
            "the kernel ({:#x} bytes), initramfs ({initrd_len:#x} bytes) and device tree do not fit in the cell's RAM {base:#x}-{end:#x}",
            header.image_size
        );
    }
    if (stub..stub + super::stub::SIZE as u64).any(|a| a >= low) {
        bail!("the reset address {stub:#x} lies where the initramfs or device tree go");
    }
    Ok(Layout { stub, kernel, kernel_end, initrd, dtb })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stub_first_kernel_next_block_dtb_at_the_top() {
        let h = Header { text_offset: 0, image_size: 0x200_0000 };
        let l = place((0x7000_0000, 0x800_0000), 0x7000_0000, &h, 0x10_0800).unwrap();
        assert_eq!(l.kernel, 0x7020_0000);
        assert_eq!(l.dtb, 0x77e0_0000);
        assert_eq!(l.initrd, Some((0x77cf_f000, 0x77cf_f000 + 0x10_0800)));
        assert!(l.kernel_end <= l.initrd.unwrap().0);
    }

    #[test]
    fn stub_elsewhere_kernel_at_the_base() {
        let h = Header { text_offset: 0x8_0000, image_size: 0x100_0000 };
        let l = place((0x7000_0000, 0x800_0000), 0x7700_0000, &h, 0).unwrap();
        assert_eq!(l.kernel, 0x7008_0000);
        assert_eq!(l.initrd, None);
    }

    #[test]
    fn refusals() {
        let h = Header { text_offset: 0, image_size: 0x800_0000 };
        assert!(place((0x7000_0000, 0x800_0000), 0x7000_0000, &h, 0).is_err(), "too big");
        let small = Header { text_offset: 0, image_size: 0x10_0000 };
        assert!(place((0x7000_0000, 0x800_0000), 0x6000_0000, &small, 0).is_err(), "stub outside RAM");
        assert!(place((0x7000_0000, 0x800_0000), 0x77f0_0000, &small, 0).is_err(), "stub over the device tree");
    }
}

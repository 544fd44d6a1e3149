//! Sub-page regions: a cell region whose physical or guest address or size
//! is not page aligned. Its page stays unmapped in the cell's stage 2, every
//! access traps, and one that the region's flags allow is performed on the
//! device by the hypervisor, as Jailhouse does:
//! - the access lies wholly inside the region (the table's lookup),
//! - READ (loads) or WRITE (stores) is set,
//! - the width bit IO_8/16/32/64 of its size is set: without any width
//!   bit every access is refused (Jailhouse has no default),
//! - it is naturally aligned, measured from the region's start, unless
//!   IO_UNALIGNED is set.
//!
//! Everything else is "not handled": the cell fails (the root gets an
//! external abort), with the reason on the hypervisor console.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use crate::sysconfig::mem_flags;

use syshyper_config::flags::mem;

/// The region's access may be unaligned (Jailhouse's JAILHOUSE_MEM_IO_UNALIGNED).
pub const IO_UNALIGNED: u64 = mem::IO_UNALIGNED;
/// Width bits: `size << IO_WIDTH_SHIFT` is IO_8 (0x10000), IO_16, IO_32, IO_64 (0x80000).
pub const IO_WIDTH_SHIFT: u32 = 16;
/// All four width bits.
pub const IO_WIDTHS: u64 = mem::IO_8 | mem::IO_16 | mem::IO_32 | mem::IO_64;
const _: () = assert!(mem::IO_8 == 1 << IO_WIDTH_SHIFT && mem::IO_64 == 8 << IO_WIDTH_SHIFT);

/// One sub-page region as its table entry holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubPage {
    /// Physical start of the region (any alignment).
    pub phys: u64,
    /// Bytes.
    pub size: u64,
    /// The region's configuration flags.
    pub flags: u64,
    /// EL2 virtual address of the page holding `phys` (the window).
    pub va: u64,
    /// Pages mapped at `va`.
    pub pages: u64,
}

/// Why an access to a sub-page region is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It does not lie wholly inside the region.
    Outside,
    /// A load without READ or a store without WRITE.
    Direction,
    /// Its width bit is not set.
    Width,
    /// Not naturally aligned and IO_UNALIGNED not set.
    Unaligned,
}

impl core::fmt::Display for Refusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Refusal::Outside => "outside the region",
            Refusal::Direction => "direction not permitted",
            Refusal::Width => "access width not permitted",
            Refusal::Unaligned => "unaligned access not permitted",
        })
    }
}

/// Pages spanned by `size` bytes from `phys`, or `None` on overflow.
pub fn pages_spanned(phys: u64, size: u64) -> Option<u64> {
    let first = phys & !(crate::mm::PAGE_SIZE - 1);
    let end = phys.checked_add(size)?.checked_add(crate::mm::PAGE_SIZE - 1)? & !(crate::mm::PAGE_SIZE - 1);
    Some(end.checked_sub(first)? / crate::mm::PAGE_SIZE)
}

/// The policy: may an access of `size` bytes (1, 2, 4 or 8) at `off` from
/// the region's start, a store if `write`, be forwarded?
pub fn check(flags: u64, region_size: u64, off: u64, size: u8, write: bool) -> Result<(), Refusal> {
    let width = u64::from(size);
    if !matches!(size, 1 | 2 | 4 | 8) || off.checked_add(width).is_none_or(|end| end > region_size) {
        return Err(Refusal::Outside);
    }
    let needed = if write { mem_flags::WRITE } else { mem_flags::READ };
    if flags & needed == 0 {
        return Err(Refusal::Direction);
    }
    if flags & (width << IO_WIDTH_SHIFT) == 0 {
        return Err(Refusal::Width);
    }
    // `width` is 1, 2, 4 or 8 here (checked above).
    if off & width.wrapping_sub(1) != 0 && flags & IO_UNALIGNED == 0 {
        return Err(Refusal::Unaligned);
    }
    Ok(())
}

impl SubPage {
    /// EL2 address of byte `off` of the region.
    pub fn el2_addr(&self, off: u64) -> u64 {
        // `off` was checked against the region's size, and the window maps
        // the region's pages: the sum stays inside the window.
        self.va.wrapping_add(self.phys & (crate::mm::PAGE_SIZE - 1)).wrapping_add(off)
    }
}

/// Performs an allowed access on the device: one access of the guest's
/// width where the physical address is naturally aligned for it, else (an
/// IO_UNALIGNED region, or a region whose physical start is less aligned
/// than its guest start) byte accesses in address order, little endian:
/// device memory faults on unaligned accesses, at EL2 as anywhere.
#[cfg(target_os = "none")]
pub fn forward(sp: &SubPage, off: u64, size: u8, write: Option<u64>) -> u64 {
    use super::device::{read, write as store};
    let va = sp.el2_addr(off);
    let width = u64::from(size);
    if va & width.wrapping_sub(1) == 0 {
        return match write {
            Some(v) => {
                store(va, size, v);
                0
            }
            None => read(va, size),
        };
    }
    let mut value = 0;
    for i in 0..width {
        match write {
            // i < 8: the shifts stay below 64.
            Some(v) => store(va.wrapping_add(i), 1, v.wrapping_shr((i as u32).wrapping_mul(8))),
            None => value |= read(va.wrapping_add(i), 1).wrapping_shl((i as u32).wrapping_mul(8)),
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: u64 = mem_flags::READ;
    const W: u64 = mem_flags::WRITE;
    const SIZES: [u8; 4] = [1, 2, 4, 8];

    fn width_bit(size: u8) -> u64 {
        u64::from(size) << IO_WIDTH_SHIFT
    }

    /// Every width x offset-in-a-word x direction x width-flag set x
    /// unaligned flag, against the rule written out independently.
    #[test]
    fn every_width_alignment_and_flag_combination() {
        let region = 64;
        for widths in 0..16u64 {
            for unaligned in [false, true] {
                for dir in [0, R, W, R | W] {
                    let flags = dir | (widths << IO_WIDTH_SHIFT) | if unaligned { IO_UNALIGNED } else { 0 };
                    for size in SIZES {
                        for off in 0..16u64 {
                            for write in [false, true] {
                                let got = check(flags, region, off, size, write);
                                let dir_ok = if write { dir & W != 0 } else { dir & R != 0 };
                                let want = if !dir_ok {
                                    Err(Refusal::Direction)
                                } else if flags & width_bit(size) == 0 {
                                    Err(Refusal::Width)
                                } else if off % u64::from(size) != 0 && !unaligned {
                                    Err(Refusal::Unaligned)
                                } else {
                                    Ok(())
                                };
                                assert_eq!(got, want, "flags {flags:#x} size {size} off {off} write {write}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn no_width_flag_refuses_everything() {
        for size in SIZES {
            assert_eq!(check(R | W | IO_UNALIGNED, 8, 0, size, false), Err(Refusal::Width));
            assert_eq!(check(R | W | IO_UNALIGNED, 8, 0, size, true), Err(Refusal::Width));
        }
    }

    #[test]
    fn range_edges() {
        let f = R | W | IO_WIDTHS;
        // A 0x1c-byte region: the last word and the last byte are inside.
        assert_eq!(check(f, 0x1c, 0x18, 4, false), Ok(()));
        assert_eq!(check(f, 0x1c, 0x1b, 1, true), Ok(()));
        // One byte past the end, a word reaching past it, a far offset.
        assert_eq!(check(f, 0x1c, 0x1c, 1, false), Err(Refusal::Outside));
        assert_eq!(check(f, 0x1c, 0x18, 8, false), Err(Refusal::Outside));
        assert_eq!(check(f, 0x1c, u64::MAX - 1, 4, false), Err(Refusal::Outside));
        // Outside wins over every other reason.
        assert_eq!(check(0, 4, 4, 4, true), Err(Refusal::Outside));
        // Sizes the syndrome cannot give are refused, not trusted.
        assert_eq!(check(f, 64, 0, 3, false), Err(Refusal::Outside));
    }

    #[test]
    fn alignment_is_measured_from_the_region_start() {
        // As in Jailhouse: the offset, not the address, must be aligned.
        let f = R | width_bit(4);
        assert_eq!(check(f, 8, 4, 4, false), Ok(()));
        assert_eq!(check(f, 8, 2, 4, false), Err(Refusal::Unaligned));
    }

    #[test]
    fn pages_and_window_addresses() {
        assert_eq!(pages_spanned(0x0900_0000, 0x10), Some(1));
        assert_eq!(pages_spanned(0x0900_0ff0, 0x20), Some(2));
        assert_eq!(pages_spanned(0x0900_0040, 0x1000), Some(2));
        assert_eq!(pages_spanned(u64::MAX - 8, 0x10), None);
        let sp = SubPage { phys: 0x0900_0018, size: 8, flags: R, va: 0xffff_e000_0000, pages: 1 };
        assert_eq!(sp.el2_addr(0), 0xffff_e000_0018);
        assert_eq!(sp.el2_addr(4), 0xffff_e000_001c);
    }
}

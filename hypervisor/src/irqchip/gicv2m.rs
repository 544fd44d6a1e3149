//! The GICv2m MSI frame (`arm,gic-v2m-frame`; QEMU virt with
//! `gic-version=2`: 0x08020000, 64 SPIs from INTID 80). Not virtualised:
//! a write of an INTID to its MSI_SETSPI_NS register raises that SPI,
//! whoever writes — a CPU, or a device by DMA, which nothing can trap.
//! So the frame is plain memory of whoever owns every SPI of its range
//! (`cell::owner` enforces it at create: docs/passthrough.md "MSI").
//! This module only learns the range: MSI_TYPER, read once at enable
//! (a read-only register; the configuration's `gicv2m_spi_base/count`,
//! when stated, must agree).

use crate::cell::desc::{Span, SPI_RANGE};
use crate::cell::owner::MsiFrame;

/// MSI_TYPER: bits 25:16 the first SPI's INTID, bits 9:0 how many.
pub const MSI_TYPER: u64 = 0x008;

/// The frame's SPI range from its MSI_TYPER value, if it names a usable
/// one (at least one SPI, all of them SPIs).
pub fn decode_typer(typer: u32) -> Option<core::ops::Range<u32>> {
    let base = (typer >> 16) & 0x3ff;
    let count = typer & 0x3ff;
    let end = base.checked_add(count)?;
    (count > 0 && base >= SPI_RANGE.start && end <= SPI_RANGE.end).then_some(base..end)
}

/// Checks the range read against the one the configuration states
/// (`None`: not stated). Returns the frame to record.
pub fn describe(base: u64, size: u64, typer: u32, stated: Option<(u32, u32)>) -> Result<MsiFrame, &'static str> {
    let spis = decode_typer(typer).ok_or("its MSI_TYPER names no usable SPI range")?;
    if let Some((b, n)) = stated {
        if b != spis.start || b.checked_add(n) != Some(spis.end) {
            return Err("the SPI range the configuration states differs from its MSI_TYPER");
        }
    }
    let start = base & !(crate::mm::PAGE_SIZE - 1);
    let end = crate::mm::page_align_up(base.checked_add(size.max(1)).ok_or("its size wraps around")?);
    Ok(MsiFrame { span: Span { start, end }, spis })
}

#[cfg(target_os = "none")]
mod machine {
    use super::*;
    use crate::sync::Mutex;

    /// EL2 address the frame is read through at enable (between the
    /// interrupt controller's slots and the SMMU's).
    const FRAME_VA: u64 = crate::hv::IO_BASE + 0x700_0000;
    const _: () = assert!(FRAME_VA + 0x10_0000 <= crate::hv::IO_BASE + 0x800_0000);

    static FRAME: Mutex<Option<MsiFrame>> = Mutex::new(None);

    /// The frame recorded at enable, if the system has one.
    pub fn frame() -> Option<MsiFrame> {
        FRAME.lock().clone()
    }

    /// Enable: reads the first GICv2m unit's MSI_TYPER and records its
    /// range (none in the configuration: nothing recorded). Errors are
    /// errnos, with a console line.
    pub fn init(sys: &crate::sysconfig::SystemView<'_>) -> Result<(), i64> {
        use crate::errno::*;
        *FRAME.lock() = None;
        let Some((base, size, stated)) = sys.gicv2m_units().next() else { return Ok(()) };
        if !(1..=0x1_0000).contains(&size) {
            crate::println!("sysHyper: enable refused: GICv2m frame at {base:#x}: size {size:#x} is not usable");
            return Err(-EINVAL);
        }
        let page = base & !(crate::mm::PAGE_SIZE - 1);
        crate::memmap::map_el2_device(FRAME_VA, page, crate::mm::PAGE_SIZE).map_err(|_| -ENOMEM)?;
        crate::arch::tlbi_el2(FRAME_VA, crate::mm::PAGE_SIZE);
        // SAFETY: the frame's first page, just mapped as device memory at
        // EL2; MSI_TYPER is a read-only 32-bit register (reading it has no
        // side effect).
        let typer = unsafe { ((FRAME_VA + (base - page) + MSI_TYPER) as *const u32).read_volatile() };
        let _ = crate::memmap::unmap_el2(FRAME_VA, crate::mm::PAGE_SIZE);
        crate::arch::tlbi_el2(FRAME_VA, crate::mm::PAGE_SIZE);
        match describe(base, size, typer, stated) {
            Ok(f) => {
                crate::println!(
                    "GICv2m MSI frame at {base:#x}: SPIs {}-{} (whoever maps the frame owns all of them)",
                    f.spis.start,
                    f.spis.end - 1
                );
                *FRAME.lock() = Some(f);
                Ok(())
            }
            Err(why) => {
                crate::println!("sysHyper: enable refused: GICv2m frame at {base:#x} (MSI_TYPER {typer:#x}): {why}");
                Err(-EINVAL)
            }
        }
    }
}

#[cfg(target_os = "none")]
pub use machine::{frame, init};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_virt_typer() {
        // QEMU virt: (48 + 32) << 16 | 64.
        assert_eq!(decode_typer(80 << 16 | 64), Some(80..144));
        assert_eq!(decode_typer(80 << 16), None);
        assert_eq!(decode_typer(16 << 16 | 4), None);
        assert_eq!(decode_typer(1000 << 16 | 64), None);
    }

    #[test]
    fn stated_range_must_agree() {
        let f = describe(0x0802_0000, 0x1000, 80 << 16 | 64, Some((80, 64))).unwrap();
        assert_eq!((f.span.start, f.span.end, f.spis), (0x0802_0000, 0x0802_1000, 80..144));
        assert!(describe(0x0802_0000, 0x1000, 80 << 16 | 64, Some((80, 32))).is_err());
        assert!(describe(0x0802_0000, 0x1000, 80 << 16 | 64, Some((96, 64))).is_err());
        assert!(describe(0x0802_0000, 0x1000, 80 << 16 | 64, None).is_ok());
    }
}

//! MSIs of cells' passed-through PCI devices through the GICv3 ITS the
//! hypervisor owns (system configuration: an `iommu` unit of type
//! `gicv3_its`; docs/passthrough.md "MSI").
//!
//! The scheme ("MBI"): a cell sees a GICv3 whose distributor reports
//! message-based SPIs (GICD_TYPER.MBIS) with the ITS's GITS_TRANSLATER as
//! doorbell, mapped into its stage 2 at its physical address (so the
//! device's write passes the SMMU, which walks the same stage 2). A
//! device's MSI is a write of an SPI number e to the doorbell. For every
//! device of the cell with a listed MSI/MSI-X capability the hypervisor
//! maps (MAPD) the device's DeviceID (its requester ID) and, for every
//! SPI e the cell owns, EventID e to LPI 8192 + e (MAPTI) on the
//! collection of the cell's first CPU. EventIDs not mapped, and
//! DeviceIDs not mapped (the cell's CPU writing the doorbell reaches the
//! ITS as DeviceID 0 on QEMU, which is never mapped), are dropped by the
//! ITS: a device can raise exactly its cell's SPIs. The LPI traps to EL2
//! like any physical interrupt; [`forward_lpi`] sets SPI e pending in the
//! distributor, which then takes the normal path to its owner.
//!
//! Lazily set up: the first cell with an MSI device brings the ITS up
//! (refused if the root's Linux enabled it or LPIs: its device-tree node
//! must be disabled), and LPIs are turned on only at the redistributors
//! of such cells' first CPUs. Configurations without MSI cells never
//! touch LPIs.

extern crate alloc;

pub mod cmd;
pub mod regs;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod unit;

#[cfg(target_os = "none")]
mod live;
#[cfg(target_os = "none")]
pub use live::*;

use core::sync::atomic::{AtomicU64, Ordering};

/// The ITS's physical base from the system configuration (0: none).
static BASE: AtomicU64 = AtomicU64::new(0);

/// Records the configuration's ITS (nothing of it is touched until a
/// cell needs it).
pub fn configure(base: u64) {
    BASE.store(base, Ordering::Release);
}

/// (base, size) of the ITS, if the system has one.
pub fn region() -> Option<(u64, u64)> {
    let b = BASE.load(Ordering::Acquire);
    (b != 0).then_some((b, syshyper_config::flags::iommu::GICV3_ITS_SIZE))
}

/// The 4 KiB page holding GITS_TRANSLATER, mapped 1:1 (IPA = PA) into
/// the stage 2 of cells with MSI devices.
pub fn doorbell_page() -> Option<u64> {
    region().map(|(b, _)| b + regs::TRANSLATION_FRAME)
}

/// The SPI an LPI forwards to, if it is one of the forwarding range.
pub fn spi_of_lpi(intid: u32) -> Option<u32> {
    let e = intid.checked_sub(8192)?;
    (32..1020).contains(&e).then_some(e)
}

/// EventID bits an ITT needs for events up to `max_event`.
pub fn event_bits(max_event: u32) -> u32 {
    (32 - max_event.leading_zeros()).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lpi_numbering() {
        assert_eq!(spi_of_lpi(8192 + 224), Some(224));
        assert_eq!(spi_of_lpi(8192 + 31), None);
        assert_eq!(spi_of_lpi(8192 + 1020), None);
        assert_eq!(spi_of_lpi(1019), None);
        assert_eq!(event_bits(224), 8);
        assert_eq!(event_bits(255), 8);
        assert_eq!(event_bits(256), 9);
        assert_eq!(event_bits(1019), 10);
    }
}

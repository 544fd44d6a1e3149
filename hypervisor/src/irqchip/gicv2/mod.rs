//! GICv2 (GIC-400 and QEMU's `virt,gic-version=2`): the distributor
//! emulation policy with per-cell filtering (`dist`: ITARGETSR instead of
//! IROUTER, GICD_SGIR with target filtering) and the GICH list-register
//! encoding (`lr`), pure and host-tested; on the target the physical
//! driver (`phys`: GICC at EL2 with EOImode 1, GICH, SPI hand-over by
//! ITARGETSR), the interrupt path (`inject`) and the `IrqChip`
//! implementation (`chip`). A cell's GICC address shows the virtual CPU
//! interface (GICV), mapped by the ownership code from
//! `irqchip::cell_mapping`.

pub mod dist;
pub mod lr;
#[cfg(target_os = "none")]
mod chip;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod inject;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod phys;
#[cfg(target_os = "none")]
pub use chip::{access, GicV2};
#[cfg(target_os = "none")]
pub use phys::{arch_rev, cpu_interface_arch};

/// Bytes of the CPU interface (GICC) and of its virtual twin (GICV): two
/// pages, GICC_DIR in the second.
pub const GICC_SIZE: u64 = 0x2000;
/// Bytes of the virtual interface control (GICH).
pub const GICH_SIZE: u64 = 0x1000;
/// The SGI the hypervisor uses to reach a CPU running a cell.
pub const MGMT_SGI: u32 = 15;
/// The maintenance interrupt (PPI 9 = INTID 25 on GIC-400 and QEMU).
pub const MAINTENANCE_IRQ: u32 = 25;
/// The banked interrupts the hypervisor keeps for itself.
pub const HV_PRIVATE: u32 = (1 << MGMT_SGI) | (1 << MAINTENANCE_IRQ);

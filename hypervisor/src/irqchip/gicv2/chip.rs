//! GICv2 as the `IrqChip` implementation: the interface's calls mapped to
//! this directory's functions, and the numbering of its regions.

use super::{inject, phys};
use crate::irqchip::{IrqChip, IrqOutcome, Setup};
use crate::percpu::PerCpu;

/// The GICv2 implementation (state in the hardware, `phys`'s statics and
/// the per-CPU areas).
pub struct GicV2;

/// Region 0 of [`crate::irqchip::Chip::regions`] for GICv2; GICC (1),
/// GICH (2) and GICV (3) are never a cell's to access (GICV is mapped at
/// the GICC address instead), so their traps are refused.
const GICD: usize = 0;

// Every method out of line: `irqchip`'s dispatch tests GICv3 first and
// keeps its fast paths free of GICv2 code (see the `dispatch` macro).
impl IrqChip for GicV2 {
    #[inline(never)]
    fn init_global(&self, s: &Setup) {
        let [dva, cva, hva, _] = s.va;
        phys::init_global(dva, cva, hva, s.boot_first);
    }
    #[inline(never)]
    fn init_cpu(&self, cpu: &PerCpu, boot_first: bool) -> bool {
        phys::init_cpu(cpu, boot_first)
    }
    #[inline(never)]
    fn cpu_taken(&self, cpu: &PerCpu) -> bool {
        phys::iface(cpu).is_some()
    }
    #[inline(never)]
    fn hand_back(&self) {
        inject::hand_back()
    }
    #[inline(never)]
    fn handle_irq(&self, cpu: &PerCpu, _acked: u32) -> IrqOutcome {
        // No fast path on GICv2 (irq_fast stays 0): never acknowledged.
        inject::handle_irq(cpu)
    }
    #[inline(never)]
    fn inject(&self, intid: u32, hw: bool) {
        inject::inject(intid, hw)
    }
    #[inline(never)]
    fn kick(&self, target: &PerCpu) {
        inject::kick(target)
    }
    #[inline(never)]
    fn inject_virtual(&self, target: &PerCpu, intid: u32) {
        inject::inject_virtual(target, intid)
    }
    #[inline(never)]
    fn spi_route(&self, irq: u32) -> u64 {
        phys::spi_route(irq)
    }
    #[inline(never)]
    fn emulate_sgi(&self, _value: u64) {
        // GICv2 cells send SGIs through GICD_SGIR (`access`); a GICv3
        // system-register SGI write does not exist here.
    }
    #[inline(never)]
    fn assign_spi(&self, irq: u32, cell: u8, target_mpidr: u64) {
        phys::assign_spi(irq, cell, target_mpidr)
    }
    #[inline(never)]
    fn release_spi(&self, irq: u32) {
        phys::release_spi(irq)
    }
    #[inline(never)]
    fn reset_cpu(&self) {
        phys::reset_cpu()
    }
    #[inline(never)]
    fn access(&self, region: usize, cell: u8, off: u64, size: u8, write: Option<u64>) -> Result<u64, ()> {
        access(cell, off, size, write, region)
    }
}

/// [`IrqChip::access`] with the region last (see `irqchip::access`).
#[inline(never)]
#[allow(clippy::result_unit_err)]
pub fn access(cell: u8, off: u64, size: u8, write: Option<u64>, region: usize) -> Result<u64, ()> {
    match region {
        GICD => phys::gicd_access(cell, off, size, write),
        _ => Err(()),
    }
}

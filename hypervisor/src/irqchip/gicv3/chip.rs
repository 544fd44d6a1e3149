//! GICv3 as the `IrqChip` implementation: the interface's calls mapped to
//! this directory's functions, and the numbering of its regions.

use super::{emulate, inject, phys};
use crate::irqchip::{IrqChip, IrqOutcome, Setup};
use crate::percpu::PerCpu;
use core::sync::atomic::Ordering;

/// The GICv3 implementation (state lives in the hardware, `phys`'s
/// statics and the per-CPU areas).
pub struct GicV3;

/// Region 0 of [`crate::irqchip::Chip::regions`] for GICv3.
const GICD: usize = 0;
/// Region 1: the redistributor frames.
const GICR: usize = 1;

impl IrqChip for GicV3 {
    fn init_global(&self, s: &Setup) {
        let [d, r, ..] = s.regions.slots();
        let [dva, rva, ..] = s.va;
        phys::init_global(d.base, r.base, s.max_cpus, dva, rva, s.boot_first);
    }
    fn init_cpu(&self, cpu: &PerCpu, boot_first: bool) -> bool {
        phys::init_cpu(cpu, boot_first)
    }
    fn cpu_taken(&self, cpu: &PerCpu) -> bool {
        // `init_cpu` records the redistributor frame it found.
        cpu.gicr_frame.load(Ordering::Relaxed) != u32::MAX
    }
    fn hand_back(&self) {
        inject::hand_back()
    }
    #[inline(always)]
    fn handle_irq(&self, cpu: &PerCpu, acked: u32) -> IrqOutcome {
        inject::handle_irq(cpu, acked)
    }
    fn inject(&self, intid: u32, hw: bool) {
        inject::inject(intid, hw)
    }
    fn kick(&self, target: &PerCpu) {
        if super::direct::is_direct(target) {
            return super::direct::kick(target);
        }
        inject::kick(target)
    }
    fn inject_virtual(&self, target: &PerCpu, intid: u32) {
        inject::inject_virtual(target, intid)
    }
    fn spi_route(&self, irq: u32) -> u64 {
        phys::spi_route(irq)
    }
    fn emulate_sgi(&self, value: u64) {
        inject::emulate_sgi(value)
    }
    fn assign_spi(&self, irq: u32, cell: u8, target_mpidr: u64) {
        phys::assign_spi(irq, cell, target_mpidr)
    }
    fn release_spi(&self, irq: u32) {
        phys::release_spi(irq)
    }
    fn reset_cpu(&self) {
        phys::reset_cpu()
    }
    fn access(&self, region: usize, cell: u8, off: u64, size: u8, write: Option<u64>) -> Result<u64, ()> {
        match region {
            GICD => emulate::gicd_access(cell, off, size, write),
            GICR => emulate::gicr_access(cell, off, size, write),
            _ => Err(()),
        }
    }
}

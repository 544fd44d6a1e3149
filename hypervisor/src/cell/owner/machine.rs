//! The target's half of the ownership module: the real machine behind
//! [`Hw`] (pool pages and tables through the EL2 linear map, cache
//! maintenance by VA, the GICv3 distributor) and the one ledger.

use super::ledger::Ledger;
use super::Hw;
use crate::memmap::PoolMem;
use crate::mm::paging::{TableMemory, TlbScope};
use crate::mm::PhysAddr;
use crate::sync::Mutex;

/// Memory owned by non-root cells. Lock order: management lock, cell
/// list, ledger.
pub static LEDGER: Mutex<Ledger> = Mutex::new(Ledger::new());

/// The machine.
#[derive(Debug)]
pub struct Machine;

impl TableMemory for Machine {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        PoolMem.alloc_table()
    }
    fn free_table(&mut self, t: PhysAddr) {
        PoolMem.free_table(t)
    }
    fn read(&self, t: PhysAddr, i: usize) -> u64 {
        PoolMem.read(t, i)
    }
    fn write(&mut self, t: PhysAddr, i: usize, v: u64) {
        PoolMem.write(t, i, v)
    }
    fn invalidate(&mut self, scope: TlbScope, va: u64, size: u64) {
        PoolMem.invalidate(scope, va, size)
    }
}

impl Hw for Machine {
    fn clean_inval(&mut self, pa: PhysAddr, size: u64) {
        let Some(hv) = crate::hv::get() else { return };
        if pa >= hv.phys_base && pa.saturating_add(size) <= hv.phys_base + hv.hv_size {
            // Hypervisor memory (a comm page): through the linear map.
            crate::arch::dcache_clean_inval(hv.phys_to_virt(pa), size);
        } else {
            // The window has its own table page: mapping through it never
            // allocates, so this cannot fail for lack of memory.
            crate::memmap::clean_inval_phys(pa, size);
        }
    }
    fn icache_inval(&mut self) {
        crate::arch::icache_inval_all();
    }
    fn spi_owner(&self, irq: u32) -> Option<u8> {
        crate::irqchip::owner(irq)
    }
    fn assign_spi(&mut self, irq: u32, cell: u8, target_mpidr: u64) {
        crate::irqchip::assign_spi(irq, cell, target_mpidr);
    }
    fn release_spi(&mut self, irq: u32) {
        crate::irqchip::release_spi(irq);
    }
    fn adopt_spi(&mut self, irq: u32) {
        crate::irqchip::set_owner(irq, 0);
    }
    fn chip_mapping(&self) -> Option<(u64, u64, u64)> {
        crate::irqchip::cell_mapping()
    }
    fn msi_doorbell(&self, desc: &crate::cell::desc::CellDesc) -> Option<PhysAddr> {
        if desc.has_msi() { crate::irqchip::gicv3::its::doorbell_page() } else { None }
    }
    fn dma_mirror(&self) -> bool {
        crate::iommu::present() && crate::iommu::needs_mirror()
    }
    fn stream_owner(&self, sid: u32) -> Option<u32> {
        crate::iommu::stream_owner(sid)
    }
    fn prepare_stream(&mut self, sid: u32) -> crate::error::Result<()> {
        crate::iommu::prepare_stream(sid)
    }
    fn release_stream_room(&mut self, sids: &[u32]) {
        crate::iommu::release_unused_streams(sids);
    }
    fn assign_stream(&mut self, sid: u32, d: crate::iommu::DmaDomain) {
        crate::iommu::assign_stream(sid, d);
    }
    fn abort_stream(&mut self, sid: u32) {
        crate::iommu::abort_stream(sid);
    }
}

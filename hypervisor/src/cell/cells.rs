//! The cell list and what a cell is made of.

extern crate alloc;

use crate::memmap::{OwnedTable, PoolPage};
use crate::sync::Mutex;
use crate::sysconfig::CellView;
use alloc::vec::Vec;

/// Jailhouse cell states (CELL_GET_STATE).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CellState {
    Running = 0,
    RunningLocked = 1,
    ShutDown = 2,
    Failed = 3,
}

/// One cell.
#[derive(Debug)]
pub struct Cell {
    pub id: u32,
    pub vmid: u16,
    /// Bit n set: CPU n belongs to this cell.
    pub cpus: u64,
    pub state: CellState,
    pub flags: u32,
    /// The validated description, parsed once at create.
    pub desc: super::desc::CellDesc,
    pub stage2: OwnedTable,
    /// The stage-1 DMA mirror of `stage2`, when the SMMU has no stage 2
    /// and the cell has streams (the root: always, with such an SMMU).
    pub dma: Option<OwnedTable>,
    /// The comm region page (non-root cells).
    pub comm: Option<PoolPage>,
    /// Trapped MMIO regions and their handlers (GIC, sub-page regions,
    /// the virtual PCI host's ECAM).
    pub mmio: crate::mmio::Table,
    /// Starts and restarts (`cell list`).
    pub lifecycle: super::shutdown::Lifecycle,
}

impl Cell {
    /// The root cell's configuration (the system configuration the
    /// hypervisor keeps for its lifetime); cells keep only their
    /// description.
    pub fn view(&self) -> Option<CellView<'static>> {
        if self.id != 0 {
            return None;
        }
        let config = crate::hv::get().map(|h| h.config)?;
        crate::sysconfig::SystemView::parse(config).ok().map(|s| s.root())
    }
}

/// The cells; index 0 is the root cell.
pub static CELLS: Mutex<Vec<Cell>> = Mutex::new(Vec::new());

/// Whether `ipa` is mapped in the stage 2 of cell `id` (waits for a
/// hand-over in progress, which holds the list lock).
pub fn translates(id: u32, ipa: u64) -> bool {
    CELLS.lock().iter().find(|c| c.id == id).is_some_and(|c| c.stage2.translate(ipa).is_some())
}

/// Activates the stage-2 table of the cell this CPU belongs to.
#[cfg(target_os = "none")]
pub fn activate_for_this_cpu() {
    let id = crate::percpu::this_cpu().cell.load(core::sync::atomic::Ordering::Relaxed);
    if let Some(c) = CELLS.lock().iter().find(|c| c.id == id) {
        crate::arch::activate_stage2(c.stage2.root(), c.vmid, true);
        // A cell asking for direct interrupt delivery (never the root).
        if id != 0 && c.flags & syshyper_config::flags::cell::DIRECT_IRQS != 0 {
            crate::irqchip::enter_direct(crate::percpu::this_cpu());
        }
    }
}

/// PSCI SYSTEM_OFF/RESET from a non-root cell: stops this CPU only and
/// marks the cell shut down; the root decides what happens next.
#[cfg(target_os = "none")]
pub fn stop_this_cell(frame: &mut crate::trap::TrapFrame) -> i64 {
    let cpu = crate::percpu::this_cpu();
    let id = cpu.cell.load(core::sync::atomic::Ordering::Relaxed);
    // Its ivshmem peers see it go, before anyone can see it shut down.
    crate::ivshmem::stop(id);
    if let Some(c) = CELLS.lock().iter_mut().find(|c| c.id == id) {
        c.set_state(CellState::ShutDown);
    }
    cpu.set_state(crate::percpu::CpuState::Off);
    crate::trap::park(frame);
    frame.x[0] as i64
}

//! The cell list and what a cell is made of.

extern crate alloc;

use crate::memmap::{OwnedTable, PoolPage};
use crate::mm::paging::{Attrs, MapError, MemType};
use crate::sync::Mutex;
use crate::sysconfig::{mem_flags, CellView, MemRegion};
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
    /// The comm region page (non-root cells).
    pub comm: Option<PoolPage>,
    /// Trapped MMIO regions and their handlers (GIC, sub-page regions).
    pub mmio: crate::mmio::Table,
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

/// Stage-2 attributes for a configured region.
pub fn region_attrs(flags: u64) -> Attrs {
    Attrs {
        read: flags & mem_flags::READ != 0,
        write: flags & mem_flags::WRITE != 0,
        exec: flags & mem_flags::EXECUTE != 0,
        mem: if flags & mem_flags::IO != 0 { MemType::Device } else { MemType::Normal },
    }
}

/// Whether a region can be mapped directly (page aligned); sub-page regions
/// are trapped and emulated instead.
pub fn is_page_region(r: &MemRegion) -> bool {
    (r.phys_start | r.virt_start | r.size) & 0xfff == 0 && r.size != 0
}

/// Maps the root cell's regions 1:1 (guest-physical = virt_start).
pub fn map_regions(table: &mut OwnedTable, view: &CellView<'_>) -> Result<(), MapError> {
    for r in view.memory_regions() {
        if r.flags & mem_flags::COMM_REGION != 0 || !is_page_region(&r) {
            continue;
        }
        table.map(r.virt_start, r.phys_start, r.size, region_attrs(r.flags))?;
    }
    Ok(())
}

/// Activates the stage-2 table of the cell this CPU belongs to.
#[cfg(target_os = "none")]
pub fn activate_for_this_cpu() {
    let id = crate::percpu::this_cpu().cell.load(core::sync::atomic::Ordering::Relaxed);
    if let Some(c) = CELLS.lock().iter().find(|c| c.id == id) {
        crate::arch::activate_stage2(c.stage2.root(), c.vmid, true);
    }
}

/// PSCI SYSTEM_OFF/RESET from a non-root cell: stops this CPU only and
/// marks the cell shut down; the root decides what happens next.
#[cfg(target_os = "none")]
pub fn stop_this_cell(frame: &mut crate::trap::TrapFrame) -> i64 {
    let cpu = crate::percpu::this_cpu();
    let id = cpu.cell.load(core::sync::atomic::Ordering::Relaxed);
    if let Some(c) = CELLS.lock().iter_mut().find(|c| c.id == id) {
        c.state = CellState::ShutDown;
    }
    cpu.set_state(crate::percpu::CpuState::Off);
    crate::trap::park(frame);
    frame.x[0] as i64
}

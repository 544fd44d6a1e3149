//! Cell management hypercalls: create, set loadable, start, destroy, get
//! state, and disable. Serialised by one management lock; every check runs
//! before any state changes, so a refused call leaves nothing behind.

extern crate alloc;

use super::{is_page_region, region_attrs, Cell, CellState, CELLS};
use crate::errno::*;
use crate::gic;
use crate::guestmem;
use crate::memmap::{OwnedTable, PoolPage};
use crate::percpu::{percpu, this_cpu, CpuState, PerCpu};
use crate::sync::Mutex;
use crate::sysconfig::{mem_flags, CellView, MemRegion};
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// Most pages a cell configuration may occupy.
const MAX_CONFIG_PAGES: u64 = 16;
const CELL_FLAGS_KNOWN: u32 = 0x1 | 0x2 | 0x4 | 0x4000_0000 | 0x8000_0000;
const MEM_FLAGS_KNOWN: u64 = 0x1ff | 0x8000 | (0xf << 16);

static MGMT: Mutex<()> = Mutex::new(());

fn require_root() -> Result<(), i64> {
    if this_cpu().cell.load(Ordering::Relaxed) != 0 {
        return Err(-EPERM);
    }
    Ok(())
}

fn cpus_of(mask: u64) -> impl Iterator<Item = &'static PerCpu> {
    (0..64).filter(move |c| mask & (1 << c) != 0).filter_map(percpu)
}

/// Stops every running CPU in `mask` and waits until each is parked.
fn park_cpus(mask: u64) {
    for cpu in cpus_of(mask) {
        cpu.cancel_start();
        if cpu.state() == CpuState::Running {
            cpu.park_request.store(true, Ordering::Release);
            gic::kick(cpu);
        }
    }
    for cpu in cpus_of(mask) {
        while cpu.state() == CpuState::Running {
            crate::arch::cpu_relax();
        }
        cpu.park_request.store(false, Ordering::Release);
    }
}

fn root_region_for(root: &CellView<'_>, r: &MemRegion) -> Option<MemRegion> {
    let end = r.phys_start.checked_add(r.size)?;
    root.memory_regions().find(|rr| {
        rr.flags & mem_flags::COMM_REGION == 0 && rr.phys_start <= r.phys_start && end <= rr.phys_start + rr.size
    })
}

fn overlaps(a: (u64, u64), b: (u64, u64)) -> bool {
    a.0 < b.0 + b.1 && b.0 < a.0 + a.1
}

/// Regions that move from the root to the cell.
fn owned_regions<'a>(view: &CellView<'a>) -> impl Iterator<Item = MemRegion> + 'a {
    view.memory_regions()
        .filter(|r| r.flags & (mem_flags::COMM_REGION | mem_flags::ROOTSHARED) == 0 && is_page_region(r))
}

/// Checks a cell configuration on its own.
fn validate(view: &CellView<'_>, max_cpus: u64) -> Result<(), i64> {
    if view.flags() & !CELL_FLAGS_KNOWN != 0 || view.name().is_empty() {
        return Err(-EINVAL);
    }
    let mask = view.cpu_mask();
    if mask == 0 || view.cpu_limit() as u64 > max_cpus {
        return Err(-EINVAL);
    }
    let regions: Vec<MemRegion> = view.memory_regions().collect();
    for (i, r) in regions.iter().enumerate() {
        let aligned = is_page_region(r) || r.flags & mem_flags::COMM_REGION != 0;
        if r.size == 0 || r.flags & !MEM_FLAGS_KNOWN != 0 || !aligned {
            return Err(-EINVAL);
        }
        r.phys_start.checked_add(r.size).ok_or(-EINVAL)?;
        let vend = r.virt_start.checked_add(r.size).ok_or(-EINVAL)?;
        if vend > 1 << 39 {
            return Err(-EINVAL);
        }
        if regions[..i].iter().any(|o| overlaps((o.virt_start, o.size), (r.virt_start, r.size))) {
            return Err(-EINVAL);
        }
    }
    Ok(())
}

/// HC_CELL_CREATE: `gpa` is the root guest-physical address of the config.
pub fn create(gpa: u64) -> i64 {
    match create_inner(gpa) {
        Ok(id) => i64::from(id),
        Err(e) => e,
    }
}

fn create_inner(gpa: u64) -> Result<u32, i64> {
    require_root()?;
    let _m = MGMT.lock();
    let head = guestmem::copy_from_root(gpa, 132)?;
    let total = CellView::size_from_header(&head).map_err(|_| -EINVAL)?;
    if (gpa % 4096 + total).div_ceil(4096) > MAX_CONFIG_PAGES {
        return Err(-E2BIG);
    }
    let config = guestmem::copy_from_root(gpa, total as usize)?;
    create_from_copy(config)
}

/// Creates a cell from the hypervisor's own copy of its configuration
/// (the caller holds the management lock or runs before the root starts).
pub fn create_from_copy(config: Vec<u8>) -> Result<u32, i64> {
    let hv = crate::hv::get().ok_or(-EINVAL)?;
    let view = CellView::parse(&config).map_err(|e| {
        log::warn!("cell config refused: {e}");
        -EINVAL
    })?;
    validate(&view, hv.layout.max_cpus)?;
    view.check_irqchips(hv_gic().2).map_err(|_| -EINVAL)?;
    describe(&view, hv)?;
    let mask = view.cpu_mask();

    let mut cells = CELLS.lock();
    if cells.iter().any(|c| c.view().is_some_and(|v| v.name() == view.name())) {
        return Err(-EEXIST);
    }
    let root = cells.first().ok_or(-EINVAL)?;
    if root.cpus & mask != mask {
        return Err(-EBUSY);
    }
    if cpus_of(mask).any(|c| !c.present.load(Ordering::Acquire) || c.state() != CpuState::Off) {
        return Err(-EBUSY);
    }
    let hv_range = (hv.phys_base, hv.hv_size);
    for r in owned_regions(&view) {
        // Memory outside the root's regions may be given (Jailhouse does);
        // it is simply not handed back to the root on destroy.
        if overlaps((r.phys_start, r.size), hv_range) {
            return Err(-EINVAL);
        }
        for other in cells.iter().skip(1).filter_map(|c| c.view().map(|v| owned_regions(&v).collect::<Vec<_>>())) {
            if other.iter().any(|o| overlaps((o.phys_start, o.size), (r.phys_start, r.size))) {
                return Err(-EBUSY);
            }
        }
    }
    let (_, _, gicd, _) = hv_gic();
    let irqs: Vec<u32> = view.irqchips().filter(|c| c.address == gicd).flat_map(|c| c.irqs().collect::<Vec<_>>()).collect();
    if irqs.iter().any(|&i| i < 32 || gic::owner(i) != Some(0)) {
        return Err(-EBUSY);
    }
    let id = (1..255u32).find(|id| cells.iter().all(|c| c.id != *id)).ok_or(-ENOMEM)?;

    // Build the cell's address space before touching the root's.
    let mut stage2 = OwnedTable::stage2().map_err(|_| -ENOMEM)?;
    let mut comm = None;
    for r in view.memory_regions() {
        if r.flags & mem_flags::COMM_REGION != 0 {
            let page = PoolPage::new().ok_or(-ENOMEM)?;
            stage2.map(r.virt_start, page.phys(), 4096, region_attrs(r.flags)).map_err(|_| -ENOMEM)?;
            comm = Some(page);
        } else if is_page_region(&r) {
            stage2.map(r.virt_start, r.phys_start, r.size, region_attrs(r.flags)).map_err(|_| -ENOMEM)?;
        }
    }
    let root = cells.first_mut().ok_or(-EINVAL)?;
    let taken: Vec<MemRegion> = owned_regions(&view).collect();
    for (i, r) in taken.iter().enumerate() {
        if root.stage2.unmap(r.phys_start, r.size).is_err() {
            // Give back what was taken so far, then fail.
            for back in &taken[..i] {
                if let Some(rr) = root_region_for(&root_view_of(root), back) {
                    let _ = root.stage2.map(back.phys_start, back.phys_start, back.size, region_attrs(rr.flags));
                }
            }
            return Err(-ENOMEM);
        }
    }
    crate::arch::flush_vmid(root.stage2.root(), root.vmid);
    root.cpus &= !mask;
    let first_mpidr = cpus_of(mask).next().map_or(0, |c| c.mpidr.load(Ordering::Relaxed));
    for &irq in &irqs {
        gic::assign_spi(irq, id as u8, first_mpidr);
    }
    for cpu in cpus_of(mask) {
        cpu.cell.store(id, Ordering::Release);
    }
    crate::arch::flush_vmid(stage2.root(), id as u16);
    let flags = view.flags();
    cells.push(Cell { id, vmid: id as u16, cpus: mask, state: CellState::ShutDown, flags, config, stage2, comm });
    log::info!("created cell {} ({} CPUs)", id, mask.count_ones());
    Ok(id)
}

/// The machine facts a cell description is checked against.
fn platform(hv: &crate::hv::Hv) -> super::desc::Platform {
    use super::desc::Span;
    let (_, _, gicd, gicr) = hv_gic();
    let gicr_size = gic::gicr_size(hv.layout.max_cpus);
    super::desc::Platform {
        hv: Span { start: hv.phys_base, end: hv.phys_base + hv.hv_size },
        reserved_io: [(gicd, gic::dist::GICD_SIZE), (gicr, gicr_size)]
            .into_iter()
            .filter(|&(b, s)| b != 0 && s != 0)
            .filter_map(|(b, s)| Span::sized(b, s))
            .collect(),
        gicd_base: gicd,
        max_cpus: hv.layout.max_cpus,
    }
}

/// Validates the configuration as a typed description: one comm region at
/// most, no region of any kind over hypervisor memory or the GIC,
/// ROOTSHARED regions inside the root's memory, interrupts that are SPIs.
fn describe(view: &CellView<'_>, hv: &crate::hv::Hv) -> Result<super::desc::CellDesc, i64> {
    let p = platform(hv);
    let root_cfg = crate::sysconfig::SystemView::parse(hv.config).map_err(|_| -EINVAL)?;
    let root = super::desc::CellDesc::for_root(&root_cfg.root(), &p).map_err(|e| e.errno())?;
    super::desc::CellDesc::for_cell(view, &p, &root).map_err(|e| e.errno())
}

fn root_view_of(root: &Cell) -> CellView<'_> {
    root.view().unwrap_or_else(CellView::empty)
}

fn hv_gic() -> (u8, u8, u64, u64) {
    crate::hv::get()
        .and_then(|h| crate::sysconfig::SystemView::parse(h.config).ok())
        .map_or((0, 0, 0, 0), |s| s.gic())
}

fn with_cell<R>(id: u64, f: impl FnOnce(&mut Cell, &mut Vec<Cell>) -> Result<R, i64>) -> Result<R, i64> {
    require_root()?;
    if id == 0 {
        return Err(-EINVAL);
    }
    let mut cells = CELLS.lock();
    let idx = cells.iter().position(|c| u64::from(c.id) == id).ok_or(-ENOENT)?;
    let mut cell = cells.remove(idx);
    let r = f(&mut cell, &mut cells);
    cells.insert(idx, cell);
    r
}

/// Parks all of a cell's CPUs, without holding the cell list lock.
fn suspend(id: u64) -> Result<(), i64> {
    let mask = {
        let cells = CELLS.lock();
        cells.iter().find(|c| u64::from(c.id) == id).ok_or(-ENOENT)?.cpus
    };
    park_cpus(mask);
    Ok(())
}

fn loadable_regions(cell: &Cell) -> Vec<MemRegion> {
    cell.view().map_or(Vec::new(), |v| {
        owned_regions(&v).filter(|r| r.flags & mem_flags::LOADABLE != 0).collect()
    })
}

/// HC_CELL_SET_LOADABLE.
pub fn set_loadable(id: u64) -> i64 {
    require_root().and_then(|_| {
        if id == 0 {
            return Err(-EINVAL);
        }
        let _m = MGMT.lock();
        suspend(id)?;
        with_cell(id, |cell, cells| {
            let root = cells.first_mut().ok_or(-EINVAL)?;
            let root_view = root_view_of(root);
            let attrs: Vec<_> = loadable_regions(cell)
                .into_iter()
                .filter_map(|r| root_region_for(&root_view, &r).map(|rr| (r, region_attrs(rr.flags))))
                .collect();
            for (r, a) in attrs {
                root.stage2.map(r.phys_start, r.phys_start, r.size, a).map_err(|_| -ENOMEM)?;
            }
            crate::arch::flush_vmid(root.stage2.root(), root.vmid);
            cell.state = CellState::ShutDown;
            Ok(0)
        })
    })
    .unwrap_or_else(|e| e)
}

/// HC_CELL_START.
pub fn start(id: u64) -> i64 {
    require_root()
        .and_then(|_| {
            if id == 0 {
                return Err(-EINVAL);
            }
            let _m = MGMT.lock();
            suspend(id)?;
            let (_, _, gicd, gicr) = hv_gic();
            with_cell(id, |cell, cells| {
                let root = cells.first_mut().ok_or(-EINVAL)?;
                for r in loadable_regions(cell) {
                    root.stage2.unmap(r.phys_start, r.size).map_err(|_| -ENOMEM)?;
                    guestmem::flush_phys(r.phys_start, r.size)?;
                }
                crate::arch::flush_vmid(root.stage2.root(), root.vmid);
                let flags = cell.flags;
                let view = CellView::parse(&cell.config).map_err(|_| -EINVAL)?;
                if let Some(page) = cell.comm.as_mut() {
                    super::comm::fill(page.bytes_mut(), &view, (gicd, gicr), flags);
                }
                let entry = view.cpu_reset_address();
                crate::arch::flush_vmid(cell.stage2.root(), cell.vmid);
                cell.state = CellState::Running;
                for cpu in cpus_of(cell.cpus) {
                    cpu.set_state(CpuState::Off);
                }
                if let Some(first) = cpus_of(cell.cpus).next() {
                    if first.request_start(entry, 0) {
                        crate::arch::send_event();
                    }
                }
                Ok(0)
            })
        })
        .unwrap_or_else(|e| e)
}

/// HC_CELL_DESTROY.
pub fn destroy(id: u64) -> i64 {
    require_root()
        .and_then(|_| {
            if id == 0 {
                return Err(-EINVAL);
            }
            let _m = MGMT.lock();
            suspend(id)?;
            let mut cells = CELLS.lock();
            let idx = cells.iter().position(|c| u64::from(c.id) == id).ok_or(-ENOENT)?;
            let cell = cells.remove(idx);
            let root = cells.first_mut().ok_or(-EINVAL)?;
            let root_view = root_view_of(root);
            let regions: Vec<_> = cell.view().map_or(Vec::new(), |v| {
                owned_regions(&v)
                    .filter_map(|r| root_region_for(&root_view, &r).map(|rr| (r, region_attrs(rr.flags))))
                    .collect()
            });
            for (r, a) in regions {
                root.stage2.map(r.phys_start, r.phys_start, r.size, a).map_err(|_| -ENOMEM)?;
            }
            crate::arch::flush_vmid(root.stage2.root(), root.vmid);
            crate::arch::flush_vmid(cell.stage2.root(), cell.vmid);
            for irq in 32..1020 {
                if gic::owner(irq) == Some(cell.id as u8) {
                    gic::release_spi(irq);
                }
            }
            root.cpus |= cell.cpus;
            for cpu in cpus_of(cell.cpus) {
                cpu.cell.store(0, Ordering::Release);
                cpu.set_state(CpuState::Off);
            }
            log::info!("destroyed cell {}", cell.id);
            drop(cell);
            Ok(0)
        })
        .unwrap_or_else(|e| e)
}

/// HC_CELL_GET_STATE.
pub fn get_state(id: u64) -> i64 {
    if let Err(e) = require_root() {
        return e;
    }
    CELLS.lock().iter().find(|c| u64::from(c.id) == id).map_or(-ENOENT, |c| c.state as i64)
}

/// PSCI SYSTEM_RESET from a non-root cell: restarts that cell only, on
/// the calling CPU at the cell's reset address; its other CPUs go off.
/// If management is busy (the root is changing cells, or another CPU of
/// the cell is resetting it), this CPU just turns off.
pub fn reset_this_cell(frame: &mut crate::trap::TrapFrame) {
    let me = this_cpu();
    let Some(_m) = MGMT.try_lock() else {
        me.set_state(CpuState::Off);
        crate::trap::park(frame);
        return;
    };
    let id = me.cell.load(Ordering::Relaxed);
    let my_bit = 1u64 << me.cpu_id.load(Ordering::Relaxed);
    let found = CELLS
        .lock()
        .iter()
        .find(|c| c.id == id)
        .map(|c| (c.cpus, c.view().map_or(0, |v| v.cpu_reset_address())));
    let Some((mask, entry)) = found else { return };
    park_cpus(mask & !my_bit);
    if let Some(c) = CELLS.lock().iter_mut().find(|c| c.id == id) {
        c.state = CellState::Running;
    }
    log::info!("cell {id} reset itself");
    crate::trap::reset_frame(frame, entry, 0);
}

/// sysHyper extension (hypercall 0x100, root only): what a driver that
/// adopts a running hypervisor needs to know about a cell. `what` = 0:
/// its CPU bit mask (CPUs 0..62); 1 + k (k < 5): bytes 7k..7k+6 of its
/// NUL-padded 32-byte name, little endian, so the result is never negative.
pub fn cell_info(id: u64, what: u64) -> i64 {
    if let Err(e) = require_root() {
        return e;
    }
    let cells = CELLS.lock();
    let Some(cell) = cells.iter().find(|c| u64::from(c.id) == id) else { return -ENOENT };
    match what {
        0 => (cell.cpus & (u64::MAX >> 1)) as i64,
        1..=5 => {
            let mut name = [0u8; 35];
            let n = cell.view().map_or("", |v| v.name()).as_bytes();
            let len = n.len().min(32);
            name[..len].copy_from_slice(&n[..len]);
            let k = (what as usize - 1) * 7;
            (0..7).fold(0i64, |v, i| v | i64::from(name[k + i]) << (8 * i))
        }
        _ => -EINVAL,
    }
}

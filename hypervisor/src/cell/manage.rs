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

/// Checks a cell configuration on its own.
fn validate(view: &CellView<'_>, max_cpus: u64) -> Result<(), i64> {
    if view.flags() & !CELL_FLAGS_KNOWN != 0 || view.name().is_empty() {
        return Err(-EINVAL);
    }
    let mask = view.cpu_mask();
    if mask == 0 || view.cpu_limit() as u64 > max_cpus {
        return Err(-EINVAL);
    }
    // Regions may overlap each other (Jailhouse accepts that); each one is
    // checked on its own, without allocating.
    for r in view.memory_regions() {
        // Sub-page regions are trapped and forwarded (`mmio::subpage`).
        if r.size == 0 || r.flags & !MEM_FLAGS_KNOWN != 0 {
            log::warn!("refused: region {:#x}+{:#x} flags {:#x} is empty or has unknown flags", r.phys_start, r.size, r.flags);
            return Err(-EINVAL);
        }
        r.phys_start.checked_add(r.size).ok_or(-EINVAL)?;
        let vend = r.virt_start.checked_add(r.size).ok_or(-EINVAL)?;
        if vend > 1 << 39 {
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
    let desc = describe(&view, hv)?;
    // Trapped MMIO (GIC, sub-page windows): unmapped again if create fails.
    let mmio = crate::mmio::Table::for_cell(&desc, &platform(hv))
        .map_err(|e| crate::error::refuse(e, format_args!("no room for the cell's trapped MMIO regions")).errno())?;
    let mask = view.cpu_mask();

    let mut cells = CELLS.lock();
    if cells.iter().any(|c| c.desc.name() == desc.name()) {
        return Err(-EEXIST);
    }
    let root = cells.first().ok_or(-EINVAL)?;
    if root.cpus & mask != mask {
        return Err(-EBUSY);
    }
    // Each cell's regions are in its description, parsed once at its
    // create: no configuration is parsed again here. Owned memory and
    // sub-page regions are held exclusively (`CellDesc::claims`).
    for other in cells.iter().skip(1) {
        if let Some(span) = desc.conflict_with(&other.desc) {
            log::warn!("refused: memory {:#x}-{:#x} belongs to cell {}", span.start, span.end, other.id);
            return Err(-EBUSY);
        }
    }
    if let Some(irq) = desc.spis.iter().find(|&i| gic::owner(i) != Some(0)) {
        log::warn!("refused: interrupt {irq} is not the root cell's");
        return Err(-EBUSY);
    }
    let id = (1..255u32).find(|id| cells.iter().all(|c| c.id != *id)).ok_or(-ENOMEM)?;
    cells.try_reserve(1).map_err(|_| -ENOMEM)?;
    // Last fallible check on the CPUs, and a claim that PSCI CPU_ON of the
    // root cannot race with: every later failure gives the claims back.
    let claims = Claims::take(mask)?;

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
    for (i, r) in desc.owned().map(as_mem).enumerate() {
        if root.stage2.unmap(r.phys_start, r.size).is_err() {
            // Give back what was taken so far, then fail.
            for back in desc.owned().take(i).map(as_mem) {
                if let Some(rr) = root_region_for(&root_view_of(root), &back) {
                    let _ = root.stage2.map(back.phys_start, back.phys_start, back.size, region_attrs(rr.flags));
                }
            }
            return Err(-ENOMEM);
        }
    }
    crate::arch::flush_vmid(root.stage2.root(), root.vmid);
    root.cpus &= !mask;
    let first_mpidr = cpus_of(mask).next().map_or(0, |c| c.mpidr.load(Ordering::Relaxed));
    for irq in desc.spis.iter() {
        gic::assign_spi(irq, id as u8, first_mpidr);
    }
    for cpu in cpus_of(mask) {
        cpu.cell.store(id, Ordering::Release);
        cpu.clear_stats();
    }
    claims.hand_over();
    crate::arch::flush_vmid(stage2.root(), id as u16);
    let flags = view.flags();
    // The configuration bytes are not kept: the description holds all.
    drop(config);
    cells.push(Cell { id, vmid: id as u16, cpus: mask, state: CellState::ShutDown, flags, desc, stage2, comm, mmio });
    log::info!("created cell {} ({} CPUs)", id, mask.count_ones());
    Ok(id)
}

/// CPUs claimed for a cell being created; dropped unused, they go back to
/// Off in their old cell.
struct Claims(u64);

impl Claims {
    fn take(mask: u64) -> Result<Self, i64> {
        let mut claims = Claims(0);
        for (n, cpu) in (0..64).filter(|c| mask & (1 << c) != 0).filter_map(|c| percpu(c).map(|p| (c, p))) {
            if !cpu.present.load(Ordering::Acquire) || !cpu.claim() {
                log::warn!("refused: CPU {n} is not off");
                return Err(-EBUSY); // `claims` drops: earlier claims are released
            }
            claims.0 |= 1 << n;
        }
        if claims.0 != mask {
            return Err(-EBUSY);
        }
        Ok(claims)
    }

    /// The CPUs now belong to the new cell (their `cell` field is set):
    /// Off there, waiting for the cell's start.
    fn hand_over(mut self) {
        cpus_of(self.0).for_each(PerCpu::release_claim);
        self.0 = 0;
    }
}

impl Drop for Claims {
    fn drop(&mut self) {
        cpus_of(self.0).for_each(PerCpu::release_claim);
    }
}

/// The machine facts a cell description is checked against.
pub(crate) fn platform(hv: &crate::hv::Hv) -> super::desc::Platform {
    use super::desc::Span;
    let (_, _, gicd, gicr) = hv_gic();
    let gicr_size = gic::gicr_size(hv.layout.max_cpus);
    let mut reserved_io = Vec::new();
    // Two elements; a heap too full for them refuses the create later.
    if reserved_io.try_reserve_exact(2).is_ok() {
        reserved_io.extend(
            [(gicd, gic::dist::GICD_SIZE), (gicr, gicr_size)]
                .into_iter()
                .filter(|&(b, s)| b != 0 && s != 0)
                .filter_map(|(b, s)| Span::sized(b, s)),
        );
    }
    super::desc::Platform {
        hv: Span { start: hv.phys_base, end: hv.phys_base + hv.hv_size },
        reserved_io,
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

fn root_view_of(root: &Cell) -> CellView<'static> {
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

/// A described region in the configuration's terms.
fn as_mem(r: &super::desc::Region) -> MemRegion {
    MemRegion { phys_start: r.phys, virt_start: r.virt, size: r.size, flags: r.flags }
}

/// Owned memory the root may load between set_loadable and start.
fn loadable_regions(cell: &Cell) -> impl Iterator<Item = MemRegion> + '_ {
    cell.desc.owned().filter(|r| r.loadable()).map(as_mem)
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
            let attrs = loadable_regions(cell)
                .filter_map(|r| root_region_for(&root_view, &r).map(|rr| (r, region_attrs(rr.flags))));
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
                if let Some(page) = cell.comm.as_mut() {
                    super::comm::fill(page.bytes_mut(), &cell.desc.console, cell.desc.vpci_irq_base, (gicd, gicr), flags);
                }
                let entry = cell.desc.reset_address;
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
            // The cell is gone from here on: a root mapping that cannot be
            // made (pool exhausted) costs the root that memory, logged, but
            // never leaves a half-destroyed cell whose CPUs keep its id.
            for r in cell.desc.owned().map(as_mem) {
                if let Some(rr) = root_region_for(&root_view, &r) {
                    if root.stage2.map(r.phys_start, r.phys_start, r.size, region_attrs(rr.flags)).is_err() {
                        log::error!("cannot map {:#x}+{:#x} back into the root cell", r.phys_start, r.size);
                    }
                }
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
                cpu.clear_stats();
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
        .map(|c| (c.cpus, c.desc.reset_address));
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
            let n = cell.desc.name().as_bytes();
            let len = n.len().min(32);
            name[..len].copy_from_slice(&n[..len]);
            let k = (what as usize - 1) * 7;
            (0..7).fold(0i64, |v, i| v | i64::from(name[k + i]) << (8 * i))
        }
        _ => -EINVAL,
    }
}

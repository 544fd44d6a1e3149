//! Cell management hypercalls: create, set loadable, start, destroy, get
//! state. Serialised by one management lock. Every hand-over of memory,
//! interrupts and CPUs goes through the ownership module (`cell::owner`):
//! validate and prepare first (may fail, nothing changed), then commit
//! (cannot fail). Root-only calls take a [`RootCaller`], which only the
//! hypercall dispatcher (and boot-time setup, on the root's boot CPU) can
//! make.

extern crate alloc;

use super::owner::cpus::{self, Claims};
use super::owner::machine::{Machine, LEDGER};
use super::owner::{self, Holdings, Root};
use super::shutdown::{self, Gate};
use super::{Cell, CellState, CELLS};
use crate::error::{Error, Result};
use crate::guestmem;
use crate::memmap::{OwnedTable, PoolPage};
use crate::percpu::{this_cpu, CpuState};
use crate::sync::Mutex;
use crate::sysconfig::CellView;
use alloc::vec::Vec;
use core::sync::atomic::Ordering;

/// Most pages a cell configuration may occupy.
const MAX_CONFIG_PAGES: u64 = 16;

static MGMT: Mutex<()> = Mutex::new(());

/// Proof that the caller is the root cell: made only after checking that
/// the calling CPU belongs to cell 0. Root-only operations take one, so
/// none of them can be reached from a non-root path by mistake.
#[derive(Debug)]
pub struct RootCaller(());

impl RootCaller {
    /// The proof, if this CPU belongs to the root cell. Called by the
    /// hypercall dispatcher, and by boot-time cell setup on the boot CPU.
    pub(crate) fn check() -> Option<Self> {
        (this_cpu().cell.load(Ordering::Relaxed) == 0).then_some(RootCaller(()))
    }
}

fn errno<T: Into<i64>>(r: Result<T>) -> i64 {
    r.map_or_else(Error::errno, Into::into)
}

/// Runs `f` on the root's side of a hand-over: its stage 2, description
/// and the ledger (the caller holds the cell list).
fn with_root<R>(root: &mut Cell, f: impl FnOnce(&mut Machine, &mut Root<'_>) -> R) -> Result<R> {
    let mut ledger = LEDGER.lock();
    let Cell { stage2, desc, dma, .. } = root;
    let stage2 = stage2.table_mut().ok_or(Error::Invalid)?;
    let dma = dma.as_mut().and_then(OwnedTable::table_mut);
    Ok(f(&mut Machine, &mut Root { stage2, desc, ledger: &mut ledger, dma }))
}

/// HC_CELL_CREATE: `gpa` is the root guest-physical address of the config.
/// `force` (sysHyper extension): even while a cell is RUNNING_LOCKED.
pub fn create(_root: RootCaller, gpa: u64, force: bool) -> i64 {
    errno(create_inner(gpa, force))
}

fn create_inner(gpa: u64, force: bool) -> Result<u32> {
    let _m = MGMT.lock();
    let id = create_checked(gpa, force)?;
    // The running cells learn of it (under the management lock).
    shutdown::reconfig_completed(Some(id));
    Ok(id)
}

fn create_checked(gpa: u64, force: bool) -> Result<u32> {
    let head = guestmem::copy_from_root(gpa, 132).map_err(errno_to_error)?;
    let total = CellView::size_from_header(&head).map_err(|_| Error::Invalid)?;
    if (gpa % 4096 + total).div_ceil(4096) > MAX_CONFIG_PAGES {
        return Err(Error::TooBig);
    }
    let config = guestmem::copy_from_root(gpa, total as usize).map_err(errno_to_error)?;
    create_locked(&config, force)
}

fn errno_to_error(e: i64) -> Error {
    use crate::errno::*;
    match -e {
        ENOMEM => Error::NoMemory,
        _ => Error::Invalid,
    }
}

/// Creates a cell from the hypervisor's own copy of its configuration, at
/// boot (before the root runs).
pub fn create_from_copy(_root: &RootCaller, config: &[u8]) -> Result<u32> {
    let _m = MGMT.lock();
    create_locked(config, false)
}

fn create_locked(config: &[u8], force: bool) -> Result<u32> {
    let hv = crate::hv::get().ok_or(Error::Invalid)?;
    let view = CellView::parse(config).map_err(|e| crate::error::refuse(Error::Invalid, format_args!("cell config: {e}")))?;
    let desc = describe(&view, hv)?;
    // Trapped MMIO (GIC, sub-page windows): part of prepare, unmapped
    // again when create fails below (the table drops).
    let mmio = crate::mmio::Table::for_cell(&desc, &platform(hv))
        .map_err(|e| crate::error::refuse(e, format_args!("no room for the cell's trapped MMIO regions")))?;
    let mask = desc.cpus;

    let mut cells = CELLS.lock();
    if !force {
        shutdown::reconfig_ok(&cells, None, "cell create")?;
    }
    if cells.iter().any(|c| c.desc.name() == desc.name()) {
        return Err(crate::error::refuse(Error::Exists, format_args!("a cell named \"{}\" exists", desc.name())));
    }
    let root_cpus = cells.first().ok_or(Error::Invalid)?.cpus;
    if root_cpus & mask != mask {
        return Err(crate::error::refuse(
            Error::Busy,
            format_args!("CPUs {:#x} of {:#x} are not the root cell's", mask & !root_cpus, mask),
        ));
    }
    // Owned memory and sub-page regions are held exclusively
    // (`CellDesc::claims`), also against ROOTSHARED or page regions of
    // this cell over another cell's memory.
    for other in cells.iter().skip(1) {
        if let Some(d) = desc.passthru.iter().find(|d| other.desc.passthru.iter().any(|o| o.bdf == d.bdf)) {
            return Err(crate::error::refuse(
                Error::Busy,
                format_args!("PCI device {} belongs to cell {}", crate::pci::passthru::Bdf(d.bdf), other.id),
            ));
        }
        if let Some(span) = desc.conflict_with(&other.desc) {
            return Err(crate::error::refuse(
                Error::Busy,
                format_args!("memory {:#x}-{:#x} belongs to cell {}", span.start, span.end, other.id),
            ));
        }
    }
    let id = (1..255u32)
        .find(|id| cells.iter().all(|c| c.id != *id))
        .ok_or_else(|| crate::error::refuse(Error::NoMemory, format_args!("no free cell id")))?;
    let vmid = id as u16;
    // The cell slot, so the final push cannot fail.
    cells.try_reserve(1).map_err(|_| crate::error::refuse(Error::NoMemory, format_args!("no heap for the cell list")))?;
    // A claim PSCI CPU_ON of the root cannot race with; dropped on any
    // failure below, which gives the CPUs back.
    let claims = Claims::take(mask)?;
    let root = cells.first_mut().ok_or(Error::Invalid)?;
    // The cell's ivshmem functions join their links (checked against the
    // peers there); not running yet, so nobody can ring them. Undone if
    // the hand-over below fails.
    crate::ivshmem::check_grants(id, desc.spis.iter())?;
    // Memory the cell would hold alone must not be a link's shared memory
    // (the root's links included, which `conflict_with` does not see).
    for (span, exclusive) in desc.claims() {
        if exclusive {
            crate::ivshmem::check_sections_free(id, span.start, span.end)?;
        }
    }
    // Its INTx INTIDs must be the root's to give (the hand-over below
    // checks that too, but `join` marks them virtual first, and a
    // physical interrupt of another cell must never be seen as virtual).
    if let Some(d) = desc.ivshmem.iter().find(|d| crate::irqchip::spi::owner(d.intid) != Some(0)) {
        return Err(crate::error::refuse(
            Error::Busy,
            format_args!("ivshmem {:#x}: interrupt {} is not the root cell's to give", d.bdf, d.intid),
        ));
    }
    crate::ivshmem::join(id, &desc.ivshmem, false)?;
    // Its MSI devices mapped in the ITS (nothing forwarded yet).
    if let Err(e) = prepare_msi(id, &desc, mask) {
        crate::ivshmem::leave(id);
        return Err(e);
    }
    let holdings = match with_root(root, |hw, r| -> Result<Holdings> {
        let plan = owner::prepare_create(hw, r, &desc, id, vmid)?;
        Ok(owner::commit_create(hw, r, &desc, id, plan, cpus::first_mpidr(mask)))
    }) {
        Ok(Ok(h)) => h,
        Ok(Err(e)) | Err(e) => {
            crate::irqchip::gicv3::its::release_cell(id);
            crate::ivshmem::leave(id);
            return Err(e);
        }
    };
    // The SPIs are the cell's: its devices' MSIs reach them from now on.
    crate::irqchip::gicv3::its::commit_cell(id);
    root.cpus &= !mask;
    claims.hand_to(id);
    // Its devices left the root (config space and BARs unmapped from it):
    // stopped before the cell gets them, so no DMA the root started
    // runs on into the cell's hands.
    crate::mmio::quiesce_passthru(&mmio);
    for d in &desc.passthru {
        use crate::pci::passthru::Dma;
        // On QEMU virt (and SMMUv3 generally for PCI) the stream id is
        // the requester id: the BDF.
        let dma = match (crate::iommu::present(), desc.streams.binary_search(&u32::from(d.bdf)).is_ok()) {
            (false, _) => Dma::Unconfined,
            (true, true) => Dma::Confined,
            (true, false) => Dma::Aborted,
        };
        crate::pci::passthru::log_assigned(id, desc.name(), d, dma);
    }
    let Holdings { stage2, vmid, comm, dma } = holdings;
    let flags = desc.flags;
    cells.push(Cell {
        id,
        vmid,
        cpus: mask,
        state: CellState::ShutDown,
        flags,
        desc,
        stage2: OwnedTable::from_table(stage2),
        dma: dma.map(OwnedTable::from_table),
        comm: comm.map(PoolPage::adopt),
        mmio,
        lifecycle: Default::default(),
    });
    log::info!("created cell {} ({} CPUs)", id, mask.count_ones());
    Ok(id)
}

/// Maps cell `id`'s devices with a listed MSI/MSI-X capability in the
/// GICv3 ITS (`irqchip::gicv3::its`): every physical SPI the cell owns
/// becomes an event they may raise, delivered at its first CPU.
fn prepare_msi(id: u32, desc: &super::desc::CellDesc, mask: u64) -> Result<()> {
    if !desc.has_msi() {
        return Ok(());
    }
    let bdfs: Vec<u16> = desc.passthru.iter().filter(|d| d.has_msi()).map(|d| d.bdf).collect();
    let mut spis = Vec::new();
    spis.try_reserve_exact(desc.spis.iter().count()).map_err(|_| Error::NoMemory)?;
    spis.extend(desc.spis.iter().filter(|&e| !crate::irqchip::spi::is_virtual(e)));
    let frame = cpus::cpus_of(mask).next().map_or(0, |c| u64::from(c.gicr_frame.load(Ordering::Relaxed)));
    crate::irqchip::gicv3::its::prepare_cell(id, &bdfs, &spis, frame)
}

/// The machine facts a cell description is checked against.
pub(crate) fn platform(hv: &crate::hv::Hv) -> super::desc::Platform {
    use super::desc::Span;
    let (_, _, gicd, _) = hv_gic();
    let gic = crate::irqchip::regions();
    let mut reserved_io = Vec::new();
    // A few elements, in the chip's numbering (an unusable one empty); a
    // heap too full for them refuses the create later.
    if reserved_io.try_reserve_exact(gic.as_slice().len()).is_ok() {
        let empty = Span { start: 0, end: 0 };
        reserved_io.extend(gic.as_slice().iter().map(|r| {
            if r.base == 0 || r.size == 0 { empty } else { Span::sized(r.base, r.size).unwrap_or(empty) }
        }));
    }
    super::desc::Platform {
        hv: Span { start: hv.phys_base, end: hv.phys_base + hv.hv_size },
        reserved_io,
        gicd_base: gicd,
        max_cpus: hv.layout.max_cpus,
        pci: hv.pci,
        phys_ecam: Some(crate::pci::passthru::PHYS_ECAM),
        its: crate::irqchip::its_region().and_then(|(base, size)| Span::sized(base, size)),
    }
}

/// Validates the configuration as a typed description: one comm region at
/// most, no region of any kind over hypervisor memory or the GIC,
/// ROOTSHARED regions inside the root's memory, interrupts that are SPIs.
fn describe(view: &CellView<'_>, hv: &crate::hv::Hv) -> Result<super::desc::CellDesc> {
    let p = platform(hv);
    let root_cfg = crate::sysconfig::SystemView::parse(hv.config).map_err(|_| Error::Invalid)?;
    let root = super::desc::CellDesc::for_root(&root_cfg.root(), &p)?;
    super::desc::CellDesc::for_cell(view, &p, &root)
}

fn hv_gic() -> (u8, u8, u64, u64) {
    crate::hv::get().map_or((0, 0, 0, 0), |h| h.gic)
}

/// Position of cell `id` (never the root) in the list.
fn find(cells: &[Cell], id: u64) -> Result<usize> {
    if id == 0 {
        return Err(Error::Invalid);
    }
    cells.iter().position(|c| u64::from(c.id) == id).ok_or(Error::NoSuchCell)
}

/// A management operation on cell `id` in the ownership module's shape:
/// `prepare` (with the cell list held) takes a reserve; then the cell's
/// CPUs are parked (bounded; without the list lock, which a stopping CPU
/// may need); then `commit` runs with the list held again. On any
/// failure before commit the reserve goes back and nothing changed but
/// the cell's CPUs being stopped.
fn transact<R>(
    id: u64,
    gate: (Gate, &str),
    prepare: impl FnOnce(&mut Machine, &Root<'_>, &Cell) -> Result<owner::Reserve>,
    commit: impl FnOnce(&mut Vec<Cell>, usize, owner::Reserve) -> Result<R>,
) -> Result<R> {
    let _m = MGMT.lock();
    // The cells' say (comm region), before anything is prepared.
    shutdown::pass(id, gate.0, gate.1)?;
    let (reserve, mask) = {
        let mut cells = CELLS.lock();
        let idx = find(&cells, id)?;
        let (root, rest) = cells.split_first_mut().ok_or(Error::Invalid)?;
        let cell = rest.get(idx - 1).ok_or(Error::NoSuchCell)?;
        (with_root(root, |hw, r| prepare(hw, r, cell))??, cell.cpus)
    };
    if let Err(e) = cpus::park_revoking(mask, |revoke| revoke_stage2(id, revoke)) {
        reserve.give_back(&mut Machine);
        return Err(e);
    }
    let mut cells = CELLS.lock();
    // The management lock kept the cell in the list meanwhile, and both
    // tables exist while their cells do: nothing below can fail, the
    // checks only keep the reserve from leaking if that were ever untrue.
    let ready = |c: &mut Cell| c.stage2.table_mut().is_some();
    let idx = match find(&cells, id) {
        Ok(i) if cells.first_mut().is_some_and(ready) && cells.get_mut(i).is_some_and(ready) => i,
        Ok(_) => return Err(giving_back(reserve, Error::Invalid, mask)),
        Err(e) => return Err(giving_back(reserve, e, mask)),
    };
    // The CPUs stay held by the management path: a load leaves the cell
    // shut down with them held, a start or destroy hands them on.
    commit(&mut cells, idx, reserve)
}

/// Takes cell `id`'s stage 2 away (`revoke`) or gives it back, for a
/// park its CPUs do not answer (`cpus::park_revoking`). The management
/// lock the caller holds keeps every other map, unmap and destroy of
/// the table out meanwhile; the list lock is held only for the change.
fn revoke_stage2(id: u64, revoke: bool) {
    let mut cells = CELLS.lock();
    let Some(table) = cells.iter_mut().find(|c| u64::from(c.id) == id && c.id != 0).and_then(|c| c.stage2.table_mut()) else {
        return;
    };
    if revoke {
        table.revoke(&mut Machine);
    } else {
        table.restore(&mut Machine);
        // The valid entries complete before the CPUs are let go (a CPU
        // of a refused park may still run on the table).
        crate::arch::dsb_ishst();
    }
}

fn giving_back(reserve: owner::Reserve, e: Error, held: u64) -> Error {
    reserve.give_back(&mut Machine);
    cpus::unhold(held);
    e
}

/// The root and cell `idx` of the list, both mutable.
fn root_and(cells: &mut [Cell], idx: usize) -> Result<(&mut Cell, &mut Cell)> {
    let (root, rest) = cells.split_first_mut().ok_or(Error::Invalid)?;
    let cell = rest.get_mut(idx - 1).ok_or(Error::NoSuchCell)?;
    Ok((root, cell))
}

/// The checks of a management call on a cell that may be running: ask
/// it, and (`reconfig`) refuse while another cell is locked.
fn gate(reconfig: bool, force: bool) -> Gate {
    Gate { ask: true, reconfig, force }
}

/// HC_CELL_SET_LOADABLE (`force`: sysHyper extension, see `shutdown`).
pub fn set_loadable(_root: RootCaller, id: u64, force: bool) -> i64 {
    errno(transact(
        id,
        (gate(true, force), "cell load"),
        |hw, r, cell| owner::prepare_loadable(hw, r, &cell.desc),
        |cells, idx, reserve| {
            let Ok((root, cell)) = root_and(cells, idx) else {
                return Err(giving_back(reserve, Error::Invalid, 0)); // excluded by `transact`
            };
            with_root(root, |hw, r| owner::commit_loadable(hw, r, &cell.desc, reserve))?;
            cell.set_state(CellState::ShutDown);
            // Its CPUs are stopped: its peers see it go.
            crate::ivshmem::stop(cell.id);
            Ok(0)
        },
    ))
}

/// HC_CELL_START (`force`: sysHyper extension, see `shutdown`).
pub fn start(_root: &RootCaller, id: u64, force: bool) -> i64 {
    let (version, _, gicd, gicr) = hv_gic();
    let gicc = if version == 2 { crate::hv::get().map_or(0, |h| h.gic_v2.0) } else { 0 };
    let ecam = crate::hv::get().and_then(|h| h.pci).map_or(0, |h| h.mmconfig_base);
    errno(transact(
        id,
        (gate(false, force), "cell start"),
        |hw, _, cell| owner::prepare_start(hw, &cell.desc),
        |cells, idx, reserve| {
            let Ok((root, cell)) = root_and(cells, idx) else {
                return Err(giving_back(reserve, Error::Invalid, 0)); // excluded by `transact`
            };
            if let Some(page) = cell.comm.as_ref() {
                page.zero();
                let d = &cell.desc;
                page.write_bytes(0, &super::comm::header(&d.console, d.vpci_irq_base, (version, gicd, gicc, gicr), cell.flags, ecam));
            }
            let comm = cell.comm.as_ref().map(PoolPage::phys);
            let Some(scope) = cell.stage2.scope() else {
                return Err(giving_back(reserve, Error::Invalid, cell.cpus)); // excluded by `transact`
            };
            with_root(root, |hw, r| owner::commit_start(hw, r, &cell.desc, scope, comm, reserve))?;
            cell.set_state(CellState::Running);
            cell.lifecycle.on_start();
            // Its ivshmem functions reset and take doorbells from now on.
            crate::ivshmem::start(cell.id);
            for cpu in cpus::cpus_of(cell.cpus) {
                cpu.set_state(CpuState::Off);
            }
            if let Some(first) = cpus::cpus_of(cell.cpus).next() {
                if first.request_start(cell.desc.reset_address, 0) {
                    crate::irqchip::wake_parked(first);
                }
            }
            Ok(0)
        },
    ))
}

/// HC_CELL_DESTROY. Prepared (the root's re-map reserved) before anything
/// of the cell is touched; the commit cannot fail half-way. `force`:
/// sysHyper extension, see `shutdown`.
pub fn destroy(_root: RootCaller, id: u64, force: bool) -> i64 {
    let r = transact(
        id,
        (gate(true, force), "cell destroy"),
        |hw, r, cell| owner::prepare_destroy(hw, r, &cell.desc),
        |cells, idx, reserve| {
            let cell = cells.remove(idx);
            // Its CPUs are parked: its devices stop before the root sees
            // their config space again.
            crate::mmio::quiesce_passthru(&cell.mmio);
            let Cell { id, vmid, cpus: mask, desc, stage2, comm, dma, .. } = cell;
            let (Some(root), Some(stage2)) = (cells.first_mut(), stage2.into_table()) else {
                return Err(giving_back(reserve, Error::Invalid, 0)); // excluded by `transact`
            };
            let dma = dma.and_then(OwnedTable::into_table);
            let h = Holdings { stage2, vmid, comm: comm.map(PoolPage::into_phys), dma };
            // Its peers see it go before its memory and CPUs do.
            crate::ivshmem::leave(id);
            // Its devices' MSIs stop (events discarded, pending LPIs
            // with them) before its SPIs go back to the root.
            crate::irqchip::gicv3::its::release_cell(id);
            with_root(root, |hw, r| owner::commit_destroy(hw, r, &desc, id, h, reserve))?;
            root.cpus |= mask;
            cpus::hand_to_root(mask);
            crate::iommu::forget(id);
            log::info!("destroyed cell {id}");
            Ok(0)
        },
    );
    if r.is_ok() {
        let _m = MGMT.lock();
        shutdown::reconfig_completed(None);
    }
    errno(r)
}

/// HC_CELL_GET_STATE.
pub fn get_state(_root: RootCaller, id: u64) -> i64 {
    // What the cell wrote (RUNNING_LOCKED) shows while it runs.
    CELLS.lock().iter().find(|c| u64::from(c.id) == id).map_or(Error::NoSuchCell.errno(), |c| i64::from(c.visible_state()))
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
    let found = CELLS.lock().iter().find(|c| c.id == id).map(|c| (c.cpus, c.desc.reset_address, c.state));
    let Some((mask, entry, state)) = found else { return };
    // Only a running cell restarts itself: a FAILED (or shut down) cell
    // stays so until the root loads, starts or destroys it, and its peers
    // are not told it is back by a CPU of it that kept running.
    if state != CellState::Running {
        log::warn!("cell {id} is not running: its CPU's reset request stops that CPU");
        me.set_state(CpuState::Off);
        crate::trap::park(frame);
        return;
    }
    if cpus::park(mask & !my_bit).is_err() {
        log::warn!("cell {id} resets while one of its CPUs did not stop");
    }
    // The other CPUs are off in the restarted cell, for it to start.
    cpus::unhold(mask & !my_bit);
    // A restart is a stop and a start to its ivshmem peers.
    crate::ivshmem::stop(id);
    crate::ivshmem::start(id);
    if let Some(c) = CELLS.lock().iter_mut().find(|c| c.id == id) {
        c.set_state(CellState::Running);
        c.lifecycle.on_start();
    }
    log::info!("cell {id} reset itself");
    crate::trap::reset_frame(frame, entry, 0);
    // The CPU's interrupt mode afresh for its cell (direct delivery left
    // at the reset, entered again here if the cell asks for it).
    crate::cell::activate_for_this_cpu();
}

/// sysHyper extension (hypercall 0x100, root only): what a driver that
/// adopts a running hypervisor needs to know about a cell. `what` = 0:
/// its CPU bit mask (CPUs 0..62); 1 + k (k < 5): bytes 7k..7k+6 of its
/// NUL-padded 32-byte name, little endian, so the result is never negative.
pub fn cell_info(_root: RootCaller, id: u64, what: u64) -> i64 {
    let cells = CELLS.lock();
    let Some(cell) = cells.iter().find(|c| u64::from(c.id) == id) else { return Error::NoSuchCell.errno() };
    match what {
        0 => (cell.cpus & (u64::MAX >> 1)) as i64,
        1..=5 => {
            let k = (what as usize - 1) * 7;
            let name = cell.desc.name().as_bytes().iter().take(32).skip(k);
            name.take(7).enumerate().fold(0i64, |v, (i, &b)| v | i64::from(b) << (8 * i))
        }
        // DMA faults the SMMU recorded for the cell's streams.
        6 => crate::iommu::faults(cell.id).min(i64::MAX as u64) as i64,
        _ => Error::Invalid.errno(),
    }
}

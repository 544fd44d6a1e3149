//! The hypervisor's ITS state: which devices of which cells are mapped,
//! which SPI each LPI forwards to, and the entry points cell management
//! and the interrupt path call.

extern crate alloc;

use super::super::phys::{gicd, gicr, mmio_read, mmio_write, owner, GICR_FRAMES, GICR_PHYS};
use super::cmd;
use super::regs::CONTROL_SIZE;
use super::BASE;
use super::unit::{alloc_pages, free_pages, Its, ItsError, LPI_BASE};
use crate::error::{refuse, Error};
use crate::mm::PAGE_SIZE;
use crate::sync::Mutex;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

/// EL2 address of the ITS control frame (after the SMMU's room, before
/// the remap window).
const ITS_VA: u64 = crate::hv::IO_BASE + 0x900_0000;
const _: () = assert!(ITS_VA + CONTROL_SIZE <= crate::memmap::REMAP_BASE);


/// A device whose DeviceID is mapped for a cell.
#[derive(Debug)]
struct Dev {
    cell: u32,
    device: u32,
    itt: u64,
    itt_pages: usize,
    events: Vec<u32>,
    icid: u16,
    rdbase: u64,
}

#[derive(Debug)]
struct State {
    its: Its,
    devs: Vec<Dev>,
    /// (GICR frame, RDbase) of every collection mapped; ICID = frame.
    collections: Vec<(u64, u64)>,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);

/// Per SPI: the cell its LPI forwards to (0: none). Written under the
/// lock by commit and release, read under it by [`forward_lpi`]: a
/// release that cleared an entry excludes any later forwarding of it,
/// and one forwarded before sets the SPI pending while the cell still
/// owns it (the SPI's hand-back then quiesces it, pending state
/// included).
static FORWARD: Mutex<[u8; 1020]> = Mutex::new([0; 1020]);
/// Bit per cell id: cells whose GICD_TYPER shows MBIS.
static MBI_CELLS: [AtomicU64; 4] = [const { AtomicU64::new(0) }; 4];

/// Whether cell `cell` is shown message-based SPIs.
pub fn is_mbi_cell(cell: u8) -> bool {
    MBI_CELLS.get(usize::from(cell / 64)).is_some_and(|w| w.load(Ordering::Relaxed) & (1 << (cell % 64)) != 0)
}

fn set_mbi(cell: u32, on: bool) {
    let Ok(c) = u8::try_from(cell) else { return };
    let (w, bit) = (usize::from(c / 64), 1u64 << (c % 64));
    let Some(w) = MBI_CELLS.get(w) else { return };
    if on {
        w.fetch_or(bit, Ordering::Relaxed);
    } else {
        w.fetch_and(!bit, Ordering::Relaxed);
    }
}

fn its_err(e: ItsError) -> Error {
    match e {
        ItsError::NoMemory => refuse(Error::NoMemory, format_args!("GICv3 ITS: no pool memory for its tables")),
        ItsError::InUse(why) => refuse(
            Error::Busy,
            format_args!("GICv3 ITS: {why}: the root's Linux uses it (disable its device-tree node, as the SMMU's)"),
        ),
        ItsError::Unsupported(why) => refuse(Error::NoDevice, format_args!("GICv3 ITS: {why}")),
        ItsError::Timeout => refuse(Error::NoDevice, format_args!("GICv3 ITS: a command did not complete (unit not used any more)")),
    }
}

/// A redistributor register: GICR_CTLR is 32 bits wide (a 64-bit access
/// is not one the GIC has to answer), TYPER and the LPI bases 64.
fn rd_read(frame: u64, off: u64) -> u64 {
    mmio_read(gicr(frame, off), if off == super::regs::GICR_CTLR { 4 } else { 8 })
}

fn rd_write(frame: u64, off: u64, v: u64) {
    mmio_write(gicr(frame, off), if off == super::regs::GICR_CTLR { 4 } else { 8 }, v)
}

/// The ITS, brought up at its first use.
fn started(g: &mut Option<State>) -> Result<&mut State, Error> {
    if g.is_none() {
        let base = BASE.load(Ordering::Acquire);
        crate::memmap::map_el2_device(ITS_VA, base, CONTROL_SIZE).map_err(|_| Error::NoMemory)?;
        crate::arch::tlbi_el2(ITS_VA, CONTROL_SIZE);
        let frames = GICR_FRAMES.load(Ordering::Relaxed);
        match Its::start(ITS_VA, frames, |f| rd_read(f, super::regs::GICR_CTLR)) {
            Ok(its) => {
                log::info!(
                    "GICv3 ITS at {base:#x}: up for cells' MSIs (DeviceIDs 1-{}, {} EventID bits)",
                    its.dev_limit - 1,
                    its.typer.id_bits
                );
                *g = Some(State { its, devs: Vec::new(), collections: Vec::new() });
            }
            Err(e) => {
                let _ = crate::memmap::unmap_el2(ITS_VA, CONTROL_SIZE);
                crate::arch::tlbi_el2(ITS_VA, CONTROL_SIZE);
                return Err(its_err(e));
            }
        }
    }
    g.as_mut().ok_or(Error::Invalid)
}

/// The collection of redistributor `frame` (LPIs turned on there first).
fn collection(s: &mut State, frame: u64) -> Result<(u16, u64), Error> {
    if let Some(c) = s.collections.iter().find(|c| c.0 == frame) {
        return Ok((frame as u16, c.1));
    }
    s.its
        .enable_redist(frame, |off, v| rd_write(frame, off, v), |off| rd_read(frame, off))
        .map_err(its_err)?;
    let frame_pa = GICR_PHYS.load(Ordering::Relaxed) + frame * super::super::redist::FRAME_SIZE;
    let rdbase = cmd::rdbase(s.its.typer.pta, frame_pa, rd_read(frame, super::regs::GICR_TYPER));
    s.its.map_collection(frame as u16, rdbase).map_err(its_err)?;
    s.collections.push((frame, rdbase));
    Ok((frame as u16, rdbase))
}

/// Create, before the hand-over: maps the DeviceIDs `bdfs` of cell `id`
/// with EventID e -> LPI 8192 + e for each of `spis`, on the collection
/// of redistributor `frame` (the cell's first CPU). Nothing is forwarded
/// until [`commit_cell`]; [`release_cell`] undoes it.
pub fn prepare_cell(id: u32, bdfs: &[u16], spis: &[u32], frame: u64) -> Result<(), Error> {
    if bdfs.is_empty() || BASE.load(Ordering::Acquire) == 0 {
        return Ok(());
    }
    let mut g = STATE.lock();
    let s = started(&mut g)?;
    let (icid, rdbase) = collection(s, frame)?;
    let max = spis.iter().copied().max().unwrap_or(32);
    let bits = super::event_bits(max);
    if bits > s.its.typer.id_bits {
        return Err(refuse(Error::Invalid, format_args!("GICv3 ITS: EventIDs up to {max} need more than its {} bits", s.its.typer.id_bits)));
    }
    for &bdf in bdfs {
        let device = u32::from(bdf);
        // DeviceID 0 is what a CPU's write to GITS_TRANSLATER carries on
        // QEMU: never mapped, so the cell's CPU cannot raise anything.
        if device == 0 || device >= s.its.dev_limit {
            return Err(refuse(
                Error::Invalid,
                format_args!("GICv3 ITS: DeviceID {device:#x} outside 1-{:#x} (device table)", s.its.dev_limit - 1),
            ));
        }
        if s.devs.iter().any(|d| d.device == device) {
            return Err(refuse(Error::Busy, format_args!("GICv3 ITS: DeviceID {device:#x} is mapped already")));
        }
    }
    let itt_bytes = (1u64 << bits) * s.its.typer.itt_entry;
    let itt_pages = itt_bytes.div_ceil(PAGE_SIZE) as usize;
    let mut cmds = Vec::new();
    cmds.try_reserve(bdfs.len() * (spis.len() + 1) + 2).map_err(|_| Error::NoMemory)?;
    for &bdf in bdfs {
        let itt = match alloc_pages(itt_pages, 1, false) {
            Ok(pa) => pa,
            Err(e) => {
                drop(g);
                release_cell(id);
                return Err(its_err(e));
            }
        };
        let device = u32::from(bdf);
        let mut events = Vec::new();
        if events.try_reserve_exact(spis.len()).is_err() {
            free_pages(itt, itt_pages);
            drop(g);
            release_cell(id);
            return Err(Error::NoMemory);
        }
        events.extend_from_slice(spis);
        cmds.push(cmd::mapd(device, Some((itt, bits))));
        cmds.extend(spis.iter().map(|&e| cmd::mapti(device, e, LPI_BASE + e, icid)));
        s.devs.push(Dev { cell: id, device, itt, itt_pages, events, icid, rdbase });
    }
    for &e in spis {
        s.its.set_property(LPI_BASE + e, true);
    }
    if let (Some(&lo), Some(&hi)) = (spis.iter().min(), spis.iter().max()) {
        s.its.publish_properties(LPI_BASE + lo..LPI_BASE + hi + 1);
    }
    cmds.push(cmd::invall(icid));
    cmds.push(cmd::sync(rdbase));
    if let Err(e) = s.its.submit(&cmds) {
        drop(g);
        release_cell(id);
        return Err(its_err(e));
    }
    Ok(())
}

/// Create's commit: the cell's LPIs forward to its SPIs from now on and
/// its distributor shows MBIS. Cannot fail.
pub fn commit_cell(id: u32) {
    let g = STATE.lock();
    let Some(s) = g.as_ref() else { return };
    let mut fwd = FORWARD.lock();
    let mut any = false;
    for d in s.devs.iter().filter(|d| d.cell == id) {
        for &e in &d.events {
            if let Some(slot) = fwd.get_mut(e as usize) {
                *slot = id as u8;
                any = true;
            }
        }
    }
    drop(fwd);
    if any {
        set_mbi(id, true);
    }
}

/// Destroy (before the cell's SPIs go back) and failed create: nothing
/// forwards to the cell any more, every event is discarded (a pending
/// LPI of it with it, so none reaches the SPI's next owner), the devices
/// unmapped, the ITS synced, the ITTs back in the pool.
pub fn release_cell(id: u32) {
    {
        let mut fwd = FORWARD.lock();
        for slot in fwd.iter_mut().filter(|s| u32::from(**s) == id) {
            *slot = 0;
        }
    }
    set_mbi(id, false);
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return };
    let (mine, keep): (Vec<Dev>, Vec<Dev>) = core::mem::take(&mut s.devs).into_iter().partition(|d| d.cell == id);
    s.devs = keep;
    if mine.is_empty() {
        return;
    }
    let mut cmds = Vec::new();
    for d in &mine {
        for &e in &d.events {
            cmds.push(cmd::discard(d.device, e));
            s.its.set_property(LPI_BASE + e, false);
        }
        cmds.push(cmd::mapd(d.device, None));
    }
    s.its.publish_properties(LPI_BASE..LPI_BASE + 1024);
    let mut targets: Vec<(u16, u64)> = mine.iter().map(|d| (d.icid, d.rdbase)).collect();
    targets.dedup();
    for (icid, rdbase) in targets {
        cmds.push(cmd::invall(icid));
        cmds.push(cmd::sync(rdbase));
    }
    let ok = s.its.submit(&cmds).is_ok();
    for d in mine {
        if ok {
            free_pages(d.itt, d.itt_pages);
        } else {
            // The ITS did not confirm it dropped the mapping: the ITT
            // stays its (leaked, never reused for anything else).
            log::warn!("GICv3 ITS: unmapping DeviceID {:#x} did not complete: its ITT stays allocated", d.device);
        }
    }
}

/// An LPI acknowledged at EL2 (already EOIed: LPIs have no active
/// state): sets its SPI pending if a cell's device mapping forwards it
/// and the cell still owns the SPI; anything else is dropped.
pub fn forward_lpi(intid: u32) {
    let Some(e) = super::spi_of_lpi(intid) else { return };
    let fwd = FORWARD.lock();
    let cell = fwd.get(e as usize).copied().unwrap_or(0);
    if cell != 0 && owner(e) == Some(cell) {
        mmio_write(gicd(0x200 + 4 * u64::from(e / 32)), 4, 1u64 << (e % 32));
    }
}

/// Hypervisor disable: the ITS stops translating, and the redistributors
/// it turned LPIs on at are asked to turn them off again (whether
/// EnableLPIs can be cleared is IMPLEMENTATION DEFINED: where it stays
/// set, the next enable's first MSI cell is refused with "a
/// redistributor has LPIs enabled" instead of sharing tables with
/// whatever the root set up). The tables stay in hypervisor memory.
pub fn shutdown() {
    let Some(mut s) = STATE.lock().take() else { return };
    s.its.stop();
    for &(frame, _) in &s.its.redists {
        rd_write(frame, super::regs::GICR_CTLR, rd_read(frame, super::regs::GICR_CTLR) & !super::regs::GICR_CTLR_ENABLE_LPIS);
    }
    let _ = crate::memmap::unmap_el2(ITS_VA, CONTROL_SIZE);
    crate::arch::tlbi_el2(ITS_VA, CONTROL_SIZE);
}

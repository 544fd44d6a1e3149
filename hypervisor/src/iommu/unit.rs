//! The hypervisor's SMMU state: the unit, the stream owners, the fault
//! counts. One lock; nothing under it edits translation tables (the
//! pool's invalidation hook takes it).

extern crate alloc;

use super::smmuv3::ste::Ste;
use super::smmuv3::Smmu;
use super::DmaDomain;
use crate::sync::Mutex;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

/// EL2 address of the unit's registers (between the interrupt
/// controller's slots and the remap window).
const SMMU_VA: u64 = crate::hv::IO_BASE + 0x800_0000;
const SMMU_ROOM: u64 = 0x100_0000;
const _: () = assert!(SMMU_VA + SMMU_ROOM <= crate::memmap::REMAP_BASE);

#[derive(Debug)]
struct State {
    smmu: Smmu,
    /// (stream, owner, VMID it translates with).
    streams: Vec<(u32, u32, u16)>,
    /// (cell, faults recorded).
    faults: Vec<(u32, u64)>,
    size: u64,
    /// S2PS: the CPUs' VTCR_EL2.PS.
    ps: u8,
}

static STATE: Mutex<Option<State>> = Mutex::new(None);
/// Set while a unit is up, so the hot paths need no lock to learn there
/// is none.
static PRESENT: AtomicBool = AtomicBool::new(false);
/// Set while the unit needs DMA mirrors (stage 1 only).
static MIRROR: AtomicBool = AtomicBool::new(false);

/// Whether an SMMU confines DMA.
pub fn present() -> bool {
    PRESENT.load(Ordering::Acquire)
}

/// Whether cells need a stage-1 DMA mirror of their stage 2.
pub fn needs_mirror() -> bool {
    MIRROR.load(Ordering::Acquire)
}

/// Brings up the first SMMUv3 unit of the system configuration (none:
/// nothing changes, DMA is unconfined). Every stream starts aborted; the
/// root's streams are attached by [`attach_root`]. Errors are errnos.
pub fn init(base: u64, size: u64) -> Result<(), i64> {
    use crate::errno::*;
    if !(super::smmuv3::regs::FRAME_SIZE..=SMMU_ROOM).contains(&size) || !base.is_multiple_of(crate::mm::PAGE_SIZE) {
        crate::println!("sysHyper: enable refused: SMMUv3 at {base:#x}: size {size:#x} is not usable");
        return Err(-EINVAL);
    }
    crate::memmap::map_el2_device(SMMU_VA, base, size).map_err(|_| -ENOMEM)?;
    crate::arch::tlbi_el2(SMMU_VA, size);
    let smmu = match Smmu::probe(SMMU_VA) {
        Ok(s) => s,
        Err(e) => {
            let _ = crate::memmap::unmap_el2(SMMU_VA, size);
            crate::arch::tlbi_el2(SMMU_VA, size);
            crate::println!("sysHyper: enable refused: SMMUv3 at {base:#x}: {e:?}");
            return Err(-ENODEV);
        }
    };
    let ps = ((crate::arch::vtcr() >> 16) & 7) as u8;
    crate::println!(
        "SMMUv3 at {base:#x}: stage {}, streams 0-{}, all aborted until described",
        if smmu.stage2 { "2 (shared with the CPUs)" } else { "1 (DMA mirror: the unit has no stage 2)" },
        smmu.sid_limit - 1
    );
    MIRROR.store(!smmu.stage2, Ordering::Release);
    *STATE.lock() = Some(State { smmu, streams: Vec::new(), faults: Vec::new(), size, ps });
    PRESENT.store(true, Ordering::Release);
    Ok(())
}

/// Prepare step of a stream hand-over: the stream is in the table's
/// range and its table page exists (may allocate; nothing observable
/// changes).
pub fn prepare_stream(sid: u32) -> Result<(), crate::error::Error> {
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return Ok(()) };
    s.smmu.ste_page(sid).map(|_| ()).map_err(|e| match e {
        super::smmuv3::hw::SmmuError::NoMemory => crate::error::Error::NoMemory,
        _ => crate::error::refuse(crate::error::Error::Invalid, format_args!("stream {sid:#x} is outside the SMMU's stream table")),
    })
}

/// Undoes [`prepare_stream`]'s allocations for streams nothing
/// translates (a create that failed after its prepare steps): the
/// stream table's level-2 pages that hold no live stream go back to the
/// pool. Called inside an ownership transaction (`cell::manage`'s
/// `with_root` holds the ledger's lock from prepare to commit), so no
/// other create sits between its prepare and its commit, relying on a
/// page this frees.
pub fn release_unused_streams(sids: &[u32]) {
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return };
    let State { smmu, streams, .. } = s;
    smmu.release_unused(sids, |sid| streams.iter().any(|e| e.0 == sid));
}

/// The cell stream `sid` translates for, if anyone's.
pub fn stream_owner(sid: u32) -> Option<u32> {
    STATE.lock().as_ref()?.streams.iter().find(|e| e.0 == sid).map(|e| e.1)
}

/// Commit step: stream `sid` translates through `d` from now on. When
/// this returns the unit has dropped the old entry and the old owner's
/// TLB entries (CFGI_STE, TLBI, SYNC), so no DMA of the stream can use
/// the old owner's translation any more. Cannot fail: a unit that does
/// not answer is reported and the stream left aborted.
pub fn assign_stream(sid: u32, d: DmaDomain) {
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return };
    let old = s.streams.iter().position(|e| e.0 == sid);
    let old_vmid = old.map(|i| s.streams.swap_remove(i).2);
    let ste = match s.smmu.target(d.vmid, d.s2_root, d.mirror, s.ps) {
        Ok(t) => t,
        Err(e) => {
            log::error!("smmuv3: stream {sid:#x}: no target ({e:?}), aborted");
            Ste::Abort
        }
    };
    if let Err(e) = s.smmu.set_ste(sid, ste, old_vmid) {
        log::error!("smmuv3: stream {sid:#x}: hand-over not confirmed ({e:?})");
    }
    if ste != Ste::Abort {
        s.streams.push((sid, d.cell, d.vmid));
    }
}

/// Commit step: stream `sid` is aborted (its owner is gone and the root
/// does not list it).
pub fn abort_stream(sid: u32) {
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return };
    let old_vmid = s.streams.iter().position(|e| e.0 == sid).map(|i| s.streams.swap_remove(i).2);
    if let Err(e) = s.smmu.set_ste(sid, Ste::Abort, old_vmid) {
        log::error!("smmuv3: stream {sid:#x}: abort not confirmed ({e:?})");
    }
}

/// The SMMU half of a stage-2 invalidation (the pool's `invalidate`):
/// when a stream translates with `vmid`, its TLB entries go too
/// (TLBI_S12_VMALL + SYNC), before the walker goes on — so a
/// break-before-make step or a hand-over is complete for devices as for
/// CPUs. Nothing to do without a unit, in stage-1 mode (mirrors have
/// their own hook), or when no stream uses the VMID: the unit then holds
/// no entry tagged with it (`Smmu::set_ste` invalidates a VMID whenever
/// a stream leaves it). The whole VMID, not the IPA range: one command
/// whatever the range, and it also drops the walk caches' entries for
/// a table page the walker is about to free. Ordering: the caller's
/// descriptor write is made visible by the CPU-side invalidation's
/// DSB ISHST and again by `commands`' DSB ISH before CMDQ_PROD; the
/// walker goes on (make step, or freeing a table) only after the SYNC
/// completed.
pub fn tlbi_stage2(vmid: u16) {
    if !present() || needs_mirror() {
        return;
    }
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return };
    if !s.streams.iter().any(|e| e.2 == vmid) {
        return;
    }
    if s.smmu.commands(&[super::smmuv3::cmd::Cmd::TlbiS12Vmall { vmid }]).is_err() {
        log::error!("smmuv3: TLBI of VMID {vmid} not confirmed");
    }
}

/// The invalidation hook of the DMA mirrors (stage-1 mode): every
/// stage-1 TLB entry of the unit (TLBI_NH_ALL + SYNC).
pub fn tlbi_dma() {
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return };
    if s.smmu.commands(&[super::smmuv3::cmd::Cmd::TlbiNhAll]).is_err() {
        log::error!("smmuv3: TLBI of the DMA mirrors not confirmed");
    }
}

/// Drains the event queue: each event printed with its stream, address
/// and the stream's owner, and counted for that owner.
pub fn poll() {
    if !present() {
        return;
    }
    let mut g = STATE.lock();
    let Some(s) = g.as_mut() else { return };
    if !s.smmu.pending() {
        return;
    }
    let State { smmu, streams, faults, .. } = s;
    // A device retrying a blocked transfer word by word fills the queue
    // in a moment: the first events of each drain are printed, the rest
    // only counted (and summed up in one line).
    let mut seen = 0u32;
    let overflow = smmu.drain(|e| {
        let owner = streams.iter().find(|x| x.0 == e.sid).map(|x| x.1);
        seen += 1;
        if seen <= PRINTED_PER_DRAIN {
            crate::println!(
                "SMMU: {} stream {:#x} ({:02x}:{:02x}.{}) {} address {:#x}, owner {}{}",
                e.name(),
                e.sid,
                (e.sid >> 8) & 0xff,
                (e.sid >> 3) & 0x1f,
                e.sid & 7,
                if e.write { "write" } else { "read" },
                e.addr,
                owner.map_or(alloc::string::String::from("none"), |c| alloc::format!("cell {c}")),
                match e.stage {
                    Some(2) => ", stage 2",
                    Some(_) => ", stage 1",
                    None => "",
                }
            );
        }
        if let Some(c) = owner {
            match faults.iter_mut().find(|f| f.0 == c) {
                Some(f) => f.1 += 1,
                None => faults.push((c, 1)),
            }
        }
    });
    if seen > PRINTED_PER_DRAIN {
        crate::println!("SMMU: {} more events{}", seen - PRINTED_PER_DRAIN,
            if overflow { " (the event queue overflowed: fault counts are lower bounds)" } else { "" });
    }
}

/// Events printed in full per drain.
const PRINTED_PER_DRAIN: u32 = 2;

/// DMA faults recorded for `cell` (and forgotten when it is destroyed).
pub fn faults(cell: u32) -> u64 {
    STATE.lock().as_ref().and_then(|s| s.faults.iter().find(|f| f.0 == cell).map(|f| f.1)).unwrap_or(0)
}

/// Forgets `cell`'s fault count (destroy).
pub fn forget(cell: u32) {
    if let Some(s) = STATE.lock().as_mut() {
        s.faults.retain(|f| f.0 != cell);
    }
}

/// (base, size) of the unit, so the root never maps it.
pub fn unit_region(sys: &crate::sysconfig::SystemView<'_>) -> Option<(u64, u64)> {
    sys.smmuv3_units().next()
}

/// Hypervisor disable: the unit goes back to how the hypervisor found
/// it — translation off and the global bypass attribute it had (a
/// Linux that never drove the unit expects its reset state: bypass) —
/// and its pages back to the pool.
pub fn shutdown() {
    PRESENT.store(false, Ordering::Release);
    // Out of the lock before any table edit (the pool's invalidation
    // hook takes it).
    let taken = STATE.lock().take();
    if let Some(mut s) = taken {
        s.smmu.shutdown();
        let _ = crate::memmap::unmap_el2(SMMU_VA, s.size);
        crate::arch::tlbi_el2(SMMU_VA, s.size);
    }
}

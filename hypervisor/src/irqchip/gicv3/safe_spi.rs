//! Safe mode for the SPIs of trapped owners (docs/direct-delivery.md,
//! "A foreign EOI"): while at least one CPU runs a cell in direct mode,
//! that cell writes ICC_EOIR1_EL1 physically and could deactivate any
//! SPI the GIC holds active. So while such a CPU exists, an SPI of the
//! root or of a trapped cell is never left physically active: EL2
//! acknowledges it, disables it in the distributor (a level interrupt
//! still asserted cannot fire again), deactivates it, and injects it with
//! HW = 0 and the list register's EOI bit. The owner's virtual EOI then
//! raises the EOI maintenance interrupt, where [`serve_eois`] frees the
//! entry and enables the SPI again, unless the owner disabled it itself
//! meanwhile (its emulated GICD_I[SC]ENABLER writes, [`enable_access`]):
//! the owner's own enable state stays authoritative.
//!
//! PPIs and SGIs are banked per CPU (a cell's EOIR1 reaches only its own
//! CPU's) and keep the HW = 1 path, the assembly fast path included;
//! SPIs go through the Rust path only while [`DIRECT_CPUS`] is nonzero
//! (`arch/aarch64/vectors.rs`, `__irq_fast_spi`, tests it with one load).

use super::phys::*;
use super::snapshot::bit_reg;
use crate::arch::gicv3 as cpuif;
use crate::arch::regval::ich;
use crate::percpu::{present_cpus, PerCpu};
use crate::sync::Mutex;
use core::sync::atomic::{AtomicU32, Ordering};

/// CPUs running a cell in direct mode (`direct::enter`/`leave`). Nonzero
/// means safe mode for new SPI deliveries; entries already in flight in
/// either mode finish in their own mode (the EOI bit says which).
pub static DIRECT_CPUS: AtomicU32 = AtomicU32::new(0);

/// ICH_LR<n>_EL2.EOI: with HW = 0, the entry's deactivation by the guest
/// raises the EOI maintenance interrupt (ICH_EISR_EL2).
use ich::LR_EOI;

/// Per SPI (bit `intid % 32` of word `intid / 32`, the distributor's own
/// layout): injected in safe mode and not yet completed by its owner, so
/// a queued one (no free list register) is injected with HW = 0 too.
static IN_FLIGHT: [AtomicU32; 32] = [const { AtomicU32::new(0) }; 32];
/// Per SPI: disabled by EL2 at acknowledgement, to be enabled again at
/// the owner's EOI. Cleared by the owner's own enable or disable write,
/// which then decides. Changed only under `DIST_LOCK`, together with the
/// distributor's enable bit, so the owner's write and ours are ordered.
static REENABLE: [AtomicU32; 32] = [const { AtomicU32::new(0) }; 32];

fn word(map: &[AtomicU32; 32], intid: u32) -> Option<(&AtomicU32, u32)> {
    map.get(intid as usize / 32).map(|w| (w, 1 << (intid % 32)))
}

/// Whether a new delivery of an SPI must avoid leaving it active.
#[inline(always)]
pub fn active() -> bool {
    DIRECT_CPUS.load(Ordering::Acquire) != 0
}

/// Serializes entries into direct mode: the first one converts what is
/// active (below) before any direct cell runs, and a second one waits for
/// that to finish.
static ENTER_LOCK: Mutex<()> = Mutex::new(());

/// A CPU (`me`, of cell `cell`) enters direct mode, before its cell runs:
/// from here no SPI of a trapped owner is delivered with HW = 1. The first
/// such CPU also takes out of the physical active state every SPI a
/// trapped owner holds from before (HW = 1 in a list register of its CPU,
/// or queued there): disabled (if enabled, to be enabled again at the
/// owner's EOI), deactivated, marked [`CONVERTED`], and its CPU kicked,
/// whose management path ([`adopt`]) turns the list register into a
/// safe-mode one. Nothing here waits for another CPU.
pub fn cpu_entered(me: &PerCpu, cell: u32) {
    let _guard = ENTER_LOCK.lock();
    if DIRECT_CPUS.fetch_add(1, Ordering::AcqRel) != 0 {
        return;
    }
    // No acknowledgement escapes both this scan and the safe path: this
    // CPU stores the count, DSB SY, then reads GICD_ISACTIVER; an
    // acknowledging CPU reads ICC_IAR1_EL1, DSB SY (which makes the new
    // active state visible, GICv3 architecture 4.1.1: `cpuif::ack` and
    // the assembly fast path's `__irq_fast_spi`), then loads the count.
    // With a full barrier between each side's write and read, at least
    // one side sees the other's: either the acknowledging CPU reads a
    // nonzero count and takes the safe path, or its SPI is already active
    // in the distributor when this scan reads it, and is converted below.
    crate::arch::dsb_sy();
    let lines = ((mmio_read(gicd(0x4), 4) & 0x1f) + 1) as usize;
    let mut kick_mask = 0u64;
    for w in 1..lines.min(32) {
        let mut active = mmio_read(gicd(0x300 + 4 * w as u64), 4) as u32;
        while active != 0 {
            let intid = (w as u32) * 32 + active.trailing_zeros();
            active &= active - 1;
            let Some(o) = owner(intid) else { continue };
            let o = u32::from(o);
            // A direct cell's own active SPI is its handler's business.
            if o == cell || present_cpus().any(|p| p.cell.load(Ordering::Relaxed) == o && super::direct::is_direct(p)) {
                continue;
            }
            if let Some((cw, cb)) = word(&CONVERTED, intid) {
                hold_disabled(intid);
                // Acknowledged by another CPU: the distributor's clear.
                let (icact, bit) = bit_reg(0x380, intid);
                mmio_write(gicd(icact), 4, u64::from(bit));
                let route = mmio_read(gicd(0x6000 + u64::from(intid) * 8), 8) & mpidr_mask();
                let target = present_cpus().find(|p| {
                    p.mpidr.load(Ordering::Relaxed) & mpidr_mask() == route
                        && !core::ptr::eq(*p, me)
                        && !super::direct::is_direct(p)
                });
                match target {
                    Some(p) => {
                        if cw.fetch_or(cb, Ordering::AcqRel) & cb == 0 {
                            CONVERTING.fetch_add(1, Ordering::AcqRel);
                        }
                        kick_mask |= 1 << (p.cpu_id.load(Ordering::Relaxed) % 64);
                    }
                    // No trapped CPU holds it (its handler is gone with a
                    // hand-over, or the owner wrote ISACTIVER itself):
                    // nothing to wait for.
                    None => finish(intid),
                }
            }
        }
    }
    for p in present_cpus() {
        if kick_mask & (1 << (p.cpu_id.load(Ordering::Relaxed) % 64)) != 0 {
            super::inject::kick(p);
        }
    }
}

fn mpidr_mask() -> u64 {
    crate::arch::regval::mpidr::AFFINITY_MASK
}

/// Per SPI: taken out of the active state by [`cpu_entered`] while its
/// owner held it with HW = 1; cleared by [`adopt`] on its CPU.
static CONVERTED: [AtomicU32; 32] = [const { AtomicU32::new(0) }; 32];
/// How many [`CONVERTED`] bits are set: the management path's one test.
static CONVERTING: AtomicU32 = AtomicU32::new(0);

/// The management path of a trapped CPU: if [`cpu_entered`] converted
/// SPIs, each of this CPU's HW = 1 list registers naming one becomes a
/// safe-mode entry (same state, HW = 0, EOI request); one queued here is
/// injected as such by the drain ([`in_flight`]); one routed here and
/// found in neither was completed before: finished now.
#[inline(always)]
pub fn adopt(cpu: &PerCpu) {
    if CONVERTING.load(Ordering::Acquire) != 0 {
        adopt_slow(cpu);
    }
}

#[inline(never)]
fn adopt_slow(cpu: &PerCpu) {
    let converted = |intid: u32| word(&CONVERTED, intid).is_some_and(|(w, b)| w.load(Ordering::Acquire) & b != 0);
    let clear = |intid: u32| {
        if let Some((w, b)) = word(&CONVERTED, intid) {
            if w.fetch_and(!b, Ordering::AcqRel) & b != 0 {
                CONVERTING.fetch_sub(1, Ordering::AcqRel);
                return true;
            }
        }
        false
    };
    for n in 0..cpuif::num_lrs() {
        let v = cpuif::read_lr(n);
        let pintid = ((v >> 32) & 0x1fff) as u32;
        if v & ich::LR_HW != 0 && ich::lr_state(v) != 0 && converted(pintid) {
            // State, group, priority and vINTID kept; HW and pINTID
            // replaced by the EOI request. The guest cannot run while we
            // rewrite it, so no EOI is lost in between.
            let keep = v & !(ich::LR_HW | (0xffff << 32));
            cpuif::write_lr(n, keep | LR_EOI);
            clear(pintid);
        }
    }
    // What this CPU has queued (looked at, left queued).
    let mut queued_map = [0u32; 32];
    cpu.irq_pending.drain(|intid| {
        if let Some(q) = queued_map.get_mut(intid as usize / 32) {
            *q |= 1 << (intid % 32);
        }
        false
    });
    let mpidr = cpu.mpidr.load(Ordering::Relaxed) & mpidr_mask();
    for (w, cw) in CONVERTED.iter().enumerate() {
        let mut bits = cw.load(Ordering::Acquire);
        while bits != 0 {
            let intid = (w as u32) * 32 + bits.trailing_zeros();
            bits &= bits - 1;
            let route = mmio_read(gicd(0x6000 + u64::from(intid) * 8), 8) & mpidr_mask();
            if route != mpidr {
                continue;
            }
            let queued = queued_map.get(w).is_some_and(|q| q & (1 << (intid % 32)) != 0);
            if clear(intid) && !queued {
                finish(intid);
            }
        }
    }
}

/// A CPU left direct mode.
pub fn cpu_left() {
    DIRECT_CPUS.fetch_sub(1, Ordering::AcqRel);
}

/// Whether `intid` was delivered in safe mode and its owner has not yet
/// completed it (a queued one is injected with [`lr`]).
pub fn in_flight(intid: u32) -> bool {
    word(&IN_FLIGHT, intid).is_some_and(|(w, b)| w.load(Ordering::Acquire) & b != 0)
}

/// The list-register value for a safe-mode SPI: virtual (HW = 0),
/// pending, with the EOI maintenance request.
pub fn lr(intid: u32) -> u64 {
    ich::lr_pending(intid, false) | LR_EOI
}

/// Takes the acknowledged (and priority-dropped) SPI `intid` out of the
/// physical active state: disabled first ([`hold_disabled`]), so a level
/// still asserted does not fire again the moment it is deactivated; then
/// deactivated. The caller injects [`lr`].
pub fn take(intid: u32) {
    hold_disabled(intid);
    cpuif::deactivate(intid);
}

/// Marks `intid` in flight and disables it if enabled (marked for
/// re-enabling at the owner's EOI).
fn hold_disabled(intid: u32) {
    let (Some((fw, fb)), Some((rw, rb))) = (word(&IN_FLIGHT, intid), word(&REENABLE, intid)) else {
        return;
    };
    fw.fetch_or(fb, Ordering::AcqRel);
    let _guard = DIST_LOCK.lock();
    let (isen, bit) = bit_reg(0x100, intid);
    // An SPI its owner disabled after the GIC signalled it stays
    // disabled: only what we disable is ours to enable again.
    if mmio_read(gicd(isen), 4) as u32 & bit != 0 {
        rw.fetch_or(rb, Ordering::Relaxed);
        let (icen, bit) = bit_reg(0x180, intid);
        mmio_write(gicd(icen), 4, u64::from(bit));
        wait_dist_rwp();
    }
}

/// The owner completed `intid` (or it leaves this CPU uninjected): no
/// longer in flight, and enabled again if we disabled it and the owner
/// did not decide otherwise since.
pub fn finish(intid: u32) {
    let (Some((fw, fb)), Some((rw, rb))) = (word(&IN_FLIGHT, intid), word(&REENABLE, intid)) else {
        return;
    };
    fw.fetch_and(!fb, Ordering::AcqRel);
    if rw.load(Ordering::Relaxed) & rb == 0 {
        return;
    }
    let _guard = DIST_LOCK.lock();
    if rw.fetch_and(!rb, Ordering::Relaxed) & rb != 0 {
        let (isen, bit) = bit_reg(0x100, intid);
        mmio_write(gicd(isen), 4, u64::from(bit));
    }
}

/// The SPI changes owner (`assign_spi`/`release_spi`, under `DIST_LOCK`):
/// a late EOI of its previous owner must not enable it for the next.
pub fn forget(intid: u32) {
    if let (Some((fw, fb)), Some((rw, rb))) = (word(&IN_FLIGHT, intid), word(&REENABLE, intid)) {
        rw.fetch_and(!rb, Ordering::Relaxed);
        fw.fetch_and(!fb, Ordering::Relaxed);
    }
    if let Some((cw, cb)) = word(&CONVERTED, intid) {
        if cw.fetch_and(!cb, Ordering::AcqRel) & cb != 0 {
            CONVERTING.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Whether list-register value `v` is a safe-mode entry.
fn is_safe_entry(v: u64) -> bool {
    v & LR_EOI != 0 && v & ich::LR_HW == 0
}

/// The EOI maintenance interrupt (and any maintenance interrupt: cheap
/// when nothing is due): every safe-mode entry the guest completed
/// (state invalid, EOI set: ELRSR does not count it free until then) is
/// cleared, which also lowers the level maintenance condition, and its
/// SPI finished.
pub fn serve_eois() {
    for n in 0..cpuif::num_lrs() {
        let v = cpuif::read_lr(n);
        if is_safe_entry(v) && ich::lr_state(v) == 0 {
            cpuif::write_lr(n, 0);
            finish(ich::lr_vintid(v) as u32);
        }
    }
}

/// This CPU's list registers are about to be dropped (hand-over): each
/// safe-mode SPI still in one is finished, so none stays disabled.
pub fn drop_cpu_entries() {
    for n in 0..cpuif::num_lrs() {
        let v = cpuif::read_lr(n);
        if is_safe_entry(v) {
            finish(ich::lr_vintid(v) as u32);
        }
    }
}

/// A trapped GICD_ISENABLER/ICENABLER access (`va`, 4 bytes) of an
/// SPI's owner, `m` the owner's bits of the register. A write decides for
/// its bits: whatever we disabled at acknowledgement is no longer ours to
/// enable again; it reaches the distributor under `DIST_LOCK`, so a
/// [`take`] on another CPU sees either the old or the new enable state
/// and records accordingly. A read reports our temporary disable as the
/// owner's enable state.
pub fn enable_access(off: u64, va: u64, write: Option<u64>, m: u64) -> u64 {
    let Some(rw) = REENABLE.get(((off & 0x7f) / 4) as usize) else { return 0 };
    let mine = (m & 0xffff_ffff) as u32;
    match write {
        Some(v) => {
            let bits = (v as u32) & mine;
            let _guard = DIST_LOCK.lock();
            rw.fetch_and(!bits, Ordering::Relaxed);
            mmio_write(va, 4, u64::from(bits));
            0
        }
        None => (mmio_read(va, 4) & m) | u64::from(rw.load(Ordering::Relaxed) & mine),
    }
}

//! What EL2 remembers about each CPU for the root's tools (issue 18):
//! a ring of the last synchronous traps, the post-mortem record of a
//! failed CPU, and log2 histograms of time spent at EL2 per exit reason
//! and of interrupt injection delay.
//!
//! All of it lives in the CPU's own per-CPU block ([`CpuTrace`] is a field
//! of `PerCpu`), written only by that CPU with plain relaxed stores (no
//! read-modify-write atomics on the exit path), read by the root through
//! the root-only hypercalls `SYSHYPER_CPU_RECORD` and
//! `SYSHYPER_CPU_LATENCY`. It is wiped whenever the CPU changes owner
//! (`PerCpu::clear_stats`: cell create and destroy), so nothing of one
//! cell is ever readable as another's, and nothing survives a destroy.
//!
//! Timestamps are CNTPCT_EL0 ticks (one `mrs`, no ISB: a read that
//! executes a few instructions early or late moves a sample by less than
//! a bucket). The PMU cycle counter would need the PMU owned by EL2
//! (MDCR_EL2.HPMN, and a cell may use the PMU itself) and costs the same
//! single `mrs`; the generic counter is always there and is the unit the
//! bench and the inmates use, so the figures compare directly.
//!
//! Histogram buckets are log2: bucket k counts samples d with
//! `d.leading_zeros() == k` (k = 64: d = 0; else 2^(63-k) <= d < 2^(64-k)).
//! Indexing by `clz` directly costs two instructions (sub, clz) and no
//! clamp; readers turn k into the range [2^(63-k), 2^(64-k)).

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

#[cfg(target_os = "none")]
pub mod read;

/// Traps kept in the ring.
pub const RING: usize = 16;
/// Words per ring entry: timestamp, ESR, ELR, detail (IPA of an abort,
/// else x0: the hypercall code or the SMC function id).
pub const RING_WORDS: usize = 4;
/// Histogram buckets (see the module comment).
pub const BUCKETS: usize = 65;

/// Exit reasons of the time-at-EL2 histograms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Exit {
    Irq = 0,
    Mmio = 1,
    Hypercall = 2,
    Smc = 3,
    Sysreg = 4,
    Other = 5,
}
/// Number of exit reasons.
pub const EXITS: usize = 6;
/// Histograms: one per exit reason, then the injection delay.
pub const HISTS: usize = EXITS + 1;
/// Index of the injection-delay histogram.
pub const HIST_INJECT: usize = EXITS;

/// Why the hypervisor stopped a CPU (word 0 of the record, upper half).
pub mod why {
    /// A data abort no MMIO handler took (outside the cell's memory, or
    /// not permitted: the DFSC says which).
    pub const DATA_ABORT: u64 = 1;
    pub const INSTRUCTION_ABORT: u64 = 2;
    pub const SYSREG: u64 = 3;
    pub const FOREIGN_HVC: u64 = 4;
    pub const UNHANDLED_EC: u64 = 5;
    pub const SERROR: u64 = 6;
    pub const AARCH32: u64 = 7;
}

/// Layout of the post-mortem record as the hypercall returns it (word
/// indices; `tools/src/driver/dump.rs` decodes the same).
pub mod rec {
    /// 1 | why << 32; 0 while no record exists.
    pub const VALID: usize = 0;
    pub const ESR: usize = 1;
    pub const FAR: usize = 2;
    pub const HPFAR: usize = 3;
    pub const IPA: usize = 4;
    pub const ELR: usize = 5;
    pub const SPSR: usize = 6;
    pub const CELL: usize = 7;
    pub const TIME: usize = 8;
    /// x0..x30.
    pub const X: usize = 9;
    /// Traps pushed in total (the ring holds the last min(n, RING)).
    pub const RING_COUNT: usize = 40;
    /// RING entries of RING_WORDS, entry i at RING_AT + i * RING_WORDS.
    pub const RING_AT: usize = 41;
    pub const WORDS: usize = RING_AT + super::RING * super::RING_WORDS;
}

/// Per-CPU trace state (a field of the per-CPU block).
#[derive(Debug)]
#[repr(C)]
pub struct CpuTrace {
    /// CNTPCT at the EL2 entry of the current exit (and the start of a
    /// restarted context, so a park is never timed as an exit).
    pub entry: AtomicU64,
    ring_count: AtomicU32,
    ring: [[AtomicU64; RING_WORDS]; RING],
    hist: [[AtomicU32; BUCKETS]; HISTS],
    /// The assembly interrupt fast path's samples (`arch/aarch64/
    /// vectors.rs`): one bucket per interrupt for both its exit time and
    /// its injection delay (they differ by the few instructions of the
    /// return), added to both histograms when read.
    fast: [AtomicU32; BUCKETS],
    record: [AtomicU64; rec::RING_AT],
}

impl Default for CpuTrace {
    fn default() -> Self {
        Self::new()
    }
}

/// Adds one to a counter only this CPU writes: a plain load and store,
/// no exclusive monitor on the exit path (readers only read).
#[inline(always)]
fn bump(c: &AtomicU32) {
    c.store(c.load(Relaxed).wrapping_add(1), Relaxed);
}

impl CpuTrace {
    /// Offset of the fast path's buckets (bucket k at `+ 4 k`).
    pub const FAST_OFFSET: usize = core::mem::offset_of!(CpuTrace, fast);

    /// An empty trace.
    pub const fn new() -> Self {
        Self {
            entry: AtomicU64::new(0),
            ring_count: AtomicU32::new(0),
            ring: [const { [const { AtomicU64::new(0) }; RING_WORDS] }; RING],
            hist: [const { [const { AtomicU32::new(0) }; BUCKETS] }; HISTS],
            fast: [const { AtomicU32::new(0) }; BUCKETS],
            record: [const { AtomicU64::new(0) }; rec::RING_AT],
        }
    }

    /// Forgets everything (new owner, or a CPU just arrived).
    pub fn clear(&self) {
        self.entry.store(0, Relaxed);
        // The valid flag first: a reader never pairs it with wiped words.
        for w in self.record.iter() {
            w.store(0, Release);
        }
        self.ring_count.store(0, Relaxed);
        self.ring.iter().flatten().for_each(|w| w.store(0, Relaxed));
        self.hist.iter().flatten().for_each(|w| w.store(0, Relaxed));
        self.fast.iter().for_each(|w| w.store(0, Relaxed));
    }

    /// A synchronous trap taken at `now`: into the ring, and `now` kept
    /// as the exit's entry time.
    #[inline(always)]
    pub fn enter_sync(&self, now: u64, esr: u64, elr: u64, detail: u64) {
        self.entry.store(now, Relaxed);
        let n = self.ring_count.load(Relaxed);
        self.ring_count.store(n.wrapping_add(1), Relaxed);
        // RING is a power of two: the mask keeps the index in range.
        if let Some(e) = self.ring.get(n as usize & (RING - 1)) {
            let [t, s, p, d] = e;
            t.store(now, Relaxed);
            s.store(esr, Relaxed);
            p.store(elr, Relaxed);
            d.store(detail, Relaxed);
        }
    }

    /// Replaces the detail word of the newest ring entry (the IPA, once
    /// a data abort has computed it).
    #[inline(always)]
    pub fn set_detail(&self, detail: u64) {
        let n = self.ring_count.load(Relaxed).wrapping_sub(1);
        if let Some([_, _, _, d]) = self.ring.get(n as usize & (RING - 1)) {
            d.store(detail, Relaxed);
        }
    }

    /// An interrupt exit taken at `now`.
    #[inline(always)]
    pub fn enter_irq(&self, now: u64) {
        self.entry.store(now, Relaxed);
    }

    /// One sample `now - entry` into histogram `h`.
    #[inline(always)]
    fn sample(&self, h: usize, now: u64) {
        // The counter only grows on one CPU; a wrapped difference (never
        // in practice) lands in a high bucket, nothing worse.
        let d = now.wrapping_sub(self.entry.load(Relaxed));
        if let Some(c) = self.hist.get(h).and_then(|b| b.get(d.leading_zeros() as usize)) {
            bump(c);
        }
    }

    /// The exit ends at `now` (just before the return to the guest).
    #[inline(always)]
    pub fn exit(&self, why: Exit, now: u64) {
        self.sample(why as usize, now);
    }

    /// The interrupt fast path: one interrupt went into a list register
    /// at `now` and the exit ends right after, so one difference and one
    /// bucket serve both the injection delay and the exit's time at EL2
    /// (they differ by the few instructions of the return).
    #[inline(always)]
    pub fn injected_and_exit(&self, now: u64) {
        let k = now.wrapping_sub(self.entry.load(Relaxed)).leading_zeros() as usize;
        for h in [Exit::Irq as usize, HIST_INJECT] {
            if let Some(c) = self.hist.get(h).and_then(|b| b.get(k)) {
                bump(c);
            }
        }
    }

    /// An interrupt went into a list register at `now`.
    #[inline(always)]
    pub fn injected(&self, now: u64) {
        self.sample(HIST_INJECT, now);
    }

    /// Keeps the post-mortem record: the failing trap's syndrome and
    /// addresses, the guest registers, and (in the ring) the traps before.
    /// Written by the failing CPU before it is marked failed; the valid
    /// word last, with release, so a reader that sees it sees the rest.
    #[allow(clippy::too_many_arguments)]
    pub fn record_failure(&self, why: u64, esr: u64, far: u64, hpfar: u64, ipa: u64, frame: &crate::trap::TrapFrame, cell: u32, now: u64) {
        let fixed = [(rec::ESR, esr), (rec::FAR, far), (rec::HPFAR, hpfar), (rec::IPA, ipa)];
        let more = [(rec::ELR, frame.elr), (rec::SPSR, frame.spsr), (rec::CELL, u64::from(cell)), (rec::TIME, now)];
        for (i, v) in fixed.into_iter().chain(more) {
            if let Some(w) = self.record.get(i) {
                w.store(v, Relaxed);
            }
        }
        for (w, &x) in self.record.iter().skip(rec::X).zip(frame.x.iter()) {
            w.store(x, Relaxed);
        }
        if let Some(w) = self.record.get(rec::VALID) {
            w.store(1 | why << 32, Release);
        }
    }

    /// Word `i` of the record (see [`rec`]); None past the end, or while
    /// no record exists (then nothing of the ring is shown either: it is
    /// only frozen once the CPU has failed).
    pub fn record_word(&self, i: usize) -> Option<u64> {
        let valid = self.record.get(rec::VALID)?.load(Acquire);
        if valid == 0 {
            return None;
        }
        if i < rec::RING_COUNT {
            return Some(self.record.get(i)?.load(Relaxed));
        }
        if i == rec::RING_COUNT {
            return Some(u64::from(self.ring_count.load(Relaxed)));
        }
        let r = i.checked_sub(rec::RING_AT)?;
        self.ring.get(r / RING_WORDS)?.get(r % RING_WORDS).map(|w| w.load(Relaxed))
    }

    /// Bucket `i % BUCKETS` of histogram `i / BUCKETS` (the fast path's
    /// samples included in the interrupt exit and injection histograms).
    pub fn hist_value(&self, i: usize) -> Option<u32> {
        let (h, k) = (i / BUCKETS, i % BUCKETS);
        let v = self.hist.get(h)?.get(k)?.load(Relaxed);
        let fast = if h == Exit::Irq as usize || h == HIST_INJECT {
            self.fast.get(k).map_or(0, |c| c.load(Relaxed))
        } else {
            0
        };
        Some(v.wrapping_add(fast))
    }

    /// One fast-path sample in bucket `k` (what the assembly does; for
    /// host tests).
    #[cfg(test)]
    fn fast_sample(&self, k: usize) {
        if let Some(c) = self.fast.get(k) {
            bump(c);
        }
    }
}

/// Lower bound (ticks) of log2 bucket `k`; the bucket ends at twice that
/// (bucket 64 holds only 0).
pub fn bucket_low(k: usize) -> u64 {
    match k {
        0..=63 => 1u64 << 63u32.saturating_sub(k as u32),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trap::TrapFrame;

    fn trace() -> Box<CpuTrace> {
        Box::new(CpuTrace::new())
    }

    #[test]
    fn log2_buckets() {
        let t = trace();
        t.enter_irq(1000);
        t.exit(Exit::Irq, 1000 + 97); // 64 <= 97 < 128: bucket 57
        t.injected(1000 + 64);
        assert_eq!(t.hist_value(57), Some(1));
        assert_eq!(t.hist_value(HIST_INJECT * BUCKETS + 57), Some(1));
        assert_eq!((bucket_low(57), bucket_low(64), bucket_low(63)), (64, 0, 1));
        t.exit(Exit::Other, 1000);
        assert_eq!(t.hist_value(Exit::Other as usize * BUCKETS + 64), Some(1));
        assert_eq!(t.hist_value(HISTS * BUCKETS), None);
        // A fast-path sample counts in both interrupt histograms only.
        t.fast_sample(57);
        assert_eq!(t.hist_value(57), Some(2));
        assert_eq!(t.hist_value(HIST_INJECT * BUCKETS + 57), Some(2));
        assert_eq!(t.hist_value(Exit::Mmio as usize * BUCKETS + 57), Some(0));
        t.clear();
        assert_eq!(t.hist_value(57), Some(0));
    }

    #[test]
    fn no_record_until_failure_then_ring_in_order() {
        let t = trace();
        for n in 0..20u64 {
            t.enter_sync(n, 0x9200_0000 | n, 0x1000 + 4 * n, n);
        }
        t.set_detail(0x4000_1000);
        assert_eq!(t.record_word(rec::ESR), None, "no failure yet: nothing readable");
        let mut f = TrapFrame { x: [0; 31], elr: 0x1234, spsr: 0x3c5, _pad: 0 };
        f.x[30] = 0xdead;
        t.record_failure(why::DATA_ABORT, 0x9380_0047, 0x1000_0000, 0x10_0000, 0x1000_0000, &f, 3, 99);
        assert_eq!(t.record_word(rec::VALID), Some(1 | why::DATA_ABORT << 32));
        assert_eq!(t.record_word(rec::ELR), Some(0x1234));
        assert_eq!(t.record_word(rec::X + 30), Some(0xdead));
        assert_eq!(t.record_word(rec::RING_COUNT), Some(20));
        // The newest (n = 19) sits at 19 % 16 = 3, with the IPA as detail.
        assert_eq!(t.record_word(rec::RING_AT + 3 * RING_WORDS + 2), Some(0x1000 + 4 * 19));
        assert_eq!(t.record_word(rec::RING_AT + 3 * RING_WORDS + 3), Some(0x4000_1000));
        assert_eq!(t.record_word(rec::WORDS), None);
        t.clear();
        assert_eq!(t.record_word(rec::ELR), None, "wiped on a change of owner");
        assert_eq!(t.hist_value(0), Some(0));
    }
}

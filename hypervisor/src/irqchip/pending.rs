//! The per-CPU queue of interrupts waiting for a free list register: one
//! bit per INTID, filled when every list register is taken and drained
//! on the underflow maintenance interrupt (or handed back to the physical
//! GIC when the CPU leaves EL2). The same for every GIC version; only the
//! list registers themselves are the implementation's.
//!
//! A CPU's queue is filled by that CPU (injection runs on the CPU whose
//! vCPU gets the interrupt) and by other CPUs posting a virtual
//! interrupt (ivshmem INTx), which kick it afterwards: every change is an
//! atomic read-modify-write, so no bit is lost, and a drain that missed a
//! bit posted meanwhile is followed by the kick's drain.
// INTIDs come from the hardware and from cells: no unchecked arithmetic.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use core::sync::atomic::{AtomicU32, Ordering};

/// Queues `intid` in `words` (bit `intid % 32` of word `intid / 32`);
/// false when the INTID lies outside the queue (it is dropped).
pub fn post(words: &[AtomicU32], intid: u32) -> bool {
    let Some(w) = words.get(intid as usize / 32) else { return false };
    w.fetch_or(1 << (intid % 32), Ordering::AcqRel);
    true
}

/// Takes every queued INTID, lowest first, and offers it to `place`;
/// those it cannot place (false) stay queued. True when none stayed.
pub fn drain(words: &[AtomicU32], mut place: impl FnMut(u32) -> bool) -> bool {
    let mut all_placed = true;
    // Word `w` holds INTIDs 32w..32w+31: its base has the low five bits
    // clear, so OR-ing the bit number in is the INTID. Empty words cost a
    // load (a word another CPU fills meanwhile is drained again when that
    // CPU's kick arrives), and only set bits are visited.
    for (base, word) in (0u32..).step_by(32).zip(words) {
        if word.load(Ordering::Relaxed) == 0 {
            continue;
        }
        let mut bits = word.swap(0, Ordering::AcqRel);
        while bits != 0 {
            let b = bits.trailing_zeros();
            bits &= bits.wrapping_sub(1);
            if !place(base | b) {
                word.fetch_or(1 << b, Ordering::AcqRel);
                all_placed = false;
            }
        }
    }
    all_placed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> [AtomicU32; 32] {
        [const { AtomicU32::new(0) }; 32]
    }

    #[test]
    fn drains_in_intid_order_and_empties() {
        let q = queue();
        for i in [144, 27, 33, 1019, 0] {
            assert!(post(&q, i));
        }
        assert!(post(&q, 27), "a second post of a queued INTID is one entry");
        let mut seen = Vec::new();
        assert!(drain(&q, |i| {
            seen.push(i);
            true
        }));
        assert_eq!(seen, [0, 27, 33, 144, 1019]);
        assert!(drain(&q, |_| panic!("empty")));
    }

    #[test]
    fn what_cannot_be_placed_stays_queued() {
        let q = queue();
        post(&q, 30);
        post(&q, 31);
        post(&q, 64);
        assert!(!drain(&q, |i| i == 31));
        let mut left = Vec::new();
        assert!(drain(&q, |i| {
            left.push(i);
            true
        }));
        assert_eq!(left, [30, 64]);
    }

    #[test]
    fn out_of_range_is_refused() {
        let q = queue();
        assert!(!post(&q, 1024));
        assert!(!post(&q, u32::MAX));
        assert!(q.iter().all(|w| w.load(Ordering::Relaxed) == 0));
    }
}

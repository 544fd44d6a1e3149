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

/// One CPU's queue: bit `intid % 32` of word `intid / 32`, and a summary
/// word whose bit `w` says word `w` may hold a bit, so a drain reads one
/// word when nothing is queued (the common case on the management-SGI
/// path: a virtual SGI between a cell's CPUs) instead of all 32.
///
/// The summary may be set for an empty word (harmless: the drain finds
/// nothing there) but never clear while its word holds a bit that no
/// drain will see. Every ordering below serves that:
/// - [`Queue::post`] sets the word's bit, then the summary bit (both
///   AcqRel read-modify-writes, so the word's change is visible to any
///   drain that sees the summary bit);
/// - [`Queue::drain`] takes the summary (swap to 0), then each word it
///   names (swap to 0). A post whose summary bit it missed set that bit
///   after the swap, so the next drain (the poster's kick) sees it; a
///   post whose word bit it missed (word swapped before the post's OR)
///   sets the summary after that, so again the next drain sees it;
/// - a bit a drain could not place goes back the same way (word, then
///   summary);
/// - [`Queue::clear`] clears the summary first, then the words: a bit
///   posted into a word after that word was cleared had its summary bit
///   set after the summary was cleared, so it survives as a pair.
#[derive(Debug)]
pub struct Queue {
    summary: AtomicU32,
    words: [AtomicU32; 32],
}

impl Default for Queue {
    fn default() -> Self {
        Self::new()
    }
}

impl Queue {
    pub const fn new() -> Self {
        Self { summary: AtomicU32::new(0), words: [const { AtomicU32::new(0) }; 32] }
    }

    /// Queues `intid`; false when it lies outside the queue (it is
    /// dropped).
    pub fn post(&self, intid: u32) -> bool {
        let w = intid as usize / 32;
        let Some(word) = self.words.get(w) else { return false };
        word.fetch_or(1 << (intid % 32), Ordering::AcqRel);
        self.summary.fetch_or(1 << w, Ordering::AcqRel);
        true
    }

    /// Takes every queued INTID, lowest first, and offers it to `place`;
    /// those it cannot place (false) stay queued. True when none stayed.
    pub fn drain(&self, mut place: impl FnMut(u32) -> bool) -> bool {
        // Empty: one load. A summary bit set by another CPU meanwhile is
        // drained when that CPU's kick arrives (it kicks after posting).
        if self.summary.load(Ordering::Relaxed) == 0 {
            return true;
        }
        let mut all_placed = true;
        let mut words = self.summary.swap(0, Ordering::AcqRel);
        while words != 0 {
            let w = words.trailing_zeros();
            words &= words.wrapping_sub(1);
            let Some(word) = self.words.get(w as usize) else { continue };
            // Word `w` holds INTIDs 32w..32w+31: its base has the low five
            // bits clear, so OR-ing the bit number in is the INTID.
            let base = w << 5;
            let mut bits = word.swap(0, Ordering::AcqRel);
            while bits != 0 {
                let b = bits.trailing_zeros();
                bits &= bits.wrapping_sub(1);
                if !place(base | b) {
                    word.fetch_or(1 << b, Ordering::AcqRel);
                    self.summary.fetch_or(1 << w, Ordering::AcqRel);
                    all_placed = false;
                }
            }
        }
        all_placed
    }

    /// Forgets everything queued (a CPU entering a context afresh).
    pub fn clear(&self) {
        self.summary.store(0, Ordering::Release);
        for w in &self.words {
            w.store(0, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue() -> Queue {
        Queue::new()
    }

    #[test]
    fn drains_in_intid_order_and_empties() {
        let q = queue();
        for i in [144, 27, 33, 1019, 0] {
            assert!(q.post(i));
        }
        assert!(q.post(27), "a second post of a queued INTID is one entry");
        let mut seen = Vec::new();
        assert!(q.drain(|i| {
            seen.push(i);
            true
        }));
        assert_eq!(seen, [0, 27, 33, 144, 1019]);
        assert!(q.drain(|_| panic!("empty")));
    }

    #[test]
    fn what_cannot_be_placed_stays_queued() {
        let q = queue();
        q.post(30);
        q.post(31);
        q.post(64);
        assert!(!q.drain(|i| i == 31));
        let mut left = Vec::new();
        assert!(q.drain(|i| {
            left.push(i);
            true
        }));
        assert_eq!(left, [30, 64]);
    }

    #[test]
    fn out_of_range_is_refused() {
        let q = queue();
        assert!(!q.post(1024));
        assert!(!q.post(u32::MAX));
        assert!(q.drain(|_| panic!("nothing queued")));
    }

    /// Posters on other threads against a draining one: every INTID
    /// posted is drained (at the latest by the drain after the posters
    /// stopped, as the kick's drain would), so none is lost between the
    /// summary and its word.
    #[test]
    fn concurrent_posts_are_never_lost() {
        use std::sync::atomic::AtomicBool;
        use std::sync::Arc;
        let q = Arc::new(queue());
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new([const { AtomicU32::new(0) }; 1024]);
        let drainer = {
            let (q, stop, seen) = (q.clone(), stop.clone(), seen.clone());
            std::thread::spawn(move || {
                let mut refuse = 0u32;
                while !stop.load(Ordering::Acquire) {
                    q.drain(|i| {
                        // Now and then one cannot be placed and stays queued.
                        refuse = refuse.wrapping_add(1);
                        if refuse.is_multiple_of(7) {
                            return false;
                        }
                        seen[i as usize].fetch_add(1, Ordering::Relaxed);
                        true
                    });
                }
            })
        };
        let posters: Vec<_> = (0..3u32)
            .map(|t| {
                let q = q.clone();
                std::thread::spawn(move || {
                    let mut posted = Vec::new();
                    let mut x = 0x9e37_79b9u32.wrapping_mul(t + 1);
                    for _ in 0..20_000 {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        let i = x % 1024;
                        assert!(q.post(i));
                        posted.push(i);
                    }
                    posted
                })
            })
            .collect();
        let posted: Vec<u32> = posters.into_iter().flat_map(|p| p.join().unwrap()).collect();
        stop.store(true, Ordering::Release);
        drainer.join().unwrap();
        assert!(q.drain(|i| {
            seen[i as usize].fetch_add(1, Ordering::Relaxed);
            true
        }));
        for i in posted {
            assert!(seen[i as usize].load(Ordering::Relaxed) > 0, "INTID {i} posted but never drained");
        }
        assert!(q.drain(|_| panic!("empty")));
    }
}

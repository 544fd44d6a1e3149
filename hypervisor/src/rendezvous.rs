//! The late-launch rendezvous: every root CPU arrives at EL2, then all of
//! them go on under the hypervisor together or all return the same error
//! to Linux. A bounded wait turns a CPU that never arrives (Linux could not
//! hand it over) into an error on every CPU instead of a frozen machine.
//!
//! One word decides: `outcome` is 0 while undecided, [`GO`] once every CPU
//! arrived, or a negative errno. It changes only from 0, by
//! compare-exchange, so exactly one decision is made and every CPU (the
//! late ones included) follows that one: no CPU can go on under the
//! hypervisor while another returns to Linux, whichever of "the last CPU
//! arrived" and "a waiter gave up" comes first.

use core::sync::atomic::{AtomicI64, AtomicU32, Ordering};

/// The outcome when every CPU arrived and none failed.
pub const GO: i64 = 1;

pub struct Rendezvous {
    arrived: AtomicU32,
    outcome: AtomicI64,
}

impl Default for Rendezvous {
    fn default() -> Self {
        Self::new()
    }
}

impl Rendezvous {
    pub const fn new() -> Rendezvous {
        Rendezvous { arrived: AtomicU32::new(0), outcome: AtomicI64::new(0) }
    }

    /// Records a failure (`err` < 0) before this CPU arrives; the first
    /// failure is what every CPU returns. Ignored once decided.
    pub fn fail(&self, err: i64) {
        let _ = self.outcome.compare_exchange(0, err, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The error decided so far, 0 when none (undecided or [`GO`]).
    pub fn error(&self) -> i64 {
        self.outcome.load(Ordering::Acquire).min(0)
    }

    /// Counts this CPU in and waits until `expected` CPUs arrived, a
    /// failure was recorded or `expired()` says to give up; the latter
    /// records `timeout_err`. Returns the decision: `Ok` under the
    /// hypervisor, `Err(errno)` back to Linux. Acquire/release on
    /// `outcome` orders everything a CPU did before its decision (per-CPU
    /// init, the failing CPU's log) before the others act on it.
    pub fn arrive_and_wait(&self, expected: u32, timeout_err: i64, mut expired: impl FnMut() -> bool) -> Result<(), i64> {
        // AcqRel: the last arriver's GO must come after every other CPU's
        // work before its own increment.
        if self.arrived.fetch_add(1, Ordering::AcqRel).wrapping_add(1) >= expected {
            let _ = self.outcome.compare_exchange(0, GO, Ordering::AcqRel, Ordering::Acquire);
        }
        loop {
            match self.outcome.load(Ordering::Acquire) {
                0 => {}
                GO => return Ok(()),
                err => return Err(err),
            }
            if expired() {
                self.fail(timeout_err);
            }
            crate::arch::cpu_relax();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    const ETIMEDOUT: i64 = -110;

    fn never() -> impl FnMut() -> bool {
        || false
    }

    #[test]
    fn all_arrive_and_go() {
        let r = Arc::new(Rendezvous::new());
        let out: Vec<_> = (0..4)
            .map(|_| {
                let r = r.clone();
                thread::spawn(move || r.arrive_and_wait(4, ETIMEDOUT, never()))
            })
            .collect();
        for t in out {
            assert_eq!(t.join().unwrap(), Ok(()));
        }
        assert_eq!(r.error(), 0);
    }

    #[test]
    fn a_failure_before_arrival_reaches_every_cpu() {
        let r = Rendezvous::new();
        r.fail(-22);
        r.fail(-12); // the first failure wins
        assert_eq!(r.error(), -22);
        for _ in 0..4 {
            assert_eq!(r.arrive_and_wait(4, ETIMEDOUT, never()), Err(-22));
        }
    }

    #[test]
    fn a_missing_cpu_times_out_everywhere_and_a_late_one_follows() {
        let r = Arc::new(Rendezvous::new());
        let deadline = Instant::now() + Duration::from_millis(50);
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let r = r.clone();
                thread::spawn(move || r.arrive_and_wait(4, ETIMEDOUT, || Instant::now() >= deadline))
            })
            .collect();
        for t in waiting {
            assert_eq!(t.join().unwrap(), Err(ETIMEDOUT));
        }
        // The fourth CPU arrives after the others gave up: it completes
        // the count but must not go on alone.
        assert_eq!(r.arrive_and_wait(4, ETIMEDOUT, never()), Err(ETIMEDOUT));
    }

    #[test]
    fn go_is_final_once_decided() {
        let r = Rendezvous::new();
        assert_eq!(r.arrive_and_wait(1, ETIMEDOUT, || true), Ok(()));
        r.fail(-5);
        assert_eq!(r.error(), 0, "a failure after GO changes nothing");
    }

    /// The last arrival racing the waiters' time-outs: whatever wins, all
    /// CPUs get the same answer.
    #[test]
    fn arrival_racing_the_timeout_gives_one_answer() {
        let mut seen = [0usize; 2];
        for round in 0..300u64 {
            let r = Arc::new(Rendezvous::new());
            let deadline = Instant::now() + Duration::from_micros(round % 40 * 5);
            let threads: Vec<_> = (0..4u64)
                .map(|i| {
                    let r = r.clone();
                    thread::spawn(move || {
                        if i == 3 {
                            while Instant::now() < deadline {
                                std::hint::spin_loop();
                            }
                        }
                        r.arrive_and_wait(4, ETIMEDOUT, || Instant::now() >= deadline)
                    })
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            assert!(results.iter().all(|x| *x == results[0]), "round {round}: {results:?}");
            seen[usize::from(results[0].is_ok())] += 1;
        }
        assert!(seen[0] > 0, "the timeout never won: the race was not exercised");
    }
}

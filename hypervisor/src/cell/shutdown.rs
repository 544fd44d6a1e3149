//! Cooperative shutdown: the comm-region message protocol of Jailhouse's
//! ABI (jailhouse-abi.md §5, docs/lifecycle.md).
//!
//! Before the root stops a running cell (load, start, destroy, and so
//! `disable`, which destroys every cell first), the hypervisor sends it
//! SHUTDOWN_REQUEST and waits for its reply; after a cell was created or
//! destroyed, the running cells get RECONFIG_COMPLETED. A cell may set its
//! own `cell_state` to RUNNING_LOCKED: then no other cell may be created,
//! loaded or destroyed. Cells with PASSIVE_COMMREG are never asked. The
//! sysHyper extension `force` (hypercall 0x101) skips both checks.
//!
//! Facts taken from Jailhouse (hypervisor/control.c, include/jailhouse/
//! hypercall.h): the sender clears `reply_from_cell` before it writes
//! `msg_to_cell` (with a store barrier between); the cell clears
//! `msg_to_cell` before it writes its reply. While waiting, a cell whose
//! `cell_state` becomes SHUT_DOWN or FAILED counts as having agreed
//! (Jailhouse's own demos end that way, without a reply); a request is
//! granted by APPROVED, a notice acknowledged by RECEIVED; any other
//! non-zero reply refuses. Creating a cell needs no cell locked; destroying
//! one needs no *other* cell locked. Unlike Jailhouse (which waits forever,
//! or `msg_reply_timeout` loop turns and then treats the cell as failed),
//! sysHyper bounds every wait by time and refuses when it runs out.
//!
//! Where the wait happens: inside the root's hypercall, bounded by the
//! physical counter ([`REPLY_TIMEOUT_MS`]). The alternative — return at
//! once and let the driver poll — would need per-cell protocol state that
//! survives between hypercalls (a message in flight, who sent it) and
//! would let another management call interleave with a half-finished
//! request. Waiting inside keeps the request, the decision and the stop
//! under the one management lock, and the cost is bounded: one root CPU
//! spends at most the timeout at EL2 (well below Linux's RCU and soft
//! lockup thresholds of 20 s and more); another root CPU that makes a
//! management call meanwhile waits for the management lock as long. The
//! cell list lock is *not* held while waiting, so the asked cell's own
//! traps (console output, PSCI) go on. The counter is time on hardware;
//! under QEMU it follows the host clock, or, with `-icount`, the
//! instruction count, and the cells' timers (which pace their polling)
//! count the same ticks, so the bound means the same to both sides.

/// Comm region fields (offsets in the page).
pub const OFF_CELL_STATE: usize = 8;
pub const OFF_MSG_TO_CELL: usize = 12;
pub const OFF_REPLY_FROM_CELL: usize = 16;

/// Messages to the cell.
pub const MSG_NONE: u32 = 0;
pub const MSG_SHUTDOWN_REQUEST: u32 = 1;
pub const MSG_RECONFIG_COMPLETED: u32 = 2;
/// Replies from the cell.
pub const REPLY_UNKNOWN: u32 = 1;
pub const REPLY_DENIED: u32 = 2;
pub const REPLY_APPROVED: u32 = 3;
pub const REPLY_RECEIVED: u32 = 4;
/// `cell_state` values.
pub const STATE_RUNNING: u32 = 0;
pub const STATE_RUNNING_LOCKED: u32 = 1;
pub const STATE_SHUT_DOWN: u32 = 2;
pub const STATE_FAILED: u32 = 3;
pub const STATE_FAILED_COMM_REV: u32 = 4;

/// Cell flag: the cell does not take part in the protocol.
pub const PASSIVE_COMMREG: u32 = 0x1;

/// How long a cell has to answer. The demos look at their comm region at
/// least every 100 ms (gic-demo's timer period, as in Jailhouse's); ten
/// times that leaves room for a loaded host under QEMU without TCG
/// icount, and keeps a refused request short for an operator.
pub const REPLY_TIMEOUT_MS: u64 = 1000;

/// What a message expects back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// SHUTDOWN_REQUEST: APPROVED grants it.
    Request,
    /// RECONFIG_COMPLETED: RECEIVED acknowledges it.
    Information,
}

/// How an exchange ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Approved or acknowledged, or the cell stopped (SHUT_DOWN / FAILED).
    Agreed,
    /// Any other reply (DENIED, UNKNOWN, garbage): the value.
    Refused(u32),
    /// No reply within [`REPLY_TIMEOUT_MS`].
    TimedOut,
}

/// What the cell's `reply_from_cell` and `cell_state` say while the
/// hypervisor waits; `None`: no answer yet.
pub fn judge(kind: Kind, reply: u32, state: u32) -> Option<Outcome> {
    if state == STATE_SHUT_DOWN || state == STATE_FAILED {
        return Some(Outcome::Agreed);
    }
    match (kind, reply) {
        (_, MSG_NONE) => None,
        (Kind::Request, REPLY_APPROVED) | (Kind::Information, REPLY_RECEIVED) => Some(Outcome::Agreed),
        (_, r) => Some(Outcome::Refused(r)),
    }
}

/// The state the root sees: the hypervisor's own, unless that is RUNNING;
/// then what the cell wrote to its `cell_state` (RUNNING_LOCKED, or
/// SHUT_DOWN / FAILED / FAILED_COMM_REV as Jailhouse's inmates and Linux
/// write them). A value outside the ABI reads as RUNNING (Jailhouse
/// returns -EINVAL for it; a cell must not be able to break `cell list`).
pub fn effective(hv: u32, comm_state: u32) -> u32 {
    if hv != STATE_RUNNING {
        return hv;
    }
    match comm_state {
        STATE_RUNNING_LOCKED | STATE_SHUT_DOWN | STATE_FAILED | STATE_FAILED_COMM_REV => comm_state,
        _ => STATE_RUNNING,
    }
}

/// Whether a cell in root-visible state `state` is asked at all (a cell
/// that is shut down or failed agrees by definition, as in Jailhouse).
pub fn is_asked(flags: u32, has_comm: bool, state: u32) -> bool {
    flags & PASSIVE_COMMREG == 0 && has_comm && (state == STATE_RUNNING || state == STATE_RUNNING_LOCKED)
}

/// A cell's life so far, for `cell list`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lifecycle {
    /// Started at least once since it was created.
    pub started: bool,
    /// Starts after the first (`cell start` after a load, or the cell's
    /// own PSCI SYSTEM_RESET).
    pub restarts: u32,
}

impl Lifecycle {
    /// Counts one start.
    pub fn on_start(&mut self) {
        if self.started {
            self.restarts = self.restarts.saturating_add(1);
        }
        self.started = true;
    }
}

#[cfg(target_os = "none")]
pub use run::*;

#[cfg(target_os = "none")]
mod run {
    extern crate alloc;

    use super::*;
    use crate::cell::{Cell, CellState, CELLS};
    use crate::error::{Error, Result};
    use crate::memmap::PoolPage;
    use alloc::vec::Vec;
    use core::mem::ManuallyDrop;

    impl Cell {
        /// Sets the hypervisor's state of the cell and mirrors it to the
        /// cell's `cell_state`, as Jailhouse keeps it there.
        pub fn set_state(&mut self, state: CellState) {
            self.state = state;
            if let Some(page) = self.comm.as_ref() {
                page.write_u32(OFF_CELL_STATE, state as u32);
            }
        }

        /// The state the root sees (`effective`).
        pub fn visible_state(&self) -> u32 {
            let comm = self.comm.as_ref().map_or(STATE_RUNNING, |p| p.read_u32(OFF_CELL_STATE));
            effective(self.state as u32, comm)
        }

        fn asked(&self) -> bool {
            is_asked(self.flags, self.comm.is_some(), self.visible_state())
        }
    }

    /// What a management call asks of the cells before it acts.
    #[derive(Clone, Copy, Debug)]
    pub struct Gate {
        /// Send SHUTDOWN_REQUEST to the target cell.
        pub ask: bool,
        /// Refuse while another cell is RUNNING_LOCKED.
        pub reconfig: bool,
        /// sysHyper extension: skip both.
        pub force: bool,
    }

    /// The first cell other than `except` that is locked.
    pub fn locked_cell(cells: &[Cell], except: Option<u32>) -> Option<u32> {
        cells.iter().skip(1).filter(|c| Some(c.id) != except).find(|c| c.visible_state() == STATE_RUNNING_LOCKED).map(|c| c.id)
    }

    /// Refuses a reconfiguration while a cell other than `except` is locked.
    pub fn reconfig_ok(cells: &[Cell], except: Option<u32>, what: &str) -> Result<()> {
        match locked_cell(cells, except) {
            Some(id) => Err(crate::error::refuse(
                Error::NotPermitted,
                format_args!("{what} refused: cell {id} is RUNNING_LOCKED"),
            )),
            None => Ok(()),
        }
    }

    /// The checks of `gate` for cell `id`; the caller holds the management
    /// lock (which keeps every cell and its comm page alive) and not the
    /// cell list.
    pub fn pass(id: u64, gate: Gate, what: &str) -> Result<()> {
        let target = {
            let cells = CELLS.lock();
            let Some(cell) = cells.iter().skip(1).find(|c| u64::from(c.id) == id) else {
                return Ok(()); // the operation itself reports it
            };
            if gate.force {
                if gate.ask && cell.asked() {
                    log::warn!("cell {id}: {what} forced, the cell is not asked");
                }
                return Ok(());
            }
            if gate.reconfig {
                reconfig_ok(&cells, Some(cell.id), what)?;
            }
            if !(gate.ask && cell.asked()) {
                return Ok(());
            }
            match cell.comm.as_ref() {
                Some(p) => (cell.id, p.phys()),
                None => return Ok(()),
            }
        };
        match exchange(&[target], MSG_SHUTDOWN_REQUEST, Kind::Request).first() {
            Some(Outcome::Agreed) | None => Ok(()),
            Some(Outcome::Refused(r)) => Err(crate::error::refuse(
                Error::NotPermitted,
                format_args!("cell {id} denied the shutdown request ({what}, reply {r})"),
            )),
            Some(Outcome::TimedOut) => Err(crate::error::refuse(
                Error::TimedOut,
                format_args!("cell {id} did not answer the shutdown request within {REPLY_TIMEOUT_MS} ms ({what})"),
            )),
        }
    }

    /// RECONFIG_COMPLETED to every running cell that takes part but
    /// `except`; the caller holds the management lock. All are told at
    /// once, so one silent cell costs one timeout, not one each.
    pub fn reconfig_completed(except: Option<u32>) {
        let targets: Vec<(u32, u64)> = {
            let cells = CELLS.lock();
            let mut t = Vec::new();
            if t.try_reserve(cells.len()).is_err() {
                return;
            }
            t.extend(
                cells
                    .iter()
                    .skip(1)
                    .filter(|c| Some(c.id) != except && c.asked())
                    .filter_map(|c| c.comm.as_ref().map(|p| (c.id, p.phys()))),
            );
            t
        };
        for (&(id, _), outcome) in targets.iter().zip(exchange(&targets, MSG_RECONFIG_COMPLETED, Kind::Information)) {
            if outcome != Outcome::Agreed {
                log::warn!("cell {id} did not acknowledge RECONFIG_COMPLETED ({outcome:?})");
            }
        }
    }

    /// The comm page at `pa` without owning it: the caller's management
    /// lock keeps its cell, and so the page, alive; never freed here.
    fn page(pa: u64) -> ManuallyDrop<PoolPage> {
        ManuallyDrop::new(PoolPage::adopt(pa))
    }

    /// Sends `msg` to every target, then waits until each has answered or
    /// the time is up.
    fn exchange(targets: &[(u32, u64)], msg: u32, kind: Kind) -> Vec<Outcome> {
        let mut out = Vec::new();
        if out.try_reserve(targets.len()).is_err() {
            return out;
        }
        for &(_, pa) in targets {
            let p = page(pa);
            p.write_u32(OFF_REPLY_FROM_CELL, MSG_NONE);
            // The cleared reply is visible before the message (DMB ISH):
            // a reply the cell writes after seeing the message cannot be
            // overwritten by the clear.
            core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
            p.write_u32(OFF_MSG_TO_CELL, msg);
            out.push(Outcome::TimedOut);
        }
        let ticks = crate::arch::counter_freq().saturating_mul(REPLY_TIMEOUT_MS) / 1000;
        let start = crate::arch::counter();
        let mut pending = targets.len();
        while pending > 0 && crate::arch::counter().wrapping_sub(start) < ticks {
            for (&(_, pa), slot) in targets.iter().zip(out.iter_mut()) {
                if *slot != Outcome::TimedOut {
                    continue;
                }
                let p = page(pa);
                if let Some(o) = judge(kind, p.read_u32(OFF_REPLY_FROM_CELL), p.read_u32(OFF_CELL_STATE)) {
                    *slot = o;
                    pending -= 1;
                }
            }
            core::hint::spin_loop();
        }
        for (&(_, pa), slot) in targets.iter().zip(out.iter()) {
            if *slot == Outcome::TimedOut {
                // Withdrawn, so that a late answer is not taken for the
                // reply to a later message.
                page(pa).write_u32(OFF_MSG_TO_CELL, MSG_NONE);
            }
        }
        out
    }

    /// sysHyper extension (hypercall 0x102, root only): how often cell
    /// `id` was started again after its first start.
    pub fn restarts(_root: crate::cell::manage::RootCaller, id: u64) -> i64 {
        CELLS.lock().iter().find(|c| u64::from(c.id) == id).map_or(Error::NoSuchCell.errno(), |c| i64::from(c.lifecycle.restarts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The values and their meaning are Jailhouse's (include/jailhouse/
    // hypercall.h, hypervisor/control.c): a cell built with Jailhouse's
    // inmate library writes these same numbers at the same offsets
    // (inmates/src/comm.rs pins the cell side).
    #[test]
    fn abi_numbers() {
        assert_eq!((OFF_CELL_STATE, OFF_MSG_TO_CELL, OFF_REPLY_FROM_CELL), (8, 12, 16));
        assert_eq!((MSG_SHUTDOWN_REQUEST, MSG_RECONFIG_COMPLETED), (1, 2));
        assert_eq!((REPLY_UNKNOWN, REPLY_DENIED, REPLY_APPROVED, REPLY_RECEIVED), (1, 2, 3, 4));
        assert_eq!((STATE_RUNNING, STATE_RUNNING_LOCKED, STATE_SHUT_DOWN, STATE_FAILED, STATE_FAILED_COMM_REV), (0, 1, 2, 3, 4));
    }

    #[test]
    fn replies_decide_requests() {
        assert_eq!(judge(Kind::Request, MSG_NONE, STATE_RUNNING), None);
        assert_eq!(judge(Kind::Request, REPLY_APPROVED, STATE_RUNNING), Some(Outcome::Agreed));
        assert_eq!(judge(Kind::Request, REPLY_DENIED, STATE_RUNNING_LOCKED), Some(Outcome::Refused(2)));
        assert_eq!(judge(Kind::Request, REPLY_UNKNOWN, STATE_RUNNING), Some(Outcome::Refused(1)));
        // RECEIVED is no approval.
        assert_eq!(judge(Kind::Request, REPLY_RECEIVED, STATE_RUNNING), Some(Outcome::Refused(4)));
        // Jailhouse's demos stop by writing SHUT_DOWN without a reply.
        assert_eq!(judge(Kind::Request, MSG_NONE, STATE_SHUT_DOWN), Some(Outcome::Agreed));
        assert_eq!(judge(Kind::Request, REPLY_DENIED, STATE_FAILED), Some(Outcome::Agreed));
        assert_eq!(judge(Kind::Information, REPLY_RECEIVED, STATE_RUNNING), Some(Outcome::Agreed));
        assert_eq!(judge(Kind::Information, REPLY_APPROVED, STATE_RUNNING), Some(Outcome::Refused(3)));
    }

    #[test]
    fn the_root_sees_the_cells_lock_only_while_running() {
        assert_eq!(effective(STATE_RUNNING, STATE_RUNNING_LOCKED), STATE_RUNNING_LOCKED);
        assert_eq!(effective(STATE_RUNNING, STATE_SHUT_DOWN), STATE_SHUT_DOWN);
        assert_eq!(effective(STATE_RUNNING, 77), STATE_RUNNING);
        assert_eq!(effective(STATE_FAILED, STATE_RUNNING_LOCKED), STATE_FAILED);
        assert_eq!(effective(STATE_SHUT_DOWN, STATE_RUNNING), STATE_SHUT_DOWN);
    }

    #[test]
    fn who_is_asked() {
        assert!(is_asked(0, true, STATE_RUNNING));
        assert!(is_asked(0x4000_0000, true, STATE_RUNNING_LOCKED));
        assert!(!is_asked(PASSIVE_COMMREG, true, STATE_RUNNING));
        assert!(!is_asked(0, false, STATE_RUNNING));
        assert!(!is_asked(0, true, STATE_SHUT_DOWN));
        assert!(!is_asked(0, true, STATE_FAILED));
    }

    #[test]
    fn restarts_count_starts_after_the_first() {
        let mut l = Lifecycle::default();
        l.on_start();
        assert_eq!(l.restarts, 0);
        l.on_start();
        l.on_start();
        assert_eq!(l.restarts, 2);
    }
}

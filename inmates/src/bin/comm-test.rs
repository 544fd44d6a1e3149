//! comm-test: a cell that answers the hypervisor's comm-region messages
//! the way its command line says (`mode=approve|deny|lock|mute`, loaded
//! with `-s "mode=deny" -a 0x1000`):
//! - approve: approves SHUTDOWN_REQUEST (as the demos do);
//! - deny: denies it;
//! - lock: sets its `cell_state` to RUNNING_LOCKED, then denies it;
//! - mute: never answers anything.
//!
//! Every mode but mute acknowledges RECONFIG_COMPLETED. Root-shared page
//! (configs/test-comm.toml): word 0 counts wake-ups (it runs), word 1 the
//! RECONFIG_COMPLETED messages seen, word 2 the shutdown requests seen,
//! word 3 the mode (1 approve, 2 deny, 3 lock, 4 mute).
//!
//! It sleeps in `wfi` between timer interrupts every 10 ms, so it looks at
//! its comm region at least that often without spinning.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use core::sync::atomic::{AtomicU64, Ordering};
    use syshyper_inmates::cmdline::Cmdline;
    use syshyper_inmates::comm::{self, Answer};
    use syshyper_inmates::gic::Gic;
    use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};
    use syshyper_inmates::{cell, console, cpu, exceptions, println, ticks};

    const WAKE_NS: u64 = 10_000_000;
    static WAKE_TICKS: AtomicU64 = AtomicU64::new(1);

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let line = console::cmdline_copy();
        let mode = Cmdline::new(&line).str("mode").unwrap_or("approve");
        let (answer, lock, code) = match mode {
            "deny" => (Answer::Deny, false, 2),
            "lock" => (Answer::Deny, true, 3),
            "mute" => (Answer::Ignore, false, 4),
            _ => (Answer::Approve, false, 1),
        };
        let (Some(comm), Some(shared)) = (cell::comm_region(), cell::shared_page()) else {
            println!("comm-test: not in a cell");
            cpu::park();
        };
        if lock {
            comm.set_cell_state(comm::CELL_RUNNING_LOCKED);
        }
        // SAFETY: the bases come from the hypervisor's comm region.
        let Ok(gic) = (unsafe { Gic::new(comm.gicd_base() as usize, comm.gicr_base() as usize) }) else {
            println!("comm-test: no GIC");
            cpu::park();
        };
        gic.init(false);
        exceptions::set_irq_handler(rearm);
        gic.enable_private(VIRT_TIMER_INTID);
        WAKE_TICKS.store(ticks::ns_to_ticks(WAKE_NS, timer::frequency()).max(1), Ordering::Relaxed);
        timer::set_deadline(timer::counter() + WAKE_TICKS.load(Ordering::Relaxed));
        cpu::irq_enable();
        shared.write(3, code);
        println!("comm-test: mode {mode}");
        let mut wakeups = 0u32;
        loop {
            cpu::wfi();
            wakeups = wakeups.wrapping_add(1);
            shared.write(0, wakeups);
            // Counted before the answer: once it has the answer, the
            // hypervisor may stop this CPU at once.
            match comm.msg_to_cell() {
                comm::MSG_RECONFIG_COMPLETED if answer != Answer::Ignore => shared.write(1, shared.read(1).wrapping_add(1)),
                comm::MSG_SHUTDOWN_REQUEST if answer != Answer::Ignore => shared.write(2, shared.read(2).wrapping_add(1)),
                _ => {}
            }
            comm.answer(answer);
        }
    }

    fn rearm(intid: u32) {
        if intid == VIRT_TIMER_INTID {
            timer::set_deadline(timer::counter() + WAKE_TICKS.load(Ordering::Relaxed));
        }
    }
}

//! uart-demo: greets, then prints `uart-demo: tick N` every
//! `TICK_PERIOD_NS` of counter time, answering comm-region messages.
//!
//! It sleeps in `wfi` between virtual-timer interrupts (every `WAKE_NS`)
//! instead of spinning: the cell's CPU then leaves the guest regularly (its
//! exit counter grows, which root-test checks) and does not steal host time
//! from the other emulated CPUs.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use core::sync::atomic::{AtomicU64, Ordering};
    use syshyper_inmates::gic::{Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
    use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};
    use syshyper_inmates::{cell, cpu, exceptions, println, ticks};

    /// 500 ms: steady, yet quick enough for tests to see several ticks.
    const TICK_PERIOD_NS: u64 = 500_000_000;
    /// Wake-up period: also bounds how late a comm-region message is seen.
    const WAKE_NS: u64 = 50_000_000;

    static WAKE_TICKS: AtomicU64 = AtomicU64::new(1);

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let comm = cell::comm_region();
        println!("uart-demo: hello from cell");
        let freq = timer::frequency();
        let sleep = start_wake_timer(comm.map(|c| (c.gicd_base(), c.gicr_base())), freq);
        let period = ticks::ns_to_ticks(TICK_PERIOD_NS, freq).max(1);
        let mut next = timer::counter() + period;
        let mut n: u64 = 0;
        loop {
            while timer::counter() < next {
                if let Some(c) = comm {
                    c.poll_messages();
                }
                if sleep {
                    cpu::wfi();
                } else {
                    cpu::cpu_relax();
                }
            }
            next += period;
            println!("uart-demo: tick {n}");
            n += 1;
        }
    }

    /// Starts the periodic wake-up interrupt; false (spin instead) when the
    /// GIC cannot be set up.
    fn start_wake_timer(bases: Option<(u64, u64)>, freq: u64) -> bool {
        let (gicd, gicr) = match bases {
            // GICv2 has no redistributor (r is 0): Gic::new finds the
            // version from the distributor, the CPU interface from the
            // comm region.
            Some((d, r)) if d != 0 => (d as usize, r as usize),
            _ => (QEMU_VIRT_GICD, QEMU_VIRT_GICR),
        };
        // SAFETY: the bases come from the hypervisor's comm region or are
        // QEMU virt's GIC when there is no comm region.
        let Ok(gic) = (unsafe { Gic::new(gicd, gicr) }) else {
            return false;
        };
        gic.init(bases.is_none());
        exceptions::set_irq_handler(rearm);
        gic.enable_private(VIRT_TIMER_INTID);
        let wake = ticks::ns_to_ticks(WAKE_NS, freq).max(1);
        WAKE_TICKS.store(wake, Ordering::Relaxed);
        timer::set_deadline(timer::counter() + wake);
        cpu::irq_enable();
        true
    }

    fn rearm(intid: u32) {
        if intid == VIRT_TIMER_INTID {
            timer::set_deadline(timer::counter() + WAKE_TICKS.load(Ordering::Relaxed));
        }
    }
}

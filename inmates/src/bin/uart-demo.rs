//! uart-demo: greets, then prints `uart-demo: tick N` every
//! `TICK_PERIOD_NS` of counter time, answering comm-region messages.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::{cell, cpu, println, ticks, timer};

    /// 500 ms: steady, yet quick enough for tests to see several ticks.
    const TICK_PERIOD_NS: u64 = 500_000_000;

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let comm = cell::comm_region();
        println!("uart-demo: hello from cell");
        let period = ticks::ns_to_ticks(TICK_PERIOD_NS, timer::frequency()).max(1);
        let mut next = timer::counter() + period;
        let mut n: u64 = 0;
        loop {
            while timer::counter() < next {
                if let Some(c) = comm {
                    c.poll_messages();
                }
                cpu::cpu_relax();
            }
            next += period;
            println!("uart-demo: tick {n}");
            n += 1;
        }
    }
}

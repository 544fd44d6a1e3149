//! `cell stats --watch`: the same output again every second, on a
//! cleared screen when stdout is a terminal; `--count N` stops after N
//! (for scripts and tests), otherwise Ctrl-C ends it.

use anyhow::Result;
use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

pub fn every_second(count: Option<u64>, mut once: impl FnMut() -> Result<()>) -> Result<()> {
    let tty = std::io::stdout().is_terminal();
    let start = Instant::now();
    let mut n = 0u64;
    loop {
        if tty {
            // Home and clear: each refresh replaces the last.
            print!("\x1b[H\x1b[2J");
        }
        once()?;
        std::io::stdout().flush()?;
        n += 1;
        if count.is_some_and(|c| n >= c) {
            return Ok(());
        }
        // Refreshes stay on whole seconds from the start, however long
        // a read took.
        let next = start + Duration::from_secs(n);
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
}

/// CNTFRQ_EL0 (user space may read it on Linux): the unit of the
/// hypervisor's timestamps. 0 where unknown (a host build).
pub fn counter_hz() -> u64 {
    #[cfg(target_arch = "aarch64")]
    {
        let f: u64;
        // SAFETY: reading CNTFRQ_EL0 has no side effect; Linux lets EL0
        // read it (CNTKCTL_EL1.EL0PCTEN/EL0VCTEN do not cover CNTFRQ).
        unsafe { core::arch::asm!("mrs {}, cntfrq_el0", out(reg) f, options(nomem, nostack)) };
        f
    }
    #[cfg(not(target_arch = "aarch64"))]
    {
        0
    }
}

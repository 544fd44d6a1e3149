//! cpu-on-loop: a two-CPU cell (configs/test-smp.toml) whose CPUs keep
//! turning each other on, for root-test's destroy race (suite "race"):
//! its first CPU starts the second, which then calls PSCI CPU_ON of the
//! first in a loop; the first, each time it runs, counts a heartbeat in the
//! root-shared page for a while (short or long, alternating at random) and
//! turns itself off. Words: 0 heartbeat, 1 starts of the first CPU,
//! 2 CPU_ON calls that succeeded, 3 = 1 once the loop runs.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::psci::{self, SecondarySlot};
    use syshyper_inmates::psci_ids::{qemu_virt_mpidr, SUCCESS};
    use syshyper_inmates::{cell, cpu, println, ticks, timer};

    static SLOTS: [SecondarySlot<4096>; 2] = [const { SecondarySlot::new() }; 2];

    syshyper_inmates::entry!(main);

    fn first() -> u64 {
        cpu::mpidr() & 0xff
    }

    /// The first CPU: heartbeats for a short or long while, then off.
    extern "C" fn beat(_: u64) -> ! {
        let Some(page) = cell::shared_page() else { cpu::park() };
        let starts = page.read(1).wrapping_add(1);
        page.write(1, starts);
        // Mostly short (the CPU is often off, so a destroy can find it
        // off), sometimes long (so a CPU still running after destroy is
        // seen by the root).
        let us = if starts % 4 == 0 { 20_000 } else { 20 };
        let end = timer::counter() + ticks::ns_to_ticks(us * 1000, timer::frequency());
        while timer::counter() < end {
            page.write(0, page.read(0).wrapping_add(1));
        }
        psci::cpu_off();
        cpu::park()
    }

    /// The second CPU: CPU_ON of the first, forever.
    extern "C" fn hammer(first: u64) -> ! {
        let Some(page) = cell::shared_page() else { cpu::park() };
        page.write(3, 1);
        let mut ok = 0u32;
        loop {
            if psci::start_cpu(&SLOTS[0], qemu_virt_mpidr(first), beat, 0) == SUCCESS {
                ok = ok.wrapping_add(1);
                page.write(2, ok);
            }
        }
    }

    fn main() -> ! {
        let me = first();
        let ret = psci::start_cpu(&SLOTS[1], qemu_virt_mpidr(me + 1), hammer, me);
        println!("cpu-on-loop: CPU {} loops CPU_ON of CPU {me}: {ret}", me + 1);
        beat(0)
    }
}

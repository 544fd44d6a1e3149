//! smp-demo: a cell with several CPUs. The first CPU starts every other CPU
//! of its cell with PSCI CPU_ON (trying each QEMU virt CPU; those outside the
//! cell are refused), and each CPU prints a line and marks itself in the
//! root-shared page: word n = `ONLINE | n` for CPU n, word `STARTED_WORD` =
//! how many CPU_ON calls succeeded.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::psci::{self, SecondarySlot};
    use syshyper_inmates::psci_ids::{qemu_virt_mpidr, SUCCESS};
    use syshyper_inmates::{cell, cpu, println};

    /// CPUs of the QEMU machine (-smp 4).
    const MAX_CPUS: usize = 4;
    const ONLINE: u32 = 0x5350_0000;
    const STARTED_WORD: usize = 8;

    static SLOTS: [SecondarySlot<4096>; MAX_CPUS] = [const { SecondarySlot::new() }; MAX_CPUS];

    syshyper_inmates::entry!(main);

    fn this_cpu() -> usize {
        (cpu::mpidr() & 0xff) as usize
    }

    fn online() {
        let n = this_cpu();
        println!("smp-demo: CPU {n} online");
        if let Some(page) = cell::shared_page() {
            page.write(n, ONLINE | n as u32);
        }
    }

    extern "C" fn secondary(_: u64) -> ! {
        online();
        cpu::park()
    }

    fn main() -> ! {
        online();
        let me = this_cpu();
        let mut started = 0u32;
        for (n, slot) in SLOTS.iter().enumerate().filter(|(n, _)| *n != me) {
            if psci::start_cpu(slot, qemu_virt_mpidr(n as u64), secondary, 0) == SUCCESS {
                started += 1;
            }
        }
        println!("smp-demo: CPU {me} started {started} more CPU(s)");
        if let Some(page) = cell::shared_page() {
            page.write(STARTED_WORD, started);
        }
        cpu::park()
    }
}

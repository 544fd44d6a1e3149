//! reg-smp: the register hand-over test inside one cell (CPUs 2-3): the
//! first CPU starts the second with PSCI CPU_ON at `regs::plant`, which
//! ends in CPU_OFF, then starts it again at the capturing probe stub
//! (`regs::root_entry`, usable by any program that starts its own CPUs)
//! and counts what leaked. Prints `reg-smp: N leaks`. Shared page:
//! word 1 = leaks, word 2 = registers checked, word 3 = registers planted
//! that read back as planted, word 0 = 1 when done.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod program {
    use core::sync::atomic::{AtomicU32, Ordering};
    use syshyper_inmates::psci::{self, SecondarySlot};
    use syshyper_inmates::psci_ids::{qemu_virt_mpidr, AFF_OFF, SUCCESS};
    use syshyper_inmates::regs::{self, root_entry::ProbeBlock};
    use syshyper_inmates::shared::{SharedPage, CELL_SHARED_PAGE};
    use syshyper_inmates::{cpu, println};

    const SECOND: u64 = 3;
    const MAX_POLLS: u64 = 50_000_000;

    static SLOT: SecondarySlot<8192> = SecondarySlot::new();
    static PROBE: ProbeBlock = ProbeBlock::new();
    static STUCK: AtomicU32 = AtomicU32::new(0);
    static LEAKS: AtomicU32 = AtomicU32::new(u32::MAX);
    static CHECKED: AtomicU32 = AtomicU32::new(0);

    extern "C" fn plant_main(_: u64) -> ! {
        regs::plant(|_, stuck| STUCK.store(stuck, Ordering::Release))
    }

    extern "C" fn probe_main(_: u64) -> ! {
        let cap = PROBE.capture();
        let (leaks, checked) = regs::probe("reg-smp: CPU 3", cap, cap.x[0] == PROBE.addr());
        CHECKED.store(checked, Ordering::Relaxed);
        LEAKS.store(leaks, Ordering::Release);
        psci::cpu_off();
        cpu::park()
    }

    /// Waits (bounded) until the second CPU is off again.
    fn wait_off(target: u64) -> bool {
        for _ in 0..MAX_POLLS {
            if psci::affinity_info(target) == AFF_OFF {
                return true;
            }
            cpu::cpu_relax();
        }
        false
    }

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        // SAFETY: the test config maps a read-write shared page there.
        let page = unsafe { SharedPage::at(CELL_SHARED_PAGE) };
        let target = qemu_virt_mpidr(SECOND);
        let planted = psci::start_cpu(&SLOT, target, plant_main, 0) == SUCCESS && wait_off(target);
        let stuck = STUCK.load(Ordering::Acquire);
        println!("reg-smp: CPU 3 planted ({planted}), {stuck} system registers read back as planted");
        let probed = PROBE.start(target, probe_main, 0) == SUCCESS && wait_off(target);
        let leaks = LEAKS.load(Ordering::Acquire);
        let checked = CHECKED.load(Ordering::Relaxed);
        println!("reg-smp: {checked} registers checked after PSCI CPU_ON inside the cell ({probed})");
        println!("reg-smp: {leaks} leaks");
        page.write(1, leaks);
        page.write(2, checked);
        page.write(3, if planted { stuck } else { 0 });
        page.write(0, 1);
        cpu::park()
    }
}

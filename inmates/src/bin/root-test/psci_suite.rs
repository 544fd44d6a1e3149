//! Suite "psci": PSCI 1.1 as emulated for the root cell. Uses CPU 2.
use crate::secondary::{slot, wait_for};
use core::sync::atomic::{AtomicU64, Ordering};
use syshyper_inmates::psci;
use syshyper_inmates::psci_ids::*;
use syshyper_inmates::{check, check_eq, cpu};

const CPU: usize = 2;
const ARG: u64 = 0x5eed_0002;
// A bound, not a delay: on the 16-CPU machine under load a started CPU can
// take long to be scheduled by QEMU.
const MAX_POLLS: u64 = 50_000_000;

/// Incremented by CPU 2 once it runs; the argument it got.
static RUNS: AtomicU64 = AtomicU64::new(0);
static GOT_ARG: AtomicU64 = AtomicU64::new(0);

extern "C" fn count_and_off(arg: u64) -> ! {
    GOT_ARG.store(arg, Ordering::Relaxed);
    RUNS.fetch_add(1, Ordering::Release);
    psci::cpu_off();
    // CPU_OFF does not return on success.
    cpu::park()
}

pub fn run() {
    check_eq!("psci: version is 1.1", psci::version(), 0x1_0001);
    check_eq!(
        "psci: features(CPU_ON) is 0",
        psci::features(CPU_ON),
        SUCCESS
    );
    check_eq!(
        "psci: features(unknown) is NOT_SUPPORTED",
        psci::features(0x8400_00ff),
        NOT_SUPPORTED
    );

    let target = qemu_virt_mpidr(CPU as u64);
    check_eq!(
        "psci: cpu 2 is off before CPU_ON",
        psci::affinity_info(target),
        AFF_OFF
    );

    let own = cpu::mpidr() & 0xff_00ff_ffff;
    check_eq!(
        "psci: CPU_ON of the calling CPU is ALREADY_ON",
        psci::cpu_on(own, 0, 0),
        ALREADY_ON
    );
    let outside = psci::cpu_on(qemu_virt_mpidr(63), 0, 0);
    check!(
        "psci: CPU_ON of a CPU outside the cell fails",
        outside < 0,
        "returned {outside}"
    );

    let ret = psci::start_cpu(slot(CPU), target, count_and_off, ARG);
    if !check_eq!("psci: CPU_ON cpu 2", ret, SUCCESS) {
        return;
    }
    let ran = wait_for(MAX_POLLS, || RUNS.load(Ordering::Acquire) == 1);
    check!(
        "psci: cpu 2 ran its entry",
        ran,
        "no increment after {MAX_POLLS} polls (runs = {})",
        RUNS.load(Ordering::Acquire)
    );
    check_eq!(
        "psci: cpu 2 got its argument",
        GOT_ARG.load(Ordering::Relaxed),
        ARG
    );
    let off = wait_for(MAX_POLLS, || psci::affinity_info(target) == AFF_OFF);
    check!(
        "psci: cpu 2 is off after CPU_OFF",
        off,
        "affinity_info {}",
        psci::affinity_info(target)
    );
}

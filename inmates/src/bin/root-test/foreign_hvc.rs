//! Suite "foreign hvc": a root CPU that issues an HVC with an immediate
//! other than 0x4a48 must be stopped (state failed) while the rest of the
//! cell keeps running. Uses CPU 1.
use crate::secondary::{slot, wait_for};
use syshyper_inmates::hvc::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, SUCCESS};
use syshyper_inmates::{check, check_eq, cpu, psci};

const CPU: u64 = 1;
const MAX_POLLS: u64 = 2_000_000;

extern "C" fn foreign_hvc(_: u64) -> ! {
    // SAFETY: the call is meant to be refused; it reads and writes no memory.
    unsafe { core::arch::asm!("hvc #1", options(nomem, nostack)) };
    cpu::park()
}

pub fn run() {
    let ret = psci::start_cpu(slot(CPU as usize), qemu_virt_mpidr(CPU), foreign_hvc, 0);
    if !check_eq!("foreign hvc: CPU_ON cpu 1", ret, SUCCESS) {
        return;
    }
    let mut last = 0;
    let failed = wait_for(MAX_POLLS, || {
        last = hvc(HC_CPU_GET_INFO, CPU, CPU_INFO_STATE);
        last == CPU_STATE_FAILED
    });
    check!(
        "foreign hvc: cpu 1 state is failed",
        failed,
        "state {last} after {MAX_POLLS} polls"
    );
    check_eq!(
        "foreign hvc: cpu 0 still running",
        hvc(HC_CPU_GET_INFO, 0, CPU_INFO_STATE),
        CPU_STATE_RUNNING
    );
    check_eq!(
        "foreign hvc: hypercalls still work",
        hvc(HC_HYPERVISOR_GET_INFO, INFO_NUM_CELLS, 0),
        1
    );
}

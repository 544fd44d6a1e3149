//! root-test: the boot-first root cell program. Runs suites of checks
//! against the hypervisor and ends the run by the protocol of contracts.md
//! (`[PASS]`/`[FAIL]` lines, summary, SYSTEM_OFF or semihosting exit 1).
//!
//! Each suite is a module with a `run()`; add new suites (cells, GIC,
//! isolation) as modules and call them from `main` below. CPUs: suites that
//! start secondaries take theirs from `secondary::slot` and document which
//! CPU they use, so suites do not fight over CPUs. Suites that need bundle
//! files (cells, gic) run only when the bundle holds them, and before
//! `foreign_hvc`, which leaves CPU 1 failed.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod bundle_info;
#[cfg(target_os = "none")]
mod cell_errors;
#[cfg(target_os = "none")]
mod cell_stress;
#[cfg(target_os = "none")]
mod cells;
#[cfg(target_os = "none")]
mod cpu_race;
#[cfg(target_os = "none")]
mod destroy_race;
#[cfg(target_os = "none")]
mod exhaustion;
#[cfg(target_os = "none")]
mod foreign_hvc;
#[cfg(target_os = "none")]
mod gic_leftover;
#[cfg(target_os = "none")]
mod gic_suite;
#[cfg(target_os = "none")]
mod hv_memory;
#[cfg(target_os = "none")]
mod hypercalls;
#[cfg(target_os = "none")]
mod ivshmem;
#[cfg(target_os = "none")]
mod lifecycle;
#[cfg(target_os = "none")]
mod passthru;
#[cfg(target_os = "none")]
mod passthru_v2m;
#[cfg(target_os = "none")]
mod psci_suite;
#[cfg(target_os = "none")]
mod reg_leaks;
#[cfg(target_os = "none")]
mod region_checks;
#[cfg(target_os = "none")]
mod root_subpage;
#[cfg(target_os = "none")]
mod secondary;
#[cfg(target_os = "none")]
mod smmu;
#[cfg(target_os = "none")]
mod subpage;
#[cfg(target_os = "none")]
mod vpci;
#[cfg(target_os = "none")]
mod vpci_configs;

#[cfg(target_os = "none")]
mod program {
    use syshyper_inmates::{check, cpu, panic, println};

    syshyper_inmates::entry!(main);

    /// Bytes of root-test's own stack.
    const STACK_SIZE: usize = 64 * 1024;

    /// root-test's stack. The library's 8 KiB boot stack is what a cell's
    /// inmate can afford in its 64 KiB of RAM, but root-test's suites go
    /// deeper (configurations copied and mutated on the stack, check
    /// lines formatted) and overflowed it into the .bss statics linked
    /// below it (psci_suite's counter, once the layout put it there).
    #[repr(C, align(16))]
    struct Stack(core::cell::UnsafeCell<[u8; STACK_SIZE]>);

    // SAFETY: only CPU 0 uses it, as its stack from `main` on.
    unsafe impl Sync for Stack {}

    static STACK: Stack = Stack(core::cell::UnsafeCell::new([0; STACK_SIZE]));

    fn main() -> ! {
        let top = (STACK.0.get() as usize + STACK_SIZE) & !0xf;
        // SAFETY: moves CPU 0 to a stack nothing else uses and never
        // returns to the boot stack's frames.
        unsafe { core::arch::asm!("mov sp, {top}", "b {run}", top = in(reg) top, run = sym run, options(noreturn)) }
    }

    extern "C" fn run() -> ! {
        panic::exit_on_panic();
        println!("root-test: started on MPIDR {:#x}", cpu::mpidr());
        let bundle = super::bundle_info::run();
        super::hypercalls::run();
        if let Some(b) = &bundle {
            if super::cells::wanted(b) {
                super::cells::run(b);
            }
            if super::gic_suite::wanted(b) {
                super::gic_suite::run(b);
            }
            if super::exhaustion::wanted(b) {
                super::exhaustion::run(b);
            }
            if super::hv_memory::wanted(b) {
                super::hv_memory::run(b);
            }
            if super::region_checks::wanted(b) {
                super::region_checks::run(b);
            }
            if super::vpci_configs::wanted(b) {
                super::vpci_configs::run(b);
            }
            if super::reg_leaks::wanted(b) {
                super::reg_leaks::run(b);
            }
            if super::subpage::wanted(b) {
                super::subpage::run(b);
            }
            if super::root_subpage::wanted(b) {
                super::root_subpage::run(b);
            }
            if super::cpu_race::wanted(b) {
                super::cpu_race::run(b);
            }
            if super::destroy_race::wanted(b) {
                super::destroy_race::run(b);
            }
            if super::ivshmem::wanted(b) {
                super::ivshmem::run(b);
            }
            if super::vpci::wanted(b) {
                super::vpci::run(b);
            }
            if super::passthru::wanted(b) {
                super::passthru::run(b);
            }
            if super::passthru_v2m::wanted(b) {
                super::passthru_v2m::run(b);
            }
            if super::smmu::wanted(b) {
                super::smmu::run(b);
            }
        }
        super::psci_suite::run();
        super::foreign_hvc::run();
        check::finish()
    }
}

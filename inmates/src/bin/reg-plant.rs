//! reg-plant: writes a distinctive value into every register class an EL1
//! program can write and read back (system registers, timers, PMU, debug,
//! the virtual GIC CPU interface, FP/SIMD, FPCR/FPSR, SP, x1-x30), then
//! turns its CPU off with PSCI CPU_OFF. The next context on this CPU
//! (`reg-probe`, or a root CPU probed by root-test) must see none of it.
//! Shared page: word 1 = system registers planted, word 2 = how many read
//! back as planted, word 0 = 1 once only the final step is left.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod program {
    use syshyper_inmates::shared::{SharedPage, CELL_SHARED_PAGE};
    use syshyper_inmates::{cpu, println, regs};

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        // SAFETY: the test configs map a read-write shared page there.
        let page = unsafe { SharedPage::at(CELL_SHARED_PAGE) };
        println!("reg-plant: planting on MPIDR {:#x}", cpu::mpidr());
        regs::plant(|planted, stuck| {
            println!("reg-plant: {planted} system registers planted, {stuck} read back as planted");
            page.write(1, planted);
            page.write(2, stuck);
            page.write(0, 1);
        })
    }
}

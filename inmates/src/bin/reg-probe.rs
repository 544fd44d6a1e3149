//! reg-probe: on entry, before the boot code touches anything, captures
//! the registers it was handed (`regs::capture_body!`), then checks them
//! and every system register against the reset state. Prints one line per
//! leaked register and `reg-probe: N leaks`. Its cell starts it with
//! x0 = 0 (sysHyper's cell start); any other x0 counts as a leak.
//! Shared page: word 1 = leaks, word 2 = registers checked, word 0 = 1
//! when done.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod program {
    use core::cell::UnsafeCell;
    use syshyper_inmates::regs::Capture;
    use syshyper_inmates::shared::{SharedPage, CELL_SHARED_PAGE};
    use syshyper_inmates::{cpu, println, regs};

    /// The entry stub's capture. In `.data`, not `.bss`: `_start` zeroes
    /// `.bss` after the stub has filled it.
    #[repr(transparent)]
    struct CaptureCell(UnsafeCell<Capture>);

    // SAFETY: written only by the entry stub of the single CPU, before any
    // Rust code runs; read afterwards.
    unsafe impl Sync for CaptureCell {}

    #[no_mangle]
    #[link_section = ".data.regs_capture"]
    static REGS_CELL_CAPTURE: CaptureCell = CaptureCell(UnsafeCell::new(Capture::new()));

    // The image's first instruction (link.ld.in puts `.text.entry` first).
    // x0 as handed over: 0 is stored as 0, anything else as a non-zero
    // marker (the capture's address), since a register must hold the base.
    core::arch::global_asm!(
        ".section .text.entry, \"ax\"",
        ".global __regprobe_start",
        "__regprobe_start:",
        "cbz x0, 1f",
        "adr x0, REGS_CELL_CAPTURE",
        "str x0, [x0]",
        "b 2f",
        "1: adr x0, REGS_CELL_CAPTURE",
        "str xzr, [x0]",
        "2:",
        syshyper_inmates::capture_body!(),
        "b _start",
    );

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        // SAFETY: see `CaptureCell`.
        let cap = unsafe { &*REGS_CELL_CAPTURE.0.get() };
        let (leaks, checked) = regs::probe("reg-probe", cap, cap.x[0] == 0);
        // SAFETY: the test configs map a read-write shared page there.
        let page = unsafe { SharedPage::at(CELL_SHARED_PAGE) };
        println!("reg-probe: {checked} registers checked on MPIDR {:#x}", cpu::mpidr());
        println!("reg-probe: {leaks} leaks");
        page.write(1, leaks);
        page.write(2, checked);
        page.write(0, 1);
        cpu::park()
    }
}

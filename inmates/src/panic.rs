//! Panic handler: prints `PANIC` and the location, then ends the program.
//! The root test program exits QEMU (semihosting status 3, contracts.md);
//! a non-root inmate must not stop the machine, so it parks its CPU.
use crate::console::RawConsole;
use core::fmt::Write;
use core::panic::PanicInfo;
use core::sync::atomic::{AtomicBool, Ordering};

/// Semihosting status of a panicking root program.
pub const PANIC_EXIT_STATUS: u32 = 3;

static EXIT_ON_PANIC: AtomicBool = AtomicBool::new(false);
static PANICKING: AtomicBool = AtomicBool::new(false);

/// Makes a panic end QEMU with status 3 instead of parking (root program).
pub fn exit_on_panic() {
    EXIT_ON_PANIC.store(true, Ordering::Relaxed);
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    crate::cpu::irq_disable();
    // A second panic (e.g. the exit below trapping without semihosting)
    // must not recurse.
    if PANICKING.swap(true, Ordering::AcqRel) {
        crate::cpu::park();
    }
    // Bypasses the console lock: the panic may have hit while it was held.
    let mut out = RawConsole;
    match info.location() {
        Some(loc) => {
            let _ = write!(
                out,
                "\nPANIC at {}:{}:{}: {}\n",
                loc.file(),
                loc.line(),
                loc.column(),
                info.message()
            );
        }
        None => {
            let _ = write!(out, "\nPANIC: {}\n", info.message());
        }
    }
    if EXIT_ON_PANIC.load(Ordering::Relaxed) {
        crate::semihosting::exit(PANIC_EXIT_STATUS);
    }
    crate::cpu::park()
}

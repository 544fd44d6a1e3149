//! PL011 console output (polled, shared by all CPUs of the program).
//!
//! No initialisation: the UART is set up by QEMU or by the root cell, and a
//! non-root cell shares it. Output holds a lock with IRQs masked so that an
//! interrupt handler printing on the same CPU cannot deadlock.
use crate::cpu;
use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

/// QEMU virt PL011 base (contracts.md: same address in every cell).
pub const PL011_BASE: usize = 0x0900_0000;
const UARTDR: usize = 0x00;
const UARTFR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;

static LOCK: AtomicBool = AtomicBool::new(false);

/// Writes bytes straight to the PL011, without the lock.
#[derive(Debug, Default)]
pub struct RawConsole;

impl RawConsole {
    pub fn putc(&mut self, byte: u8) {
        let base = PL011_BASE as *mut u32;
        // SAFETY: PL011_BASE is the PL011 of QEMU virt, mapped in every cell
        // (contracts.md); UARTFR and UARTDR are 32-bit registers in its page.
        unsafe {
            while base.byte_add(UARTFR).read_volatile() & FR_TXFF != 0 {
                cpu::cpu_relax();
            }
            base.byte_add(UARTDR).write_volatile(u32::from(byte));
        }
    }
}

impl fmt::Write for RawConsole {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.putc(b'\r');
            }
            self.putc(b);
        }
        Ok(())
    }
}

/// Prints formatted text under the console lock (used by the macros).
pub fn print_fmt(args: fmt::Arguments) {
    let daif = cpu::save_and_mask_irqs();
    while LOCK.swap(true, Ordering::Acquire) {
        cpu::cpu_relax();
    }
    let _ = fmt::Write::write_fmt(&mut RawConsole, args);
    LOCK.store(false, Ordering::Release);
    cpu::restore_daif(daif);
}

#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print_fmt(format_args!($($arg)*)) };
}

#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print_fmt(format_args!("{}\n", format_args!($($arg)*))) };
}

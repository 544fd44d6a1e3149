//! The hypervisor console: the PL011 debug UART and the console page ring
//! that the driver exposes through /dev/jailhouse, plus the `log` backend.

// Exports the console page under the symbol the header points at.
#[allow(unsafe_code)]
mod page;
#[allow(unsafe_code)]
mod pl011;

pub use page::CONSOLE_PAGE;

use crate::sync::Mutex;
use core::fmt::{self, Write};

static UART: Mutex<pl011::Pl011> = Mutex::new(pl011::Pl011::none());

/// Starts printing to the PL011 mapped at EL2 virtual address `base`.
pub fn init_uart(base: u64) {
    *UART.lock() = pl011::Pl011::new(base);
}

struct Sink<'a>(&'a mut pl011::Pl011);

impl Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.0.put(b'\r');
            }
            self.0.put(b);
            CONSOLE_PAGE.push(b);
        }
        Ok(())
    }
}

/// Prints formatted text; lines from different CPUs do not interleave.
pub fn print(args: fmt::Arguments) {
    let mut uart = UART.lock();
    let _ = Sink(&mut uart).write_fmt(args);
}

/// Prints one character for a cell (DEBUG_CONSOLE_PUTC).
pub fn putc(c: u8) {
    let mut uart = UART.lock();
    let _ = Sink(&mut uart).write_str(core::str::from_utf8(&[c]).unwrap_or("?"));
}

/// Prints without taking the lock (panic path: the lock may be held).
pub fn print_unlocked(args: fmt::Arguments) {
    let base = UART.try_lock().map(|u| u.base());
    let mut uart = pl011::Pl011::new(base.unwrap_or(pl011::last_base()));
    let _ = Sink(&mut uart).write_fmt(args);
}

/// `print!` to the hypervisor console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// `println!` to the hypervisor console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}

struct Logger;

impl log::Log for Logger {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }
    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let cpu = crate::percpu::this_cpu_id();
            println!("[{:<5} {}] {}", record.level(), cpu, record.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: Logger = Logger;

/// Installs the logger at `level`.
pub fn init_log(level: log::LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

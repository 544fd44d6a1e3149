//! The hypervisor console: the debug UART the system configuration names
//! (`uart`: PL011, 8250, xuartps) and the console page ring that the
//! driver exposes through /dev/jailhouse, plus the `log` backend.

// Exports the console page under the symbol the header points at.
#[allow(unsafe_code)]
mod page;
#[allow(unsafe_code)]
mod mmio;
pub mod uart;

pub use page::CONSOLE_PAGE;

use crate::sync::Mutex;
use core::fmt::{self, Write};

/// The debug UART: its driver and where it is mapped at EL2.
#[derive(Clone, Copy, Debug)]
struct Uart {
    kind: uart::Kind,
    regs: mmio::Device,
}

static UART: Mutex<Uart> = Mutex::new(Uart { kind: uart::Kind::None, regs: mmio::Device { base: 0 } });
/// A copy of [`UART`] for the panic path, which must not wait for the lock.
static LAST: spin::Once<Uart> = spin::Once::new();

/// Starts printing to the UART of the configuration's `console_type` and
/// `flags` (Jailhouse's values), mapped at EL2 virtual address `base`.
pub fn init_uart(base: u64, console_type: u16, flags: u16) {
    let u = Uart { kind: uart::kind(console_type, flags), regs: mmio::Device { base } };
    u.kind.enable(&u.regs);
    *UART.lock() = u;
    LAST.call_once(|| u);
}

struct Sink<'a>(&'a Uart);

impl Write for Sink<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            if b == b'\n' {
                self.0.kind.put(&self.0.regs, b'\r');
            }
            self.0.kind.put(&self.0.regs, b);
            CONSOLE_PAGE.push(b);
        }
        Ok(())
    }
}

/// Prints formatted text; lines from different CPUs do not interleave.
pub fn print(args: fmt::Arguments) {
    let uart = UART.lock();
    let _ = Sink(&uart).write_fmt(args);
}

/// Prints one character for a cell (DEBUG_CONSOLE_PUTC).
pub fn putc(c: u8) {
    let uart = UART.lock();
    let _ = Sink(&uart).write_str(core::str::from_utf8(&[c]).unwrap_or("?"));
}

/// Prints without taking the lock (panic path: the lock may be held).
pub fn print_unlocked(args: fmt::Arguments) {
    let uart = UART.try_lock().map(|u| *u).or_else(|| LAST.get().copied());
    if let Some(u) = uart {
        let _ = Sink(&u).write_fmt(args);
    }
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

//! Console output (polled, shared by all CPUs of the program).
//!
//! The UART is chosen once, at the first output, by
//! [`crate::console_select::choose`]: the image's command line first, then
//! the comm region's console field (the cell config's `console`), and QEMU
//! virt's PL011 where there is no comm region. No UART initialisation: QEMU
//! or the root has set it up, and a cell shares it. Output holds a lock with
//! IRQs masked so that an interrupt handler printing on the same CPU cannot
//! deadlock.
use crate::cmdline::{Cmdline, CMDLINE_SIZE};
use crate::console_select::{self, CellView, Choice, Uart, UartKind};
use crate::cpu;
use crate::hypercall::HC_DEBUG_CONSOLE_PUTC;
use core::fmt;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};

/// QEMU virt PL011 base (the default without a comm region).
pub const PL011_BASE: usize = console_select::QEMU_VIRT_PL011;
const UARTDR: usize = 0x00;
const UARTFR: usize = 0x18;
const FR_TXFF: u32 = 1 << 5;
/// 8250: transmit holding register 0, line status register 5.
const UART8250_THR: usize = 0;
const UART8250_LSR: usize = 5;
const LSR_THRE: u32 = 1 << 5;
/// Xilinx/Cadence UART (ZynqMP TRM, UART registers): control register
/// (TX enable bit 4, TX disable bit 5), channel status (TX FIFO full
/// bit 4) and the TX/RX FIFO.
const XUARTPS_CR: usize = 0x00;
const XUARTPS_CR_TX_EN: u32 = 1 << 4;
const XUARTPS_CR_TX_DIS: u32 = 1 << 5;
const XUARTPS_SR: usize = 0x2c;
const XUARTPS_SR_TXFULL: u32 = 1 << 4;
const XUARTPS_FIFO: usize = 0x30;
/// Bounds every wait for a full transmitter: a UART that never drains (a
/// wrong address in a config) must not hang the program forever.
const MAX_BUSY_POLLS: u32 = 1_000_000;

/// The command-line buffer at image offset 0x1000 (`link.ld.in`), zero
/// unless the loader wrote a string there (`cell load ... -s STR -a 0x1000`).
#[used]
#[no_mangle]
#[link_section = ".cmdline"]
static CMDLINE: [u8; CMDLINE_SIZE] = [0; CMDLINE_SIZE];

static LOCK: AtomicBool = AtomicBool::new(false);

const STATE_UNSET: u8 = 0;
const STATE_SET: u8 = 1;
const KIND_NONE: u8 = 0;
const KIND_PL011: u8 = 1;
const KIND_8250_1: u8 = 2;
const KIND_8250_4: u8 = 3;
const KIND_XUARTPS: u8 = 4;
static STATE: AtomicU8 = AtomicU8::new(STATE_UNSET);
static KIND: AtomicU8 = AtomicU8::new(KIND_NONE);
static BASE: AtomicUsize = AtomicUsize::new(0);
static VIRTUAL: AtomicBool = AtomicBool::new(false);

/// A copy of the command line (read volatile: the loader wrote it after the
/// link, so the compiler must not assume the zeros it was linked with).
/// Programs read their own parameters from it with [`Cmdline::new`].
pub fn cmdline_copy() -> [u8; CMDLINE_SIZE] {
    let mut buf = [0u8; CMDLINE_SIZE];
    let src = core::ptr::addr_of!(CMDLINE) as *const u8;
    for (i, b) in buf.iter_mut().enumerate() {
        // SAFETY: `i` < CMDLINE_SIZE, inside the static.
        *b = unsafe { src.add(i).read_volatile() };
    }
    buf
}

/// The console this program prints on (decided once).
pub fn choice() -> Choice {
    ensure_chosen();
    let uart = match KIND.load(Ordering::Acquire) {
        KIND_PL011 => Some((UartKind::Pl011, 4)),
        KIND_8250_1 => Some((UartKind::Ns8250, 1)),
        KIND_8250_4 => Some((UartKind::Ns8250, 4)),
        KIND_XUARTPS => Some((UartKind::Xuartps, 4)),
        _ => None,
    };
    Choice {
        uart: uart.map(|(kind, regdist)| Uart {
            kind,
            base: BASE.load(Ordering::Acquire),
            regdist,
        }),
        virtual_console: VIRTUAL.load(Ordering::Acquire),
    }
}

/// Decides the console on first use. Two CPUs racing here compute the same
/// answer from the same inputs, so a double store is harmless.
fn ensure_chosen() {
    if STATE.load(Ordering::Acquire) == STATE_SET {
        return;
    }
    let line = cmdline_copy();
    let cell = crate::cell::comm_region().map(|c| CellView {
        console: c.console(),
        comm_flags: c.flags(),
    });
    let c = console_select::choose(cell, &Cmdline::new(&line));
    let kind = match c.uart {
        None => KIND_NONE,
        Some(Uart { kind: UartKind::Pl011, .. }) => KIND_PL011,
        Some(Uart { kind: UartKind::Ns8250, regdist: 1, .. }) => KIND_8250_1,
        Some(Uart { kind: UartKind::Ns8250, .. }) => KIND_8250_4,
        Some(Uart { kind: UartKind::Xuartps, base, .. }) => {
            enable_xuartps_tx(base);
            KIND_XUARTPS
        }
    };
    BASE.store(c.uart.map_or(0, |u| u.base), Ordering::Release);
    KIND.store(kind, Ordering::Release);
    VIRTUAL.store(c.virtual_console, Ordering::Release);
    STATE.store(STATE_SET, Ordering::Release);
}

/// A Cadence UART nobody opened (UART 1 of a ZCU102 that Linux probed but
/// never used) has its transmitter disabled after reset, and a disabled
/// transmitter drops what is written to its FIFO: enable it, leaving the
/// receiver and the line settings (the boot loader's or Linux's) as they
/// are. Enabling an already enabled transmitter changes nothing, so a UART
/// shared with the root is not disturbed.
fn enable_xuartps_tx(base: usize) {
    // SAFETY: the control register of the UART the cell config names (see
    // RawConsole::putc on what an address the cell may not access does).
    unsafe {
        let cr = (base + XUARTPS_CR) as *mut u32;
        let v = cr.read_volatile();
        if v & XUARTPS_CR_TX_EN == 0 || v & XUARTPS_CR_TX_DIS != 0 {
            cr.write_volatile((v & !XUARTPS_CR_TX_DIS) | XUARTPS_CR_TX_EN);
        }
    }
}

fn wait_until(mut ready: impl FnMut() -> bool) {
    for _ in 0..MAX_BUSY_POLLS {
        if ready() {
            return;
        }
        cpu::cpu_relax();
    }
}

/// Writes bytes straight to the chosen console, without the lock.
#[derive(Debug, Default)]
pub struct RawConsole;

impl RawConsole {
    pub fn putc(&mut self, byte: u8) {
        ensure_chosen();
        let base = BASE.load(Ordering::Acquire);
        // `base` is the UART the cell config (or the command line the cell's
        // loader gave) names, or QEMU virt's PL011 without a comm region. An
        // address the cell may not access aborts into the hypervisor, which
        // stops this cell only.
        match KIND.load(Ordering::Acquire) {
            // SAFETY: PL011 registers DR and FR, 32-bit, inside its page.
            KIND_PL011 => unsafe {
                let b = base as *mut u32;
                wait_until(|| b.byte_add(UARTFR).read_volatile() & FR_TXFF == 0);
                b.byte_add(UARTDR).write_volatile(u32::from(byte));
            },
            // SAFETY: 8250 THR and LSR, 32-bit registers 4 bytes apart.
            KIND_8250_4 => unsafe {
                let b = base as *mut u32;
                wait_until(|| b.add(UART8250_LSR).read_volatile() & LSR_THRE != 0);
                b.add(UART8250_THR).write_volatile(u32::from(byte));
            },
            // SAFETY: 8250 THR and LSR, 8-bit registers 1 byte apart.
            KIND_8250_1 => unsafe {
                let b = base as *mut u8;
                wait_until(|| u32::from(b.add(UART8250_LSR).read_volatile()) & LSR_THRE != 0);
                b.add(UART8250_THR).write_volatile(byte);
            },
            // SAFETY: Cadence UART SR and FIFO, 32-bit, inside its page.
            KIND_XUARTPS => unsafe {
                let b = base as *mut u32;
                wait_until(|| b.byte_add(XUARTPS_SR).read_volatile() & XUARTPS_SR_TXFULL == 0);
                b.byte_add(XUARTPS_FIFO).write_volatile(u32::from(byte));
            },
            _ => {}
        }
        if VIRTUAL.load(Ordering::Acquire) {
            crate::hvc::hvc(HC_DEBUG_CONSOLE_PUTC, u64::from(byte), 0);
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

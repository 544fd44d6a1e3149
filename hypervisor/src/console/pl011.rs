//! Output-only PL011 driver at an EL2 virtual address.

use core::sync::atomic::{AtomicU64, Ordering};

const DR: u64 = 0x00;
const FR: u64 = 0x18;
const FR_TXFF: u32 = 1 << 5;

static LAST_BASE: AtomicU64 = AtomicU64::new(0);

/// Base of the most recently initialised UART (0 = none).
pub fn last_base() -> u64 {
    LAST_BASE.load(Ordering::Relaxed)
}

/// A PL011 transmitter; base 0 means "no console yet" and drops output.
#[derive(Debug)]
pub struct Pl011 {
    base: u64,
}

impl Pl011 {
    /// No UART.
    pub const fn none() -> Self {
        Self { base: 0 }
    }

    /// The UART mapped (device memory) at `base`.
    pub fn new(base: u64) -> Self {
        LAST_BASE.store(base, Ordering::Relaxed);
        Self { base }
    }

    /// Its base address.
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Sends one byte, waiting while the FIFO is full.
    pub fn put(&mut self, b: u8) {
        if self.base == 0 || cfg!(not(target_os = "none")) {
            return;
        }
        let fr = (self.base + FR) as *const u32;
        let dr = (self.base + DR) as *mut u32;
        // SAFETY: `base` is the PL011 mapped as device memory in the EL2
        // table for the hypervisor's lifetime; FR and DR are its registers.
        unsafe {
            while fr.read_volatile() & FR_TXFF != 0 {
                crate::arch::cpu_relax();
            }
            dr.write_volatile(u32::from(b));
        }
    }
}

//! The debug UART's registers as mapped (device memory) at EL2.

use super::uart::Regs;

/// A UART at EL2 virtual address `base` (0: none; every access is then
/// skipped, and so are all of them on the host, where nothing is mapped).
#[derive(Clone, Copy, Debug)]
pub struct Device {
    pub base: u64,
}

impl Device {
    fn live(&self) -> bool {
        self.base != 0 && cfg!(target_os = "none")
    }
}

impl Regs for Device {
    fn read8(&self, off: u64) -> u8 {
        if !self.live() {
            return 0;
        }
        // `base` is the configured debug UART, mapped as device memory in
        // the EL2 table for the hypervisor's lifetime (one page,
        // memmap::build_el2_map); the drivers' offsets lie within its
        // register block, naturally aligned. A device read has no effect
        // on memory.
        // SAFETY: the mapping and offsets just described.
        unsafe { ((self.base + off) as *const u8).read_volatile() }
    }
    fn read32(&self, off: u64) -> u32 {
        if !self.live() {
            return 0;
        }
        // SAFETY: as in `read8`.
        unsafe { ((self.base + off) as *const u32).read_volatile() }
    }
    fn write8(&self, off: u64, v: u8) {
        if self.live() {
            // SAFETY: as in `read8`; a transmit register write.
            unsafe { ((self.base + off) as *mut u8).write_volatile(v) }
        }
    }
    fn write32(&self, off: u64, v: u32) {
        if self.live() {
            // SAFETY: as in `read8`; a transmit register write.
            unsafe { ((self.base + off) as *mut u32).write_volatile(v) }
        }
    }
}

//! Loads and stores to device memory mapped at EL2 (the sub-page windows).

/// Reads `size` (1, 2, 4, 8) bytes at `va`.
pub fn read(va: u64, size: u8) -> u64 {
    // Callers pass an address inside a sub-page window page, mapped as
    // device memory at EL2 while they hold the cell list lock, aligned for
    // `size` (`subpage::forward` splits anything else into bytes).
    // SAFETY: mapped and aligned as above; a device read touches no memory
    // the hypervisor relies on.
    unsafe { crate::arch::device::read(va, size) }
}

/// Writes the low `size` bytes of `v` at `va`.
pub fn write(va: u64, size: u8, v: u64) {
    // SAFETY: as in `read`: a mapped, aligned device register of a region
    // the cell was given; the store reaches only that device.
    unsafe { crate::arch::device::write(va, size, v) }
}

//! Loads and stores to device memory mapped at EL2 (the sub-page windows).

/// Reads `size` (1, 2, 4, 8) bytes at `va`.
pub fn read(va: u64, size: u8) -> u64 {
    // SAFETY: callers pass an address inside a sub-page window page, which
    // the cell's table keeps mapped as device memory at EL2 while the
    // caller holds the cell list lock, naturally aligned for `size`
    // (`subpage::forward` splits anything else into bytes). A device read
    // has no effect on memory the hypervisor relies on.
    unsafe { crate::arch::device::read(va, size) }
}

/// Writes the low `size` bytes of `v` at `va`.
pub fn write(va: u64, size: u8, v: u64) {
    // SAFETY: as in `read`: a mapped, aligned device register of a region
    // the cell was given; the store reaches only that device.
    unsafe { crate::arch::device::write(va, size, v) }
}

//! Loads and stores to device memory mapped at EL2 (the sub-page windows).

/// Reads `size` (1, 2, 4, 8) bytes at `va`.
pub fn read(va: u64, size: u8) -> u64 {
    // SAFETY: callers pass an address inside a sub-page window page, which
    // the cell's table keeps mapped as device memory at EL2 while the
    // caller holds the cell list lock, naturally aligned for `size`
    // (`subpage::forward` splits anything else into bytes). A device read
    // has no effect on memory the hypervisor relies on.
    unsafe {
        match size {
            1 => u64::from((va as *const u8).read_volatile()),
            2 => u64::from((va as *const u16).read_volatile()),
            4 => u64::from((va as *const u32).read_volatile()),
            _ => (va as *const u64).read_volatile(),
        }
    }
}

/// Writes the low `size` bytes of `v` at `va`.
pub fn write(va: u64, size: u8, v: u64) {
    // SAFETY: as in `read`: a mapped, aligned device register of a region
    // the cell was given; the store reaches only that device.
    unsafe {
        match size {
            1 => (va as *mut u8).write_volatile(v as u8),
            2 => (va as *mut u16).write_volatile(v as u16),
            4 => (va as *mut u32).write_volatile(v as u32),
            _ => (va as *mut u64).write_volatile(v),
        }
    }
}

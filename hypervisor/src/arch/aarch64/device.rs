//! Loads and stores of one device register through an EL2 mapping: the
//! one place that turns an address into a volatile access of 1, 2, 4 or 8
//! bytes (the GIC emulation and the sub-page windows both use it).

/// Reads `size` (1, 2, 4; anything else: 8) bytes at `va`.
///
/// # Safety
/// `va` must be mapped at EL2 as device memory for the whole access,
/// naturally aligned for `size`, and be a register whose read has no
/// effect on memory the hypervisor relies on.
pub unsafe fn read(va: u64, size: u8) -> u64 {
    // SAFETY: the caller's contract above.
    unsafe {
        match size {
            1 => u64::from((va as *const u8).read_volatile()),
            2 => u64::from((va as *const u16).read_volatile()),
            4 => u64::from((va as *const u32).read_volatile()),
            _ => (va as *const u64).read_volatile(),
        }
    }
}

/// Writes the low `size` (1, 2, 4; anything else: 8) bytes of `v` at `va`.
///
/// # Safety
/// As for [`read`]; the store must reach only the device the caller means.
pub unsafe fn write(va: u64, size: u8, v: u64) {
    // SAFETY: the caller's contract above.
    unsafe {
        match size {
            1 => (va as *mut u8).write_volatile(v as u8),
            2 => (va as *mut u16).write_volatile(v as u16),
            4 => (va as *mut u32).write_volatile(v as u32),
            _ => (va as *mut u64).write_volatile(v),
        }
    }
}

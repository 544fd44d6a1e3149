//! Barriers and data-cache maintenance by address for memory shared with
//! other cells (see `ivshmem`'s module comment for why an inmate running
//! with its MMU off still cleans and invalidates). On the host (unit tests)
//! they are compiler fences only.

/// Data synchronization barrier (full system): every earlier memory access
/// and cache maintenance is complete before any later access.
#[inline(always)]
pub fn dsb() {
    #[cfg(target_os = "none")]
    // SAFETY: a barrier has no effect besides ordering.
    unsafe {
        core::arch::asm!("dsb sy", options(nostack, preserves_flags))
    };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Data memory barrier (full system): orders earlier before later accesses.
#[inline(always)]
pub fn dmb() {
    #[cfg(target_os = "none")]
    // SAFETY: as in `dsb`.
    unsafe {
        core::arch::asm!("dmb sy", options(nostack, preserves_flags))
    };
    core::sync::atomic::compiler_fence(core::sync::atomic::Ordering::SeqCst);
}

/// Smallest data-cache line (CTR_EL0.DminLine, in bytes).
#[cfg(target_os = "none")]
fn dcache_line() -> u64 {
    let ctr: u64;
    // SAFETY: reading CTR_EL0 has no side effects.
    unsafe {
        core::arch::asm!("mrs {}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags))
    };
    4 << ((ctr >> 16) & 0xf)
}

/// Cleans and invalidates `[addr, addr + len)` to the point of coherency
/// (DC CIVAC per line, broadcast to every cache of the shareability
/// domain), then DSB. Needs only read permission at stage 2, so it may be
/// used on read-only shared sections.
pub fn clean_invalidate(addr: u64, len: u64) {
    #[cfg(target_os = "none")]
    {
        let line = dcache_line();
        let mut a = addr & !(line - 1);
        let end = addr.saturating_add(len);
        while a < end {
            // SAFETY: cache maintenance by VA of memory this cell maps (the
            // caller's range); it changes no data as seen by any observer.
            unsafe {
                core::arch::asm!("dc civac, {}", in(reg) a, options(nostack, preserves_flags))
            };
            a += line;
        }
    }
    #[cfg(not(target_os = "none"))]
    let _ = (addr, len);
    dsb();
}

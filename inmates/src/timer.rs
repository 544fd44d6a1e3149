//! EL1 virtual timer (CNTV_*) and the virtual counter. Its interrupt is PPI
//! [`VIRT_TIMER_INTID`].
use core::arch::asm;

/// INTID of the EL1 virtual timer on QEMU virt (PPI 11).
pub const VIRT_TIMER_INTID: u32 = 27;

const CTL_ENABLE: u64 = 1 << 0;
const CTL_IMASK: u64 = 1 << 1;

/// Counter frequency in Hz (CNTFRQ_EL0).
pub fn frequency() -> u64 {
    let v: u64;
    // SAFETY: reading CNTFRQ_EL0 has no side effects.
    unsafe { asm!("mrs {}, cntfrq_el0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Current virtual count (CNTVCT_EL0), ordered after earlier instructions.
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: the isb keeps the read from being taken early; reading
    // CNTVCT_EL0 has no side effects.
    unsafe {
        asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack, preserves_flags))
    };
    v
}

/// Fires the timer when the counter reaches `deadline` (CNTV_CVAL_EL0).
pub fn set_deadline(deadline: u64) {
    // SAFETY: programs this CPU's virtual timer only.
    unsafe {
        asm!(
            "msr cntv_cval_el0, {d}",
            "msr cntv_ctl_el0, {ctl}",
            "isb",
            d = in(reg) deadline,
            ctl = in(reg) CTL_ENABLE,
            options(nomem, nostack, preserves_flags),
        );
    }
}

/// Fires the timer `ticks` from now (CNTV_TVAL_EL0).
pub fn set_timeout(ticks: u32) {
    // SAFETY: programs this CPU's virtual timer only.
    unsafe {
        asm!(
            "msr cntv_tval_el0, {t}",
            "msr cntv_ctl_el0, {ctl}",
            "isb",
            t = in(reg) u64::from(ticks),
            ctl = in(reg) CTL_ENABLE,
            options(nomem, nostack, preserves_flags),
        );
    }
}

/// Stops the timer and its interrupt.
pub fn stop() {
    // SAFETY: programs this CPU's virtual timer only.
    unsafe {
        asm!("msr cntv_ctl_el0, {}", "isb", in(reg) CTL_IMASK, options(nomem, nostack, preserves_flags))
    };
}

/// Busy-waits (yielding) for `ns` nanoseconds of counter time.
pub fn delay_ns(ns: u64) {
    let end = counter().saturating_add(crate::ticks::ns_to_ticks(ns, frequency()));
    while counter() < end {
        crate::cpu::cpu_relax();
    }
}

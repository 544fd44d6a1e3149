//! SMC Calling Convention call through `smc #0` (how cells reach PSCI).
use core::arch::asm;

/// Calls function `id` with three arguments; returns x0.
pub fn smc(id: u32, a1: u64, a2: u64, a3: u64) -> i64 {
    let ret: u64;
    // SAFETY: SMCCC: x0..x3 carry the call, x0..x17 may be clobbered by the
    // callee (declared), memory of this program is not touched.
    unsafe {
        asm!(
            "smc #0",
            inout("x0") u64::from(id) => ret,
            inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _,
            out("x8") _, out("x9") _, out("x10") _, out("x11") _,
            out("x12") _, out("x13") _, out("x14") _, out("x15") _,
            out("x16") _, out("x17") _,
            options(nostack),
        );
    }
    ret as i64
}

//! The parts of a CPU's state that must not reach its next owner beyond
//! the EL1 system registers: FP/SIMD registers, timer compare values, the
//! PMU and the debug registers. Called whenever a CPU enters a context
//! afresh (cell start, PSCI CPU_ON, hand-over to or from the root).

use super::{read_sysreg, write_sysreg};
use core::arch::asm;

/// Zeroes q0-q31, FPCR and FPSR. The hypervisor itself is built without
/// FP/SIMD (soft-float target), so these registers hold only guest state;
/// the directives enable the instructions for this block alone, and
/// CPTR_EL2 does not trap them (see `setup_cpu_for_guests`).
fn reset_fp() {
    // SAFETY: writes only FP/SIMD registers, which no hypervisor code uses
    // and which the compiler is told nothing about (no Rust values live in
    // them on a soft-float target).
    unsafe {
        asm!(
            ".arch_extension fp",
            ".arch_extension simd",
            "movi v0.2d, #0", "movi v1.2d, #0", "movi v2.2d, #0", "movi v3.2d, #0",
            "movi v4.2d, #0", "movi v5.2d, #0", "movi v6.2d, #0", "movi v7.2d, #0",
            "movi v8.2d, #0", "movi v9.2d, #0", "movi v10.2d, #0", "movi v11.2d, #0",
            "movi v12.2d, #0", "movi v13.2d, #0", "movi v14.2d, #0", "movi v15.2d, #0",
            "movi v16.2d, #0", "movi v17.2d, #0", "movi v18.2d, #0", "movi v19.2d, #0",
            "movi v20.2d, #0", "movi v21.2d, #0", "movi v22.2d, #0", "movi v23.2d, #0",
            "movi v24.2d, #0", "movi v25.2d, #0", "movi v26.2d, #0", "movi v27.2d, #0",
            "movi v28.2d, #0", "movi v29.2d, #0", "movi v30.2d, #0", "movi v31.2d, #0",
            "msr fpcr, xzr",
            "msr fpsr, xzr",
            options(nomem, nostack)
        );
    }
}

/// PMU: counters stopped, reset and disabled, no overflow or interrupt
/// state, EL0 access off. Only when the CPU has a PMUv3 (ID_AA64DFR0_EL1
/// .PMUVer not 0 or IMPDEF), else the registers do not exist.
fn reset_pmu() {
    let pmuver = (read_sysreg!(id_aa64dfr0_el1) >> 8) & 0xf;
    if pmuver == 0 || pmuver == 0xf {
        return;
    }
    // PMCR_EL0: E = 0 (counters off), P and C reset event and cycle counters.
    write_sysreg!(pmcr_el0, (1 << 1) | (1 << 2));
    write_sysreg!(pmcntenclr_el0, u64::from(u32::MAX));
    write_sysreg!(pmintenclr_el1, u64::from(u32::MAX));
    write_sysreg!(pmovsclr_el0, u64::from(u32::MAX));
    write_sysreg!(pmuserenr_el0, 0);
    write_sysreg!(pmselr_el0, 0);
    write_sysreg!(pmccfiltr_el0, 0);
}

macro_rules! clear_pairs {
    ($count:expr, $($n:literal => $c:ident, $v:ident);*) => {
        $( if $n < $count { write_sysreg!($c, 0); write_sysreg!($v, 0); } )*
    };
}

/// Debug: monitor debug off, every implemented breakpoint and watchpoint
/// (up to 6 and 4, what ID_AA64DFR0_EL1 reports on common cores) disabled
/// and its address cleared.
fn reset_debug() {
    write_sysreg!(mdscr_el1, 0);
    let dfr0 = read_sysreg!(id_aa64dfr0_el1);
    let brps = ((dfr0 >> 12) & 0xf) + 1;
    let wrps = ((dfr0 >> 20) & 0xf) + 1;
    clear_pairs!(brps, 0 => dbgbcr0_el1, dbgbvr0_el1; 1 => dbgbcr1_el1, dbgbvr1_el1;
        2 => dbgbcr2_el1, dbgbvr2_el1; 3 => dbgbcr3_el1, dbgbvr3_el1;
        4 => dbgbcr4_el1, dbgbvr4_el1; 5 => dbgbcr5_el1, dbgbvr5_el1);
    clear_pairs!(wrps, 0 => dbgwcr0_el1, dbgwvr0_el1; 1 => dbgwcr1_el1, dbgwvr1_el1;
        2 => dbgwcr2_el1, dbgwvr2_el1; 3 => dbgwcr3_el1, dbgwvr3_el1);
}

/// Everything above, plus the timer compare values and the EL1 exception
/// registers the architectural reset leaves UNKNOWN (zeroed here so they
/// carry nothing of the previous owner).
pub fn reset_guest_extras() {
    reset_fp();
    write_sysreg!(cntv_cval_el0, 0);
    write_sysreg!(cntp_cval_el0, 0);
    write_sysreg!(elr_el1, 0);
    write_sysreg!(spsr_el1, 0);
    reset_pmu();
    reset_debug();
}

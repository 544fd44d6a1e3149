//! PMU and self-hosted debug state, and MDCR_EL2 which decides who may
//! touch them.
//!
//! Reset, not trap: MDCR_EL2.TPM, TPMCR, TDA, TDOSA and TDRA stay clear,
//! and every hand-over of a CPU (`reset_el1`) puts the PMU and the debug
//! registers back to an idle, zeroed state. A CPU belongs to one context
//! at a time and nothing else writes its PMU or debug registers, so the
//! state a context can read is only what it wrote itself since its start;
//! resetting at the hand-over is therefore enough. Trapping instead would
//! take perf, hardware breakpoints and ptrace from the root's Linux, or
//! require emulating some hundred registers per access, for no isolation
//! gain. What reset cannot cover is held back by MDCR_EL2 (see `mdcr_el2`).

use super::{read_sysreg, write_sysreg};
use aarch64_cpu::registers::*;

/// ID_AA64DFR0_EL1.PMUVer values: no PMU, an IMPLEMENTATION DEFINED
/// (non-PMUv3) one, and the first versions with HPMD and HCCD.
const PMUVER_NONE: u64 = 0b0000;
const PMUVER_IMP_DEF: u64 = 0b1111;
const PMUVER_V3P1: u64 = 0b0100;
const PMUVER_V3P5: u64 = 0b0110;

/// PMCR_EL0 (the crate has no PMU registers): N, the number of event
/// counters, at bits 15:11; P and C reset the event and cycle counters.
const PMCR_N_SHIFT: u32 = 11;
const PMCR_N_MASK: u64 = 0x1f;
const PMCR_P: u64 = 1 << 1;
const PMCR_C: u64 = 1 << 2;
/// One bit per event counter (0-30) and the cycle counter (31), for the
/// PMCNTENCLR/PMINTENCLR/PMOVSCLR set-to-clear registers.
const ALL_COUNTERS: u64 = 0xffff_ffff;

/// PMUVer of ID_AA64DFR0_EL1, or None without a (PMUv3) PMU.
fn pmu_version() -> Option<u64> {
    match ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::PMUVer) {
        PMUVER_NONE | PMUVER_IMP_DEF => None,
        v => Some(v),
    }
}

/// Number of event counters (PMCR_EL0.N); at EL2 it is the real number.
fn event_counters() -> u64 {
    (read_sysreg!(pmcr_el0) >> PMCR_N_SHIFT) & PMCR_N_MASK
}

/// MDCR_EL2 for a CPU running guests:
/// - HPMN = N: every event counter belongs to EL1/EL0 (the hypervisor
///   counts nothing), HPME clear;
/// - TPM/TPMCR/TDA/TDOSA/TDRA/TDE clear: PMU and debug registers are the
///   owner's, reset on hand-over (module comment);
/// - HPMD (PMUv3p1) and HCCD (PMUv3p5): no counting while in EL2, so a
///   context's counters hold nothing of the hypervisor's work for others;
/// - E2PB = E2TB = 0b00 (profiling and trace buffers owned by EL2), TPMS
///   (SPE) and TTRF (trace filter) when implemented: EL1 accesses to the
///   statistical profiling and trace registers trap, so they never carry
///   state between owners.
pub fn mdcr_el2() -> u64 {
    let mut v = MDCR_EL2::HPMN.val(0);
    if let Some(ver) = pmu_version() {
        v = MDCR_EL2::HPMN.val(event_counters());
        if ver >= PMUVER_V3P1 {
            v += MDCR_EL2::HPMD::SET;
        }
        if ver >= PMUVER_V3P5 {
            v += MDCR_EL2::HCCD::SET;
        }
    }
    if ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::PMSVer) != 0 {
        v += MDCR_EL2::TPMS::SET;
    }
    if ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::TraceFilt) != 0 {
        v += MDCR_EL2::TTRF::SET;
    }
    v.value
}

/// PMU and debug registers to their idle state.
pub fn reset() {
    if pmu_version().is_some() {
        reset_pmu();
    }
    reset_debug();
}

/// PMU: counting stopped first (PMCR_EL0.E, PMCNTENCLR), then enables,
/// overflow flags, interrupt enables, EL0 access, every event type and the
/// cycle filter cleared, and last the counters zeroed (PMCR_EL0.P and C,
/// E staying 0). PMXEVTYPER through PMSELR reaches all N event types
/// without naming 31 registers.
fn reset_pmu() {
    write_sysreg!(pmcr_el0, 0);
    write_sysreg!(pmcntenclr_el0, ALL_COUNTERS);
    write_sysreg!(pmintenclr_el1, ALL_COUNTERS);
    write_sysreg!(pmovsclr_el0, ALL_COUNTERS);
    write_sysreg!(pmuserenr_el0, 0);
    for n in 0..event_counters() {
        write_sysreg!(pmselr_el0, n);
        super::isb();
        write_sysreg!(pmxevtyper_el0, 0);
    }
    write_sysreg!(pmselr_el0, 0);
    write_sysreg!(pmccfiltr_el0, 0);
    write_sysreg!(pmcr_el0, PMCR_P | PMCR_C);
}

macro_rules! clear_pairs {
    ($count:expr, $($n:literal => $c:ident, $v:ident);*) => {
        $( if $n < $count { write_sysreg!($c, 0); write_sysreg!($v, 0); } )*
    };
}

/// Debug: monitor debug and software step off (MDSCR_EL1), the OS lock
/// and OS double lock released (what every OS does first at boot, so the
/// next owner finds the unlocked state it expects), no DCC interrupts,
/// every implemented breakpoint and watchpoint (BRPs and WRPs of
/// ID_AA64DFR0_EL1, at most 16 each) disabled and its address cleared.
fn reset_debug() {
    MDSCR_EL1.set(0);
    OSLAR_EL1.set(0);
    // OSDLR_EL1 and MDCCINT_EL1 have no type in aarch64-cpu.
    write_sysreg!(osdlr_el1, 0);
    write_sysreg!(mdccint_el1, 0);
    let brps = ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::BRPs) + 1;
    let wrps = ID_AA64DFR0_EL1.read(ID_AA64DFR0_EL1::WRPs) + 1;
    clear_pairs!(brps, 0 => dbgbcr0_el1, dbgbvr0_el1; 1 => dbgbcr1_el1, dbgbvr1_el1;
        2 => dbgbcr2_el1, dbgbvr2_el1; 3 => dbgbcr3_el1, dbgbvr3_el1;
        4 => dbgbcr4_el1, dbgbvr4_el1; 5 => dbgbcr5_el1, dbgbvr5_el1;
        6 => dbgbcr6_el1, dbgbvr6_el1; 7 => dbgbcr7_el1, dbgbvr7_el1;
        8 => dbgbcr8_el1, dbgbvr8_el1; 9 => dbgbcr9_el1, dbgbvr9_el1;
        10 => dbgbcr10_el1, dbgbvr10_el1; 11 => dbgbcr11_el1, dbgbvr11_el1;
        12 => dbgbcr12_el1, dbgbvr12_el1; 13 => dbgbcr13_el1, dbgbvr13_el1;
        14 => dbgbcr14_el1, dbgbvr14_el1; 15 => dbgbcr15_el1, dbgbvr15_el1);
    clear_pairs!(wrps, 0 => dbgwcr0_el1, dbgwvr0_el1; 1 => dbgwcr1_el1, dbgwvr1_el1;
        2 => dbgwcr2_el1, dbgwvr2_el1; 3 => dbgwcr3_el1, dbgwvr3_el1;
        4 => dbgwcr4_el1, dbgwvr4_el1; 5 => dbgwcr5_el1, dbgwvr5_el1;
        6 => dbgwcr6_el1, dbgwvr6_el1; 7 => dbgwcr7_el1, dbgwvr7_el1;
        8 => dbgwcr8_el1, dbgwvr8_el1; 9 => dbgwcr9_el1, dbgwvr9_el1;
        10 => dbgwcr10_el1, dbgwvr10_el1; 11 => dbgwcr11_el1, dbgwvr11_el1;
        12 => dbgwcr12_el1, dbgwvr12_el1; 13 => dbgwcr13_el1, dbgwvr13_el1;
        14 => dbgwcr14_el1, dbgwvr14_el1; 15 => dbgwcr15_el1, dbgwvr15_el1);
}

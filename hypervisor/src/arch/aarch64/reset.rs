//! The EL1/EL0 state a CPU is handed to its next owner with. Called from
//! `trap::reset_frame` whenever a CPU enters a context afresh: cell start,
//! PSCI CPU_ON inside any cell (the root included), a CPU coming back to
//! the root after destroy, a CPU going from the root to a new cell, the
//! root's boot. Together with the zeroed trap frame (x1-x30, ELR_EL2 =
//! entry, SPSR_EL2 = EL1h masked) nothing the previous owner wrote into a
//! register reaches the next one.
//!
//! Audit of what EL1/EL0 can write and read back, and how each class is
//! kept from crossing (see also `debug_pmu.rs` and the GIC's `reset_cpu`):
//! - x0-x30, PC, PSTATE: the trap frame (`reset_frame`).
//! - SP_EL0, SP_EL1, TPIDR_EL0/EL1, TPIDRRO_EL0, ELR/SPSR/ESR/FAR/PAR_EL1,
//!   AFSR0/1_EL1, CONTEXTIDR, VBAR, MAIR, AMAIR, TCR, TTBR0/1, SCTLR,
//!   CPACR, CSSELR_EL1: reset below.
//! - q0-q31, FPCR, FPSR: zeroed below (CPTR_EL2 does not trap FP/SIMD).
//! - CNTKCTL_EL1, CNTV/CNTP CTL and CVAL: reset below (TVAL is derived).
//! - PMU, debug (BVR/BCR/WVR/WCR, MDSCR, OS lock, OS double lock,
//!   MDCCINT), MDCR_EL2: `debug_pmu.rs`.
//! - ICV_* (PMR, BPRs, IGRPENs, EOImode via ICH_VMCR_EL2), active
//!   priorities (ICH_AP0Rn/AP1Rn), list registers: `irqchip::reset_cpu`.
//! - Present only with later extensions, reset when the ID registers
//!   report them: DISR_EL1 (RAS), LORSA/LOREA/LORN/LORC_EL1 (LOR),
//!   TPIDR2_EL0 (SME).
//! - Trapped, so never reachable by EL1: ZCR/SMCR and the SVE/SME
//!   registers (CPTR_EL2.TZ/TSM set in `setup_cpu_for_guests`), the MTE
//!   tag registers GCR/RGSR/TFSR/TFSRE0 (HCR_EL2.ATA clear), the pointer
//!   authentication keys (HCR_EL2.APK/API clear), SPE and trace buffer
//!   registers (MDCR_EL2.E2PB/E2TB = EL2-owned, TPMS, TTRF).
//! - Not covered (README "known gaps"): IMPLEMENTATION DEFINED registers
//!   (ACTLR_EL1, which HCR_EL2.TACR could trap but the root may use),
//!   DBGCLAIM tags and DBGPRCR_EL1 (QEMU 7.2 does not implement them, so
//!   an EL2 access would be UNDEFINED there), AMU counters (read-only at
//!   EL1, free-running), and registers of extensions after ARMv8.5 that
//!   need fine-grained traps (HFGRTR_EL2/HFGWTR_EL2) to be held back.

use super::write_sysreg;
use aarch64_cpu::registers::*;
use core::arch::asm;

/// SCTLR_EL1 of a CPU out of reset: the RES1 bits of ARMv8.0 (11, 20, 22,
/// 23, 28, 29) and nothing else: MMU, caches, alignment checks and every
/// EL0 permission (cache maintenance, DC ZVA, WFI/WFE) off.
const SCTLR_EL1_RESET: u64 = (1 << 11) | (1 << 20) | (1 << 22) | (1 << 23) | (1 << 28) | (1 << 29);

/// Resets the EL1/EL0 system state a CPU starts a context with: MMU and
/// caches off, translation, exception and thread registers cleared,
/// timers off, FP/SIMD zeroed, PMU and debug state cleared.
pub fn reset_el1() {
    SCTLR_EL1.set(SCTLR_EL1_RESET);
    TCR_EL1.set(0);
    TTBR0_EL1.set(0);
    TTBR1_EL1.set(0);
    MAIR_EL1.set(0);
    AMAIR_EL1.set(0);
    VBAR_EL1.set(0);
    CPACR_EL1.set(0);
    CONTEXTIDR_EL1.set(0);
    CSSELR_EL1.set(0);
    TPIDR_EL1.set(0);
    TPIDR_EL0.set(0);
    TPIDRRO_EL0.set(0);
    SP_EL0.set(0);
    SP_EL1.set(0);
    ELR_EL1.set(0);
    SPSR_EL1.set(0);
    ESR_EL1.set(0);
    FAR_EL1.set(0);
    PAR_EL1.set(0);
    AFSR0_EL1.set(0);
    AFSR1_EL1.set(0);
    reset_timers();
    reset_fp();
    reset_extensions();
    super::debug_pmu::reset();
    super::isb();
}

/// EL1 timers off with their compare values cleared, and EL0 access to
/// counters and timers withdrawn (CNTKCTL_EL1). TVAL reads are derived
/// from CVAL, so they follow.
fn reset_timers() {
    CNTV_CTL_EL0.set(0);
    CNTP_CTL_EL0.set(0);
    CNTV_CVAL_EL0.set(0);
    CNTP_CVAL_EL0.set(0);
    CNTKCTL_EL1.set(0);
}

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

/// Registers of optional extensions that EL1 can write and read back and
/// that no EL2 control traps in our configuration; each exists only when
/// its ID register field says so (an access otherwise is UNDEFINED).
/// The crate has no types for them, so they go by their encodings.
fn reset_extensions() {
    // ID fields the crate does not name: ID_AA64PFR0_EL1.RAS (bits 31:28)
    // and ID_AA64PFR1_EL1.SME (bits 27:24).
    const PFR0_RAS_SHIFT: u32 = 28;
    const PFR1_SME_SHIFT: u32 = 24;
    const ID_FIELD_MASK: u64 = 0xf;
    // FEAT_RAS: DISR_EL1 (S3_0_C12_C1_1), the deferred SError record.
    if (ID_AA64PFR0_EL1.get() >> PFR0_RAS_SHIFT) & ID_FIELD_MASK != 0 {
        write_sysreg!(s3_0_c12_c1_1, 0);
    }
    // FEAT_LOR: LORSA/LOREA/LORN/LORC_EL1 (S3_0_C10_C4_0..3); LORC first
    // so no region is enabled while the bounds change.
    if ID_AA64MMFR1_EL1.read(ID_AA64MMFR1_EL1::LO) != 0 {
        write_sysreg!(s3_0_c10_c4_3, 0);
        write_sysreg!(s3_0_c10_c4_0, 0);
        write_sysreg!(s3_0_c10_c4_1, 0);
        write_sysreg!(s3_0_c10_c4_2, 0);
    }
    // FEAT_SME: TPIDR2_EL0 (S3_3_C13_C0_5) is not covered by CPTR_EL2.TSM.
    if (ID_AA64PFR1_EL1.get() >> PFR1_SME_SHIFT) & ID_FIELD_MASK != 0 {
        write_sysreg!(s3_3_c13_c0_5, 0);
    }
}

//! GICv3 CPU interface system registers seen from EL2: the physical
//! interface (ICC_*) and the virtual interface control (ICH_*).

use super::{isb, read_sysreg, write_sysreg};

/// Acknowledges the highest-priority pending group-1 interrupt.
pub fn ack() -> u32 {
    (read_sysreg!(icc_iar1_el1) & 0xff_ffff) as u32
}

/// Acknowledges the highest-priority pending group-0 interrupt (1023 if
/// none): the hypervisor gives group 0 to nobody, so anything there is
/// only acknowledged and dropped, never left to re-trap as an FIQ.
pub fn ack0() -> u32 {
    (read_sysreg!(icc_iar0_el1) & 0xff_ffff) as u32
}

/// Group-0 priority drop.
pub fn eoi0(intid: u32) {
    write_sysreg!(icc_eoir0_el1, u64::from(intid));
}

/// Priority drop (EOImode 1: deactivation is separate).
pub fn eoi(intid: u32) {
    write_sysreg!(icc_eoir1_el1, u64::from(intid));
}

/// Deactivates an interrupt.
pub fn deactivate(intid: u32) {
    write_sysreg!(icc_dir_el1, u64::from(intid));
}

/// Sends a group-1 SGI (ICC_SGI1R_EL1 value).
pub fn send_sgi(value: u64) {
    super::dsb_ish();
    write_sysreg!(icc_sgi1r_el1, value);
    isb();
}

/// Number of list registers.
pub fn num_lrs() -> usize {
    ((read_sysreg!(ich_vtr_el2) & 0x1f) + 1) as usize
}

/// Empty list registers (bit n set: LR n free).
pub fn elrsr() -> u64 {
    read_sysreg!(ich_elrsr_el2)
}

macro_rules! lr_access {
    ($n:expr, $v:expr, $($i:literal => $reg:ident),*) => {
        match $n {
            $($i => match $v { Some(v) => { write_sysreg!($reg, v); 0 } None => read_sysreg!($reg) },)*
            _ => 0,
        }
    };
}

fn lr(n: usize, v: Option<u64>) -> u64 {
    lr_access!(n, v, 0 => ich_lr0_el2, 1 => ich_lr1_el2, 2 => ich_lr2_el2, 3 => ich_lr3_el2,
        4 => ich_lr4_el2, 5 => ich_lr5_el2, 6 => ich_lr6_el2, 7 => ich_lr7_el2,
        8 => ich_lr8_el2, 9 => ich_lr9_el2, 10 => ich_lr10_el2, 11 => ich_lr11_el2,
        12 => ich_lr12_el2, 13 => ich_lr13_el2, 14 => ich_lr14_el2, 15 => ich_lr15_el2)
}

/// Reads list register `n`.
pub fn read_lr(n: usize) -> u64 {
    lr(n, None)
}

/// Writes list register `n`.
pub fn write_lr(n: usize, v: u64) {
    lr(n, Some(v));
}

/// Clears the virtual CPU interface's active priorities (ICH_AP0Rn_EL2,
/// ICH_AP1Rn_EL2): a context that acknowledged an interrupt and never
/// ended it, or wrote ICV_APxR itself, would otherwise leave its next
/// owner with a running priority that masks interrupts, and readable.
/// The number of registers follows ICH_VTR_EL2.PREbits (5, 6 or 7
/// preemption bits: 1, 2 or 4 registers per group).
pub fn clear_active_priorities() {
    use aarch64_cpu::registers::*;
    let pre_bits = ICH_VTR_EL2.read(ICH_VTR_EL2::PREbits) + 1;
    ICH_AP0R0_EL2.set(0);
    ICH_AP1R0_EL2.set(0);
    if pre_bits >= 6 {
        ICH_AP0R1_EL2.set(0);
        ICH_AP1R1_EL2.set(0);
    }
    if pre_bits >= 7 {
        ICH_AP0R2_EL2.set(0);
        ICH_AP1R2_EL2.set(0);
        ICH_AP0R3_EL2.set(0);
        ICH_AP1R3_EL2.set(0);
    }
}

/// ICH_HCR_EL2.
pub fn set_ich_hcr(v: u64) {
    write_sysreg!(ich_hcr_el2, v);
    isb();
}

/// ICH_HCR_EL2.
pub fn ich_hcr() -> u64 {
    read_sysreg!(ich_hcr_el2)
}

/// ICH_VMCR_EL2.
pub fn set_ich_vmcr(v: u64) {
    write_sysreg!(ich_vmcr_el2, v);
}

/// ICH_VMCR_EL2.
pub fn ich_vmcr() -> u64 {
    read_sysreg!(ich_vmcr_el2)
}

/// The physical CPU interface state a late launch finds (PMR, IGRPEN1, CTLR).
pub fn physical_state() -> (u64, u64, u64) {
    (read_sysreg!(icc_pmr_el1), read_sysreg!(icc_igrpen1_el1), read_sysreg!(icc_ctlr_el1))
}

/// Restores the physical CPU interface for Linux (disable).
pub fn restore_physical(pmr: u64, igrpen1: u64, ctlr: u64) {
    write_sysreg!(icc_pmr_el1, pmr);
    write_sysreg!(icc_ctlr_el1, ctlr);
    write_sysreg!(icc_igrpen1_el1, igrpen1);
    isb();
}

/// Takes over the physical CPU interface: system registers enabled for
/// EL1 and EL2, all priorities unmasked, EOImode 1, group 1 on, no active
/// priorities left from before.
pub fn take_cpu_interface() {
    write_sysreg!(icc_sre_el2, 0xf);
    isb();
    write_sysreg!(icc_pmr_el1, 0xff);
    write_sysreg!(icc_bpr1_el1, 0);
    write_sysreg!(icc_ctlr_el1, 1 << 1);
    write_sysreg!(icc_ap1r0_el1, 0);
    write_sysreg!(icc_igrpen1_el1, 1);
    isb();
}

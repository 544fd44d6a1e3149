//! GICv3 CPU interface system registers seen from EL2: the physical
//! interface (ICC_*) and the virtual interface control (ICH_*).
//!
//! `aarch64-cpu` 11.2 types ICC_SRE_EL2, ICC_CTLR_EL1 (read only),
//! ICH_VTR_EL2, ICH_HCR_EL2, ICH_VMCR_EL2, ICH_LRn_EL2 and ICH_APxRn_EL2,
//! and those are used through it. It has nothing for the interrupt
//! acknowledge, EOI, deactivate, SGI, priority-mask, binary-point and
//! group-enable registers (ICC_IAR0/1, ICC_EOIR0/1, ICC_DIR, ICC_SGI1R,
//! ICC_PMR, ICC_BPR1, ICC_IGRPEN1, ICC_AP1R0), for ICH_ELRSR_EL2, and no
//! write access to ICC_CTLR_EL1: each of those has one raw accessor
//! below, its bits named by the constants here or in `regval::ich`.

use super::regval::ich::{ICC_CTLR_EOIMODE, ICC_IGRPEN1_ENABLE};
use super::{isb, read_sysreg, write_sysreg};
use aarch64_cpu::registers::*;

/// INTID field of ICC_IAR0/1_EL1 (24 bits with extended INTIDs).
const IAR_INTID_MASK: u64 = 0xff_ffff;
/// ICC_PMR_EL1 value letting every priority through.
const PMR_UNMASK_ALL: u64 = 0xff;
/// ICC_BPR1_EL1 value 0: the smallest binary point, full preemption.
const BPR1_FULL_PREEMPTION: u64 = 0;

/// Acknowledges the highest-priority pending group-1 interrupt.
/// The DSB after it makes the interrupt's new active state visible
/// (GICv3 architecture 4.1.1) before this CPU reads anything that decides
/// how to deliver it: `irqchip::gicv3::safe_spi`'s switch-over relies on
/// it.
pub fn ack() -> u32 {
    let intid = (read_sysreg!(icc_iar1_el1) & IAR_INTID_MASK) as u32;
    super::dsb_sy();
    intid
}

/// Acknowledges the highest-priority pending group-0 interrupt (1023 if
/// none): the hypervisor gives group 0 to nobody, so anything there is
/// only acknowledged and dropped, never left to re-trap as an FIQ.
pub fn ack0() -> u32 {
    (read_sysreg!(icc_iar0_el1) & IAR_INTID_MASK) as u32
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

/// Sends a Group-0 SGI (ICC_SGI0R_EL1 value): the management kick of a
/// direct-mode CPU, where SGI 15 is Group 0 and an SGI generated through
/// ICC_SGI1R_EL1 (Group 1) would not be forwarded to it.
pub fn send_sgi0(value: u64) {
    super::dsb_ish();
    write_sysreg!(icc_sgi0r_el1, value);
    isb();
}

/// Whether an interrupt of priority `prio` in Group 0 (`group0`) or
/// Group 1, once pending, is signalled to this CPU at once (and so ends
/// a WFI): its group enabled, its priority above the priority mask, and
/// no active priority (ICC_RPR_EL1 idle) that it would have to preempt.
pub fn would_signal(group0: bool, prio: u64) -> bool {
    let enable = if group0 { read_sysreg!(icc_igrpen0_el1) } else { read_sysreg!(icc_igrpen1_el1) };
    let pmr = read_sysreg!(icc_pmr_el1) & 0xff;
    let rpr = read_sysreg!(icc_rpr_el1) & 0xff;
    enable & 1 != 0 && prio < pmr && rpr == 0xff
}

/// Number of list registers.
pub fn num_lrs() -> usize {
    (ICH_VTR_EL2.read(ICH_VTR_EL2::ListRegs) + 1) as usize
}

/// Empty list registers (bit n set: LR n free). No type in the crate.
pub fn elrsr() -> u64 {
    read_sysreg!(ich_elrsr_el2)
}

macro_rules! lr_access {
    ($n:expr, $v:expr, $($i:literal => $reg:ident),*) => {
        match $n {
            $($i => match $v { Some(v) => { $reg.set(v); 0 } None => $reg.get() },)*
            _ => 0,
        }
    };
}

fn lr(n: usize, v: Option<u64>) -> u64 {
    lr_access!(n, v, 0 => ICH_LR0_EL2, 1 => ICH_LR1_EL2, 2 => ICH_LR2_EL2, 3 => ICH_LR3_EL2,
        4 => ICH_LR4_EL2, 5 => ICH_LR5_EL2, 6 => ICH_LR6_EL2, 7 => ICH_LR7_EL2,
        8 => ICH_LR8_EL2, 9 => ICH_LR9_EL2, 10 => ICH_LR10_EL2, 11 => ICH_LR11_EL2,
        12 => ICH_LR12_EL2, 13 => ICH_LR13_EL2, 14 => ICH_LR14_EL2, 15 => ICH_LR15_EL2)
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
    ICH_HCR_EL2.set(v);
    isb();
}

/// ICH_HCR_EL2.
pub fn ich_hcr() -> u64 {
    ICH_HCR_EL2.get()
}

/// ICH_VMCR_EL2.
pub fn set_ich_vmcr(v: u64) {
    ICH_VMCR_EL2.set(v);
}

/// ICH_VMCR_EL2.
pub fn ich_vmcr() -> u64 {
    ICH_VMCR_EL2.get()
}

/// The physical CPU interface state a late launch finds (PMR, IGRPEN1, CTLR).
pub fn physical_state() -> (u64, u64, u64) {
    (read_sysreg!(icc_pmr_el1), read_sysreg!(icc_igrpen1_el1), ICC_CTLR_EL1.get())
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
    ICC_SRE_EL2.write(
        ICC_SRE_EL2::ENABLE::SET + ICC_SRE_EL2::DIB::SET + ICC_SRE_EL2::DFB::SET + ICC_SRE_EL2::SRE::SET,
    );
    isb();
    write_sysreg!(icc_pmr_el1, PMR_UNMASK_ALL);
    write_sysreg!(icc_bpr1_el1, BPR1_FULL_PREEMPTION);
    write_sysreg!(icc_ctlr_el1, ICC_CTLR_EOIMODE);
    write_sysreg!(icc_ap1r0_el1, 0);
    write_sysreg!(icc_igrpen1_el1, ICC_IGRPEN1_ENABLE);
    isb();
}

/// The physical interface as a direct-mode cell gets it
/// (docs/direct-delivery.md): EOImode 0, so the cell's own ICC_EOIR1_EL1
/// (physical: HCR_EL2.IMO clear) drops the priority and deactivates in
/// one write, as a guest expects (its ICC_CTLR_EL1 accesses are virtual
/// and cannot choose); all priorities unmasked (the cell's ICC_PMR_EL1 is
/// virtual too), no active priority of either group, Group 0 (the
/// hypervisor's FIQs) enabled, Group 1 disabled until the cell enables it,
/// as after a reset.
pub fn enter_direct() {
    write_sysreg!(icc_ctlr_el1, 0);
    write_sysreg!(icc_pmr_el1, PMR_UNMASK_ALL);
    clear_physical_active_priorities();
    write_sysreg!(icc_igrpen1_el1, 0);
    write_sysreg!(icc_igrpen0_el1, 1);
    isb();
}

/// This CPU's physical running priority (ICC_RPR_EL1 read at EL2, so
/// never the virtual one): the highest priority active in either group,
/// 0xff when none is.
pub fn running_priority() -> u64 {
    read_sysreg!(icc_rpr_el1) & 0xff
}

/// Back from direct mode to the interface [`take_cpu_interface`] set up:
/// EOImode 1, Group 0 off, Group 1 on, no priority mask, binary point 0,
/// and no active priority the cell left behind (it reaches ICC_AP1Rn_EL1
/// physically and may have written any bits).
pub fn leave_direct() {
    write_sysreg!(icc_igrpen0_el1, 0);
    clear_physical_active_priorities();
    write_sysreg!(icc_pmr_el1, PMR_UNMASK_ALL);
    write_sysreg!(icc_bpr1_el1, BPR1_FULL_PREEMPTION);
    write_sysreg!(icc_ctlr_el1, ICC_CTLR_EOIMODE);
    write_sysreg!(icc_igrpen1_el1, ICC_IGRPEN1_ENABLE);
    isb();
}

/// Clears the physical active priorities of both groups, as many
/// registers as ICC_CTLR_EL1.PRIbits implements (5 bits: one per group,
/// 6: two, 7 or 8: four).
fn clear_physical_active_priorities() {
    let pri_bits = ((ICC_CTLR_EL1.get() >> 8) & 7) + 1;
    write_sysreg!(icc_ap0r0_el1, 0);
    write_sysreg!(icc_ap1r0_el1, 0);
    if pri_bits >= 6 {
        write_sysreg!(icc_ap0r1_el1, 0);
        write_sysreg!(icc_ap1r1_el1, 0);
    }
    if pri_bits >= 7 {
        write_sysreg!(icc_ap0r2_el1, 0);
        write_sysreg!(icc_ap1r2_el1, 0);
        write_sysreg!(icc_ap0r3_el1, 0);
        write_sysreg!(icc_ap1r3_el1, 0);
    }
}


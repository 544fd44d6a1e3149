//! Values the hypervisor writes into system registers, composed from
//! `aarch64-cpu`'s named fields. Nothing here touches a register, so the
//! module is built for the host too (`arch/mod.rs`), where the tests below
//! pin every value to the number the hypervisor programmed before the
//! fields had names: a changed value is a deliberate, visible edit.
//!
//! The crate's field types (`FieldValue<u64, R>`) live in `tock-registers`,
//! which the hypervisor does not depend on, so the functions return the
//! composed `.value` and callers write it with `REG.set(..)` (as
//! `debug_pmu::mdcr_el2` does). Bits the crate has no field for are named
//! constants next to the value that uses them.
// On the host only the tests use these.
#![cfg_attr(not(target_os = "none"), allow(dead_code))]

use aarch64_cpu::registers::*;

/// HCR_EL2 for a CPU running a cell: stage 2 on (VM), EL1 is AArch64 (RW),
/// SMC (TSC) and set/way cache maintenance (TSW) trapped, so a cell cannot
/// discard lines holding others' data; SWIO (set/way invalidate done as
/// clean and invalidate), FB (TLB and I-cache maintenance broadcast) and
/// BSU inner shareable (barriers upgraded to the inner-shareable domain),
/// so a cell's local maintenance and barriers reach all its CPUs; physical
/// IRQs and FIQs routed to EL2 (IMO, FMO) when `irqs` is set.
pub fn hcr_guest(irqs: bool) -> u64 {
    let mut v = HCR_EL2::VM::Enable
        + HCR_EL2::SWIO::SET
        + HCR_EL2::FB::SET
        + HCR_EL2::BSU::InnerShareable
        + HCR_EL2::TSC::EnableTrapEl1SmcToEl2
        + HCR_EL2::TSW::SET
        + HCR_EL2::RW::EL1IsAarch64;
    if irqs {
        v += HCR_EL2::IMO::EnableVirtualIRQ + HCR_EL2::FMO::EnableVirtualFIQ;
    }
    v.value
}

/// HCR_EL2 for a CPU of a cell with direct interrupt delivery
/// (docs/direct-delivery.md): as [`hcr_guest`] with physical IRQs left
/// to EL1 (IMO clear: the GIC's Group 1, the cell's own interrupts, is
/// taken by the cell without an exit) and FIQs routed to EL2 (FMO set:
/// Group 0, everything the hypervisor keeps, arrives here). FMO alone
/// still traps the SGI-generation registers and sends the cell's
/// ICC_PMR/CTLR/DIR/RPR accesses to the virtual interface. WFI traps
/// (TWI): a cell that holds an active priority no interrupt preempts
/// would otherwise sleep in WFI where no management kick and no stage-2
/// revocation reaches it; the hypervisor waits in its place only while
/// the management interrupt can still wake it (`direct::wait`).
pub fn hcr_direct() -> u64 {
    hcr_guest(false) | HCR_EL2::FMO::EnableVirtualFIQ.value | HCR_EL2::TWI::SET.value
}

/// HCR_EL2 once the hypervisor leaves for good (`__el2_shutdown_phys`):
/// everything off except RW, so Linux's EL1 stays AArch64.
pub const HCR_EL1_ONLY: u64 = HCR_EL2::RW::EL1IsAarch64.value;

/// Input address size of every cell's stage 2: 40 bits (T0SZ = 64 - 40),
/// walked from level 1 with 4 KiB pages and two concatenated root tables
/// (`mm::paging::STAGE2_IPA_BITS`, which says why not level 0).
const STAGE2_T0SZ: u64 = 64 - crate::mm::paging::STAGE2_IPA_BITS as u64;

/// VTCR_EL2 for `pa_range` (ID_AA64MMFR0_EL1.PARange): 40-bit IPA, start
/// at level 1 (SL0 = 1 with T0SZ = 24: two concatenated tables), 4 KiB
/// granule, table walks write-back write-allocate inner shareable,
/// output size = the CPU's PA range capped at 48 bits (the stage-2 format
/// without FEAT_LPA), 8-bit VMID.
pub fn vtcr(pa_range: u64) -> u64 {
    (VTCR_EL2::RES1::SET
        + VTCR_EL2::VS::Bits8
        + VTCR_EL2::PS.val(pa_range.min(VTCR_EL2::PS::PA_48B_256TB.value >> VTCR_EL2::PS.shift))
        + VTCR_EL2::TG0::Granule4KB
        + VTCR_EL2::SH0::Inner
        + VTCR_EL2::ORGN0::NormalWBRAWA
        + VTCR_EL2::IRGN0::NormalWBRAWA
        + VTCR_EL2::SL0::Granule4KBLevel1
        + VTCR_EL2::T0SZ.val(STAGE2_T0SZ))
    .value
}

/// VTTBR_EL2 for the stage-2 table at physical `root` (page aligned, below
/// 2^48) tagged with `vmid`.
pub fn vttbr(root: u64, vmid: u16) -> u64 {
    (VTTBR_EL2::VMID.val(u64::from(vmid)) + VTTBR_EL2::BADDR.val(root >> 1)).value
}

/// CPTR_EL2 (HCR_EL2.E2H = 0 layout): the crate names only TAM, so the
/// other bits are named here. TFP (bit 10) and TCPAC, TTA, TAM stay clear:
/// FP/SIMD, CPACR, trace and activity monitors are not trapped; TZ and TSM
/// are set, so SVE, SME and their control registers (ZCR/SMCR) trap and
/// never carry state between owners.
pub mod cptr {
    /// RES1 bits of CPTR_EL2 with E2H = 0: 0-7, 9 and 13.
    pub const RES1: u64 = 0xff | (1 << 9) | (1 << 13);
    /// Trap SVE.
    pub const TZ: u64 = 1 << 8;
    /// Trap SME (RES1 without FEAT_SME).
    pub const TSM: u64 = 1 << 12;
}

/// CPTR_EL2 for a CPU running guests.
pub const CPTR_GUEST: u64 = cptr::RES1 | cptr::TZ | cptr::TSM | CPTR_EL2::TAM::CLEAR.value;

/// CNTHCTL_EL2 for a CPU running guests: EL1 uses the physical counter
/// and timer directly.
pub const CNTHCTL_GUEST: u64 = CNTHCTL_EL2::EL1PCEN::SET.value | CNTHCTL_EL2::EL1PCTEN::SET.value;

/// SPSR for entering EL1h with D, A, I, F masked, as the architecture
/// enters an exception.
pub const SPSR_EL1H_MASKED: u64 = SPSR_EL2::D::Masked.value
    | SPSR_EL2::A::Masked.value
    | SPSR_EL2::I::Masked.value
    | SPSR_EL2::F::Masked.value
    | SPSR_EL2::M::EL1h.value;

/// Data/instruction abort ISS bits the crate does not name.
pub mod abort_iss {
    /// DFSC/IFSC: synchronous external abort, not on a table walk.
    pub const FSC_SEA: u64 = 0x10;
    /// Data abort: the access was a write.
    pub const WNR: u64 = 1 << 6;
}

/// ESR_EL1 of a synchronous external abort taken to EL1: an instruction
/// abort if `instruction` (else a data abort, `write` giving WnR), from
/// EL0 if `from_el0` (else from EL1), always a 32-bit instruction (IL).
pub fn external_abort_esr(instruction: bool, from_el0: bool, write: bool) -> u64 {
    let ec = match (instruction, from_el0) {
        (true, true) => ESR_EL1::EC::InstrAbortLowerEL,
        (true, false) => ESR_EL1::EC::InstrAbortCurrentEL,
        (false, true) => ESR_EL1::EC::DataAbortLowerEL,
        (false, false) => ESR_EL1::EC::DataAbortCurrentEL,
    };
    let mut iss = abort_iss::FSC_SEA;
    if !instruction && write {
        iss |= abort_iss::WNR;
    }
    (ec + ESR_EL1::IL::SET + ESR_EL1::ISS.val(iss)).value
}

/// The boot map's EL2 translation regime (`boot.rs`, `mmu_on_el2`).
pub mod boot {
    use aarch64_cpu::registers::*;

    /// MAIR_EL2: attribute 0 normal write-back (RW allocate, non-transient),
    /// 1 device nGnRnE, 2 device nGnRE, 3 normal non-cacheable; EL2
    /// descriptors name these indices.
    pub const MAIR: u64 = MAIR_EL2::Attr0_Normal_Outer::WriteBack_NonTransient_ReadWriteAlloc.value
        | MAIR_EL2::Attr0_Normal_Inner::WriteBack_NonTransient_ReadWriteAlloc.value
        | MAIR_EL2::Attr1_Device::nonGathering_nonReordering_noEarlyWriteAck.value
        | MAIR_EL2::Attr2_Device::nonGathering_nonReordering_EarlyWriteAck.value
        | MAIR_EL2::Attr3_Normal_Outer::NonCacheable.value
        | MAIR_EL2::Attr3_Normal_Inner::NonCacheable.value;

    /// TCR_EL2 bits 23 and 31, RES1 (not named by the crate).
    const TCR_RES1: u64 = (1 << 23) | (1 << 31);

    /// TCR_EL2 without PS (inserted at run time from PARange): 48-bit VA
    /// (T0SZ 16), 4 KiB granule, walks write-back write-allocate inner
    /// shareable.
    pub const TCR: u64 = TCR_RES1
        | TCR_EL2::T0SZ.val(16).value
        | TCR_EL2::TG0::KiB_4.value
        | TCR_EL2::SH0::Inner.value
        | TCR_EL2::ORGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value
        | TCR_EL2::IRGN0::WriteBack_ReadAlloc_WriteAlloc_Cacheable.value;

    /// Position and width of TCR_EL2.PS (for the `bfi` inserting PARange).
    pub const TCR_PS_SHIFT: usize = TCR_EL2::PS.shift;
    pub const TCR_PS_BITS: u32 = TCR_EL2::PS.mask.count_ones();

    /// SCTLR_EL2 RES1 bits the crate does not name: 4, 5, 16, 18, 23, 28,
    /// 29 (bits 11 and 22 are RES1 in ARMv8.0 and named EOS/EIS since
    /// FEAT_ExS; setting them keeps exception entry and exit context
    /// synchronising either way).
    const SCTLR_RES1: u64 = (1 << 4) | (1 << 5) | (1 << 16) | (1 << 18) | (1 << 23) | (1 << 28) | (1 << 29);

    /// SCTLR_EL2: MMU, data and instruction caches and SP alignment check
    /// on, little endian, WXN off.
    pub const SCTLR: u64 = SCTLR_RES1
        | SCTLR_EL2::EIS::IsSynch.value
        | SCTLR_EL2::EOS::IsSynch.value
        | SCTLR_EL2::I::Cacheable.value
        | SCTLR_EL2::SA::Enable.value
        | SCTLR_EL2::C::Cacheable.value
        | SCTLR_EL2::M::Enable.value;

    /// SCTLR_EL2 bits cleared when leaving EL2 (MMU, data and instruction
    /// caches off).
    pub const SCTLR_M: u64 = SCTLR_EL2::M::Enable.value;
    pub const SCTLR_C: u64 = SCTLR_EL2::C::Cacheable.value;
    pub const SCTLR_I: u64 = SCTLR_EL2::I::Cacheable.value;

    /// PAR_EL1 after an address translation: F (the translation failed)
    /// and the PA field (output address bits 47:12, in place).
    pub const PAR_F_BIT: usize = PAR_EL1::F.shift;
    pub const PAR_PA_MASK: u64 = PAR_EL1::PA.mask << PAR_EL1::PA.shift;

    /// CurrentEL when running at EL2.
    pub const CURRENT_EL2: u64 = CurrentEL::EL::EL2.value;

    /// MPIDR_EL1 affinity fields the boot entry turns into a CPU number.
    pub const AFF0_MASK: u64 = MPIDR_EL1::Aff0.mask;
    pub const AFF1_SHIFT: usize = MPIDR_EL1::Aff1.shift;
    pub const AFF1_BITS: u32 = MPIDR_EL1::Aff1.mask.count_ones();
}

/// GICv3 virtual interface values (ICH_LRn_EL2, ICH_HCR_EL2, ICH_VMCR_EL2).
pub mod ich {
    use aarch64_cpu::registers::*;

    /// List register state: pending.
    pub const LR_PENDING: u64 = ICH_LR0_EL2::State::Pending.value;
    /// List register maps a hardware interrupt (pINTID valid).
    pub const LR_HW: u64 = ICH_LR0_EL2::HW::SET.value;
    /// List register interrupt is group 1.
    pub const LR_GROUP1: u64 = ICH_LR0_EL2::Group::SET.value;
    /// The priority every injected interrupt gets (Linux's default).
    pub const LR_PRIO: u64 = ICH_LR0_EL2::Priority.val(0xa0).value;

    /// List register value injecting `intid` pending in group 1, as a
    /// hardware interrupt (the guest's deactivation deactivates the
    /// physical one) if `hw`.
    pub fn lr_pending(intid: u32, hw: bool) -> u64 {
        let mut v = LR_PENDING | LR_GROUP1 | LR_PRIO | ICH_LR0_EL2::vINTID.val(u64::from(intid)).value;
        if hw {
            v |= LR_HW | ICH_LR0_EL2::pINTID.val(u64::from(intid)).value;
        }
        v
    }

    /// State of list register value `lr` (0: invalid, free).
    pub fn lr_state(lr: u64) -> u64 {
        ICH_LR0_EL2::State.read(lr)
    }

    /// Virtual INTID of list register value `lr`.
    pub fn lr_vintid(lr: u64) -> u64 {
        ICH_LR0_EL2::vINTID.read(lr)
    }

    /// ICH_LR<n>_EL2.EOI (bit 41): with HW = 0, the guest's deactivation
    /// raises the EOI maintenance interrupt.
    pub const LR_EOI: u64 = 1 << 41;

    /// What a second delivery of the entry's vINTID looks at
    /// (`irqchip::lr_merge`).
    pub fn lr_entry(lr: u64) -> crate::irqchip::lr_merge::Entry {
        crate::irqchip::lr_merge::Entry {
            hw: lr & LR_HW != 0,
            pending: lr & LR_PENDING != 0,
            eoi: lr & LR_HW == 0 && lr & LR_EOI != 0,
        }
    }

    /// ICH_HCR_EL2.En: virtual CPU interface on.
    pub const HCR_EN: u64 = ICH_HCR_EL2::En::SET.value;
    /// ICH_HCR_EL2.UIE: maintenance interrupt when at most one LR is valid.
    pub const HCR_UIE: u64 = ICH_HCR_EL2::UIE::SET.value;

    /// ICH_VMCR_EL2 fields (the crate defines the register without fields).
    pub mod vmcr {
        /// VPMR, the virtual priority mask: bits 31:24.
        pub const VPMR_SHIFT: u32 = 24;
        pub const VPMR_MASK: u64 = 0xff;
        /// VENG1, virtual group 1 enable.
        pub const VENG1: u64 = 1 << 1;
        /// VEOIM, virtual EOI mode (ICV_CTLR_EL1.EOImode).
        pub const VEOIM: u64 = 1 << 9;
    }

    /// ICC_CTLR_EL1.EOImode (the crate names only ExtRange): 1 splits
    /// priority drop (EOIR) and deactivation (DIR).
    pub const ICC_CTLR_EOIMODE: u64 = 1 << 1;
    /// ICC_IGRPEN1_EL1.Enable.
    pub const ICC_IGRPEN1_ENABLE: u64 = 1;

    /// ICH_VMCR_EL2 carrying a late launch's physical interface settings
    /// (ICC_PMR_EL1, ICC_IGRPEN1_EL1, ICC_CTLR_EL1) over to the virtual
    /// interface, so Linux's view of its CPU interface does not change.
    pub fn vmcr_from_physical(pmr: u64, igrpen1: u64, ctlr: u64) -> u64 {
        let mut v = (pmr & vmcr::VPMR_MASK) << vmcr::VPMR_SHIFT;
        if igrpen1 & ICC_IGRPEN1_ENABLE != 0 {
            v |= vmcr::VENG1;
        }
        if ctlr & ICC_CTLR_EOIMODE != 0 {
            v |= vmcr::VEOIM;
        }
        v
    }
}

/// MPIDR_EL1 affinity, as the GIC wants it.
pub mod mpidr {
    use aarch64_cpu::registers::MPIDR_EL1;

    /// Aff3, Aff2, Aff1 and Aff0 in place: the layout GICD_IROUTER<n>
    /// shares with MPIDR_EL1 (bits 31:24 are MT, U and RES1 there, the
    /// routing mode in IROUTER, so they are left out).
    pub const AFFINITY_MASK: u64 = (MPIDR_EL1::Aff3.mask << MPIDR_EL1::Aff3.shift)
        | (MPIDR_EL1::Aff2.mask << MPIDR_EL1::Aff2.shift)
        | (MPIDR_EL1::Aff1.mask << MPIDR_EL1::Aff1.shift)
        | (MPIDR_EL1::Aff0.mask << MPIDR_EL1::Aff0.shift);

    /// The 32-bit Aff3.Aff2.Aff1.Aff0 value GICR_TYPER.Affinity holds.
    pub fn packed(mpidr: u64) -> u64 {
        MPIDR_EL1::Aff0.read(mpidr)
            | (MPIDR_EL1::Aff1.read(mpidr) << 8)
            | (MPIDR_EL1::Aff2.read(mpidr) << 16)
            | (MPIDR_EL1::Aff3.read(mpidr) << 24)
    }
}

/// ICC_SGI1R_EL1 (and ASGI1R/SGI0R, same layout); the crate has no type
/// for it, so its fields are named here.
pub mod sgi1r {
    use aarch64_cpu::registers::MPIDR_EL1;

    /// TargetList: one bit per Aff0 value 0-15 within the range RS.
    const TARGET_LIST_MASK: u64 = 0xffff;
    const AFF1_SHIFT: u32 = 16;
    const INTID_SHIFT: u32 = 24;
    const INTID_MASK: u64 = 0xf;
    const AFF2_SHIFT: u32 = 32;
    /// Interrupt routing mode: all PEs but the sender.
    const IRM: u64 = 1 << 40;
    /// Range selector: Aff0 bits 7:4 of the targets.
    const RS_SHIFT: u32 = 44;
    const RS_MASK: u64 = 0xf;
    const AFF3_SHIFT: u32 = 48;
    const AFF_MASK: u64 = 0xff;
    /// Aff0 splits into RS (high nibble) and a TargetList bit (low).
    const AFF0_RS_SHIFT: u32 = 4;
    const AFF0_TARGET_MASK: u64 = 0xf;

    /// The value sending SGI `sgi` to the one CPU with affinity `mpidr`.
    pub fn to_cpu(mpidr: u64, sgi: u32) -> u64 {
        let aff0 = MPIDR_EL1::Aff0.read(mpidr);
        (1u64 << (aff0 & AFF0_TARGET_MASK))
            | (MPIDR_EL1::Aff1.read(mpidr) << AFF1_SHIFT)
            | ((u64::from(sgi) & INTID_MASK) << INTID_SHIFT)
            | (MPIDR_EL1::Aff2.read(mpidr) << AFF2_SHIFT)
            | ((aff0 >> AFF0_RS_SHIFT) << RS_SHIFT)
            | (MPIDR_EL1::Aff3.read(mpidr) << AFF3_SHIFT)
    }

    /// A written ICC_SGI1R_EL1 value, decoded.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Sgi1r(pub u64);

    impl Sgi1r {
        /// The SGI number.
        pub fn intid(self) -> u32 {
            ((self.0 >> INTID_SHIFT) & INTID_MASK) as u32
        }

        /// Sent to every PE but the sender (IRM).
        pub fn to_others(self) -> bool {
            self.0 & IRM != 0
        }

        /// Whether the CPU with affinity `mpidr` is in the target list
        /// (meaningful when not `to_others`).
        pub fn targets(self, mpidr: u64) -> bool {
            let v = self.0;
            let aff0 = MPIDR_EL1::Aff0.read(mpidr);
            MPIDR_EL1::Aff1.read(mpidr) == (v >> AFF1_SHIFT) & AFF_MASK
                && MPIDR_EL1::Aff2.read(mpidr) == (v >> AFF2_SHIFT) & AFF_MASK
                && MPIDR_EL1::Aff3.read(mpidr) == (v >> AFF3_SHIFT) & AFF_MASK
                && aff0 >> AFF0_RS_SHIFT == (v >> RS_SHIFT) & RS_MASK
                && v & TARGET_LIST_MASK & (1 << (aff0 & AFF0_TARGET_MASK)) != 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_register_entry_bits() {
        use crate::irqchip::lr_merge::Entry;
        let e = |hw, pending, eoi| Entry { hw, pending, eoi };
        assert_eq!(ich::lr_entry(ich::lr_pending(33, true)), e(true, true, false));
        assert_eq!(ich::lr_entry(ich::lr_pending(33, false)), e(false, true, false));
        // Active only (state 0b10), with the EOI request.
        let active = (ich::lr_pending(33, false) & !ich::LR_PENDING) | (2 << 62) | ich::LR_EOI;
        assert_eq!(ich::lr_entry(active), e(false, false, true));
        assert_eq!(ich::lr_state(active), 2);
    }

    #[test]
    fn hcr_matches_former_bits() {
        // VM | SWIO | FB | BSU=IS | TSC | TSW | RW, plus IMO | FMO.
        assert_eq!(hcr_guest(false), 0x8048_0603);
        assert_eq!(hcr_guest(true), 0x8048_061b);
        // FMO (bit 3) without IMO (bit 4), and TWI (bit 13).
        assert_eq!(hcr_direct(), 0x8048_260b);
        assert_eq!(HCR_EL1_ONLY, 1 << 31);
    }

    #[test]
    fn vtcr_matches_former_formula() {
        // T0SZ 24 (40-bit IPA) with SL0 1 (level 1: concatenated root).
        for pa in 0..8u64 {
            let old = 24 | (1 << 6) | (1 << 8) | (1 << 10) | (3 << 12) | ((pa & 7).min(5) << 16) | (1 << 31);
            assert_eq!(vtcr(pa), old, "PARange {pa}");
        }
    }

    #[test]
    fn vttbr_is_root_or_vmid() {
        for (root, vmid) in [(0x4020_3000u64, 1u16), (0xffff_ffff_f000, 0xff), (0, 0), (0x1000, 0xffff)] {
            assert_eq!(vttbr(root, vmid), root | (u64::from(vmid) << 48));
        }
    }

    #[test]
    fn el2_controls_match_former_numbers() {
        assert_eq!(CPTR_GUEST, 0x33ff);
        assert_eq!(CNTHCTL_GUEST, 0b11);
        assert_eq!(SPSR_EL1H_MASKED, 0x3c5);
    }

    #[test]
    fn injected_abort_syndromes() {
        let il = 1 << 25;
        assert_eq!(external_abort_esr(true, true, false), (0x20 << 26) | il | 0x10);
        assert_eq!(external_abort_esr(true, false, true), (0x21 << 26) | il | 0x10);
        assert_eq!(external_abort_esr(false, true, false), (0x24 << 26) | il | 0x10);
        assert_eq!(external_abort_esr(false, false, true), (0x25 << 26) | il | 0x10 | (1 << 6));
    }

    #[test]
    fn boot_regime_matches_former_numbers() {
        assert_eq!(boot::MAIR, 0x4404_00ff);
        assert_eq!(boot::TCR, 0x8080_3510);
        assert_eq!((boot::TCR_PS_SHIFT, boot::TCR_PS_BITS), (16, 3));
        assert_eq!(boot::SCTLR, 0x30c5_183d);
        assert_eq!((boot::SCTLR_M, boot::SCTLR_C, boot::SCTLR_I), (1, 1 << 2, 1 << 12));
        assert_eq!(boot::CURRENT_EL2, 2 << 2);
        assert_eq!((boot::PAR_F_BIT, boot::PAR_PA_MASK), (0, 0x0000_ffff_ffff_f000));
        assert_eq!((boot::AFF0_MASK, boot::AFF1_SHIFT, boot::AFF1_BITS), (0xff, 8, 8));
    }

    #[test]
    fn list_registers_match_former_encoding() {
        let old = |intid: u64, hw: bool| {
            let v = (1 << 62) | (1 << 60) | (0xa0 << 48) | intid;
            if hw {
                v | (1 << 61) | (intid << 32)
            } else {
                v
            }
        };
        for intid in [0u32, 15, 27, 33, 1019] {
            for hw in [false, true] {
                let v = ich::lr_pending(intid, hw);
                assert_eq!(v, old(u64::from(intid), hw));
                assert_eq!(ich::lr_state(v), 1);
                assert_eq!(ich::lr_vintid(v), u64::from(intid));
            }
        }
        assert_eq!(ich::lr_state(0), 0);
        assert_eq!((ich::HCR_EN, ich::HCR_UIE), (1, 2));
    }

    #[test]
    fn mpidr_affinity_matches_former_masks() {
        assert_eq!(mpidr::AFFINITY_MASK, 0xff_00ff_ffff);
        for m in [0x8000_0000u64, 0x8000_0103, 0x12_8034_5678, 0xff_ffff_ffff] {
            assert_eq!(mpidr::packed(m), (m & 0xff_ffff) | ((m >> 8) & 0xff00_0000));
        }
    }

    #[test]
    fn sgi1r_round_trip_and_former_encoding() {
        let old = |mpidr: u64, sgi: u32| {
            (1u64 << (mpidr & 0xf))
                | (((mpidr >> 8) & 0xff) << 16)
                | (u64::from(sgi & 0xf) << 24)
                | (((mpidr >> 16) & 0xff) << 32)
                | (((mpidr & 0xff) >> 4) << 44)
                | (((mpidr >> 32) & 0xff) << 48)
        };
        let cpus = [0x8000_0000u64, 0x8000_0001, 0x8000_0013, 0x8000_0100, 0x8001_0000, 0x5_8000_0000];
        for &m in &cpus {
            for sgi in [0u32, 7, 15] {
                let v = sgi1r::to_cpu(m, sgi);
                assert_eq!(v, old(m, sgi));
                let d = sgi1r::Sgi1r(v);
                assert_eq!(d.intid(), sgi);
                assert!(!d.to_others());
                for &other in &cpus {
                    assert_eq!(d.targets(other), other == m, "{m:#x} -> {other:#x}");
                }
            }
        }
        let broadcast = sgi1r::Sgi1r((1 << 40) | (3 << 24));
        assert!(broadcast.to_others());
        assert_eq!(broadcast.intid(), 3);
        // Two targets in one write: Aff0 0 and 2 of cluster Aff1 = 1.
        let two = sgi1r::Sgi1r(0b101 | (1 << 16));
        assert!(two.targets(0x8000_0100) && two.targets(0x8000_0102) && !two.targets(0x8000_0101));
    }

    #[test]
    fn vmcr_carries_linux_interface() {
        let old = |pmr: u64, igrpen1: u64, ctlr: u64| ((pmr & 0xff) << 24) | ((igrpen1 & 1) << 1) | (((ctlr >> 1) & 1) << 9);
        for (pmr, igrpen1, ctlr) in [(0xf0, 1, 0x2), (0xff, 0, 0), (0x80, 1, 0x40_0402), (0x1_00, 1, 0x1)] {
            assert_eq!(ich::vmcr_from_physical(pmr, igrpen1, ctlr), old(pmr, igrpen1, ctlr));
        }
    }
}

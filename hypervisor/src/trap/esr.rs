//! Decoding of ESR_EL2 syndromes: exception class, HVC immediates and
//! stage-2 data aborts (what a trapped load or store wants).
//!
//! The register layout (EC, IL, ISS) and the exception class numbers come
//! from `aarch64-cpu`'s ESR_EL2 definition, which is plain data and so
//! builds for the host tests as well. The crate does not break the ISS of
//! a data abort into fields; those are named in `da_iss` below.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use aarch64_cpu::registers::ESR_EL2;

/// Exception classes the hypervisor distinguishes.
pub mod ec {
    use aarch64_cpu::registers::ESR_EL2::EC::Value;

    pub const UNKNOWN: u32 = Value::Unknown as u32;
    pub const WFX: u32 = Value::TrappedWFIorWFE as u32;
    pub const HVC64: u32 = Value::HVC64 as u32;
    pub const SMC64: u32 = Value::SMC64 as u32;
    pub const SYSREG: u32 = Value::TrappedMsrMrs as u32;
    pub const IABT_LOW: u32 = Value::InstrAbortLowerEL as u32;
    pub const DABT_LOW: u32 = Value::DataAbortLowerEL as u32;
    pub const SERROR: u32 = Value::SError as u32;
}

/// Fields of the ISS of a data abort taken to EL2.
mod da_iss {
    /// Instruction syndrome valid (SAS, SSE, SRT, SF, AR meaningful).
    pub const ISV: u32 = 1 << 24;
    /// Syndrome access size: log2 of the byte count.
    pub const SAS_SHIFT: u32 = 22;
    pub const SAS_MASK: u32 = 0b11;
    /// Syndrome sign extend.
    pub const SSE: u32 = 1 << 21;
    /// Syndrome register transfer: the register number.
    pub const SRT_SHIFT: u32 = 16;
    pub const SRT_MASK: u32 = 0x1f;
    /// Sixty-four bit register.
    pub const SF: u32 = 1 << 15;
    /// Stage-2 fault on a stage-1 translation table walk.
    pub const S1PTW: u32 = 1 << 7;
    /// Write not read.
    pub const WNR: u32 = 1 << 6;
    /// Data fault status code.
    pub const DFSC_MASK: u32 = 0x3f;
}

/// HPFAR_EL2.FIPA: bits 47:12 of the faulting IPA, held at bits 43:4
/// (aarch64-cpu's FIPA field is wider, covering FEAT_LPA's 52 bits).
const HPFAR_FIPA_MASK: u64 = 0x0000_0fff_ffff_fff0;
const HPFAR_FIPA_TO_IPA_SHIFT: u32 = 8;
/// The page offset FAR_EL2 contributes to the IPA.
const PAGE_OFFSET_MASK: u64 = 0xfff;
/// HVC and SMC: the immediate in ISS bits 15:0.
const IMM16_MASK: u64 = 0xffff;

/// A raw ESR_EL2 value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

impl Esr {
    /// Exception class.
    pub fn ec(self) -> u32 {
        ESR_EL2::EC.read(self.0) as u32
    }

    /// Instruction-specific syndrome.
    pub fn iss(self) -> u32 {
        ESR_EL2::ISS.read(self.0) as u32
    }

    /// 32-bit instruction (IL set).
    pub fn il(self) -> bool {
        ESR_EL2::IL.is_set(self.0)
    }

    /// The immediate of an HVC or SMC.
    pub fn imm16(self) -> u16 {
        (self.0 & IMM16_MASK) as u16
    }
}

/// A data abort decoded from its syndrome (ISS of EC 0x24).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataAbort {
    /// Syndrome valid: the fields below describe a single load or store.
    pub isv: bool,
    /// Access size in bytes (1, 2, 4, 8).
    pub size: u8,
    /// Sign-extend the loaded value.
    pub sign_extend: bool,
    /// Register number (31 = xzr/wzr).
    pub reg: u8,
    /// 64-bit register (else 32-bit).
    pub sixty_four: bool,
    /// Write (else read).
    pub write: bool,
    /// Fault in a stage-1 table walk.
    pub s1ptw: bool,
    /// Data fault status code.
    pub dfsc: u8,
}

impl DataAbort {
    /// Decodes the ISS of a data abort.
    #[inline]
    pub fn decode(esr: Esr) -> Self {
        use da_iss::*;
        let iss = esr.iss();
        Self {
            isv: iss & ISV != 0,
            size: 1 << ((iss >> SAS_SHIFT) & SAS_MASK),
            sign_extend: iss & SSE != 0,
            reg: ((iss >> SRT_SHIFT) & SRT_MASK) as u8,
            sixty_four: iss & SF != 0,
            write: iss & WNR != 0,
            s1ptw: iss & S1PTW != 0,
            dfsc: (iss & DFSC_MASK) as u8,
        }
    }

    /// The faulting guest-physical address from HPFAR_EL2 and FAR_EL2.
    pub fn ipa(hpfar: u64, far: u64) -> u64 {
        ((hpfar & HPFAR_FIPA_MASK) << HPFAR_FIPA_TO_IPA_SHIFT) | (far & PAGE_OFFSET_MASK)
    }

    /// Extends a loaded value as the instruction would: the low `size`
    /// bytes, sign- or zero-extended, then cut to a W register's 32 bits
    /// unless SF. One shift pair does the extension (arithmetic for SSE).
    #[inline]
    pub fn extend(&self, value: u64) -> u64 {
        // SAS gives 1, 2, 4 or 8 bytes: bits is 8..=64, the shift 0..=56.
        let bits = u32::from(self.size).saturating_mul(8).clamp(8, 64);
        let shift = 64u32.saturating_sub(bits);
        let up = value.wrapping_shl(shift);
        let v = if self.sign_extend { (up as i64).wrapping_shr(shift) as u64 } else { up.wrapping_shr(shift) };
        if self.sixty_four { v } else { v & 0xffff_ffff }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exception_classes_keep_their_numbers() {
        use ec::*;
        assert_eq!([UNKNOWN, WFX, HVC64, SMC64, SYSREG, IABT_LOW, DABT_LOW], [0x00, 0x01, 0x16, 0x17, 0x18, 0x20, 0x24]);
        let esr = Esr((0x3f << 26) | (1 << 25) | 0x1ff_ffff | (0x1f << 32));
        assert_eq!((esr.ec(), esr.iss(), esr.il()), (0x3f, 0x1ff_ffff, true));
    }

    #[test]
    fn hvc_immediate() {
        let esr = Esr((0x16 << 26) | (1 << 25) | 0x4a48);
        assert_eq!(esr.ec(), ec::HVC64);
        assert!(esr.il());
        assert_eq!(esr.imm16(), 0x4a48);
    }

    #[test]
    fn word_store_from_w3() {
        // ISV, SAS=2 (word), SRT=3, WnR, DFSC=translation fault level 3.
        let iss = (1 << 24) | (2 << 22) | (3 << 16) | (1 << 6) | 0x07;
        let da = DataAbort::decode(Esr((0x24 << 26) | (1 << 25) | iss));
        assert!(da.isv && da.write && !da.sixty_four && !da.sign_extend);
        assert_eq!((da.size, da.reg, da.dfsc), (4, 3, 7));
    }

    #[test]
    fn signed_byte_load_into_x0() {
        let iss = (1 << 24) | (1 << 21) | (1 << 15) | 0x06;
        let da = DataAbort::decode(Esr((0x24 << 26) | iss));
        assert!(!da.write && da.sign_extend && da.sixty_four);
        assert_eq!(da.size, 1);
        assert_eq!(da.extend(0x80), 0xffff_ffff_ffff_ff80);
        assert_eq!(da.extend(0x17f), 0x7f);
    }

    #[test]
    fn signed_halfword_into_w_register_is_32_bit() {
        let iss = (1 << 24) | (1 << 22) | (1 << 21);
        let da = DataAbort::decode(Esr((0x24 << 26) | iss));
        assert_eq!(da.extend(0x8000), 0xffff_8000);
    }

    #[test]
    fn no_isv_means_no_register_info() {
        let da = DataAbort::decode(Esr((0x24 << 26) | 0x07));
        assert!(!da.isv);
    }

    #[test]
    fn ipa_combines_hpfar_page_and_far_offset() {
        assert_eq!(DataAbort::ipa(0x8000, 0xdead_b123), 0x0080_0123);
        assert_eq!(DataAbort::ipa(0x7fc00 << 4, 0xffff_c000_0abc), 0x7fc0_0abc);
    }
}

//! Decoding of ESR_EL2 syndromes: exception class, HVC immediates and
//! stage-2 data aborts (what a trapped load or store wants).

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

/// Exception classes the hypervisor distinguishes.
pub mod ec {
    pub const UNKNOWN: u32 = 0x00;
    pub const WFX: u32 = 0x01;
    pub const HVC64: u32 = 0x16;
    pub const SMC64: u32 = 0x17;
    pub const SYSREG: u32 = 0x18;
    pub const IABT_LOW: u32 = 0x20;
    pub const DABT_LOW: u32 = 0x24;
}

/// A raw ESR_EL2 value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Esr(pub u64);

impl Esr {
    /// Exception class.
    pub fn ec(self) -> u32 {
        ((self.0 >> 26) & 0x3f) as u32
    }

    /// Instruction-specific syndrome.
    pub fn iss(self) -> u32 {
        (self.0 & 0x1ff_ffff) as u32
    }

    /// 32-bit instruction (IL set).
    pub fn il(self) -> bool {
        self.0 & (1 << 25) != 0
    }

    /// The immediate of an HVC or SMC.
    pub fn imm16(self) -> u16 {
        (self.0 & 0xffff) as u16
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
    pub fn decode(esr: Esr) -> Self {
        let iss = esr.iss();
        Self {
            isv: iss & (1 << 24) != 0,
            size: 1 << ((iss >> 22) & 3),
            sign_extend: iss & (1 << 21) != 0,
            reg: ((iss >> 16) & 0x1f) as u8,
            sixty_four: iss & (1 << 15) != 0,
            write: iss & (1 << 6) != 0,
            s1ptw: iss & (1 << 7) != 0,
            dfsc: (iss & 0x3f) as u8,
        }
    }

    /// The faulting guest-physical address from HPFAR_EL2 and FAR_EL2.
    pub fn ipa(hpfar: u64, far: u64) -> u64 {
        ((hpfar & 0x0000_0fff_ffff_fff0) << 8) | (far & 0xfff)
    }

    /// Extends a loaded value as the instruction would.
    pub fn extend(&self, value: u64) -> u64 {
        // SAS gives 1, 2, 4 or 8 bytes: bits is 8..=64.
        let bits = u32::from(self.size).saturating_mul(8).clamp(8, 64);
        let mut v = if bits == 64 { value } else { value & (1u64 << bits).wrapping_sub(1) };
        if self.sign_extend && bits < 64 && v & (1u64 << (bits.wrapping_sub(1))) != 0 {
            v |= !0u64 << bits;
        }
        if !self.sixty_four {
            v &= 0xffff_ffff;
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

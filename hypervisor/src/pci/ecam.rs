//! ECAM addressing: 1 MiB per bus, 32 KiB per device, 4 KiB per function.

/// A config-space access decoded from its offset in the ECAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CfgAccess {
    /// bus << 8 | device << 3 | function.
    pub bdf: u16,
    /// Offset in the function's 4 KiB.
    pub reg: u16,
}

/// Decodes offset `off` of the ECAM; `None` beyond bus 255 (the ECAM
/// entry is never that large, but the offset comes from a trap).
pub fn decode(off: u64) -> Option<CfgAccess> {
    let bdf = u16::try_from(off >> 12).ok()?;
    Some(CfgAccess { bdf, reg: (off & 0xfff) as u16 })
}

/// Whether an access of `size` bytes at `reg` is one config space allows:
/// 1, 2 or 4 bytes, naturally aligned.
pub fn well_formed(reg: u16, size: u8) -> bool {
    matches!(size, 1 | 2 | 4) && reg.is_multiple_of(u16::from(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_decode_to_bdf_and_register() {
        assert_eq!(decode(0), Some(CfgAccess { bdf: 0, reg: 0 }));
        // 00:01.0 register 0x3d.
        assert_eq!(decode(0x8000 + 0x3d), Some(CfgAccess { bdf: 0x08, reg: 0x3d }));
        // 01:1f.7 register 0xffc.
        assert_eq!(decode(0x10_0000 | 0x1f << 15 | 7 << 12 | 0xffc), Some(CfgAccess { bdf: 0x1ff, reg: 0xffc }));
        assert_eq!(decode(256 << 20), None);
    }

    #[test]
    fn only_aligned_small_accesses() {
        assert!(well_formed(0x10, 4) && well_formed(0x3d, 1) && well_formed(0x6, 2));
        assert!(!well_formed(0x11, 4) && !well_formed(0x3, 2) && !well_formed(0x10, 8) && !well_formed(0, 3));
    }
}

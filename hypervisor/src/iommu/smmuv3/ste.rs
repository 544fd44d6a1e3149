//! Stream table entries, level-1 descriptors and context descriptors
//! (ARM IHI 0070, 5.2–5.4), as plain words: pure, host-tested.

/// What a stream does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ste {
    /// Every transaction is terminated (no event): streams nobody owns.
    Abort,
    /// Stage-2 translation through a cell's own stage-2 table (the table
    /// the CPUs use), tagged with its VMID.
    Stage2 { vmid: u16, ttb: u64, ps: u8 },
    /// Stage-1 translation through the context descriptor at `cd` (an
    /// SMMU without stage 2, e.g. QEMU before 8.1: the table is the
    /// cell's DMA mirror, see `iommu::Domain`).
    Stage1 { cd: u64 },
}

const V: u64 = 1;
const CFG_ABORT: u64 = 0b000 << 1;
const CFG_S1: u64 = 0b101 << 1;
const CFG_S2: u64 = 0b110 << 1;

/// 40-bit input, start level 1 with two concatenated tables, 4 KiB
/// granule: the CPUs' stage 2 (`PageTable::stage2`, `regval::vtcr`); the
/// SMMU walks stage 2 with the VMSA's concatenation rules.
const T0SZ: u64 = 64 - crate::mm::paging::STAGE2_IPA_BITS as u64;
/// SL0 for a 4 KiB granule: 1 = start at level 1.
const S2SL0_L1: u64 = 1;

impl Ste {
    /// The eight words of the entry.
    pub fn words(self) -> [u64; 8] {
        let mut w = [0u64; 8];
        match self {
            Ste::Abort => w[0] = V | CFG_ABORT,
            Ste::Stage2 { vmid, ttb, ps } => {
                w[0] = V | CFG_S2;
                // SHCFG = incoming shareability (stage 1 is bypassed):
                // the stage-2 attributes then decide, as for the CPUs.
                w[1] = 1 << 44;
                w[2] = u64::from(vmid)
                    | T0SZ << 32
                    | S2SL0_L1 << 38
                    | 1 << 40 // S2IR0: write-back, read/write-allocate
                    | 1 << 42 // S2OR0: likewise
                    | 3 << 44 // S2SH0: inner shareable
                    // S2TG (46..47) = 0: 4 KiB
                    | u64::from(ps & 7) << 48
                    | 1 << 51 // S2AA64
                    | 1 << 58; // S2R: record faults as events
                w[3] = ttb & 0x000f_ffff_ffff_fff0;
            }
            Ste::Stage1 { cd } => {
                // S1Fmt 0 (one CD), S1CDMax 0; S1DSS 0; STRW 0 (EL1).
                w[0] = V | CFG_S1 | (cd & 0x000f_ffff_ffff_ffc0);
                // S1CIR/S1COR write-back, S1CSH inner shareable: how the
                // SMMU fetches the CD.
                w[1] = 1 << 2 | 1 << 4 | 3 << 6;
            }
        }
        w
    }
}

/// A level-1 descriptor for a level-2 table of 2^`split` entries at `l2`
/// (Span = split + 1), or an invalid one (`l2` = 0): every stream under
/// it is out of range and aborted.
pub fn l1_desc(l2: u64, split: u32) -> u64 {
    if l2 == 0 {
        return 0;
    }
    u64::from(split + 1) | (l2 & 0x000f_ffff_ffff_ffc0)
}

/// A stage-1 context descriptor for a 40-bit table at `ttb` (stage 1
/// has no concatenation: the walk starts at level 0) in the
/// format of the hypervisor's EL2 tables (`Regime::El2`: MAIR index 0
/// normal write-back, index 2 device nGnRE; AP[1] set, so unprivileged
/// device accesses are allowed), TTB1 disabled, faults recorded (R) and
/// terminated with an abort (A), `ips` the output size.
pub fn cd_words(ttb: u64, asid: u16, ips: u8) -> [u64; 8] {
    let mut w = [0u64; 8];
    w[0] = T0SZ
        // TG0 (6..7) = 0: 4 KiB
        | 1 << 8 // IR0 write-back
        | 1 << 10 // OR0 write-back
        | 3 << 12 // SH0 inner shareable
        | 1 << 30 // EPD1: no TTB1 walks
        | 1 << 31 // V
        | u64::from(ips & 7) << 32
        | 1 << 41 // AA64
        | 1 << 45 // R: record faults
        | 1 << 46 // A: abort on fault (no stall)
        | 1 << 47 // ASET: non-shared ASID (no broadcast TLBI)
        | u64::from(asid) << 48;
    w[1] = ttb & 0x000f_ffff_ffff_fff0;
    // MAIR: attr0 normal WB RW-allocate (0xff), attr2 device nGnRE (0x04).
    w[3] = 0xff | 0x04 << 16;
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abort_is_valid_config_zero() {
        assert_eq!(Ste::Abort.words(), [1, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn stage2_fields() {
        let w = Ste::Stage2 { vmid: 5, ttb: 0x7fc1_2000, ps: 2 }.words();
        assert_eq!(w[0] & 0xf, 0b1101);
        assert_eq!(w[2] & 0xffff, 5);
        assert_eq!((w[2] >> 32) & 0x3f, 24);
        assert_eq!((w[2] >> 38) & 3, 1);
        assert_eq!((w[2] >> 48) & 7, 2);
        assert_ne!(w[2] & 1 << 51, 0);
        assert_ne!(w[2] & 1 << 58, 0);
        assert_eq!(w[3], 0x7fc1_2000);
    }

    #[test]
    fn stage1_points_at_cd() {
        let w = Ste::Stage1 { cd: 0x7fc0_3040 }.words();
        assert_eq!(w[0] & 0xf, 0b1011);
        assert_eq!(w[0] & !0xf, 0x7fc0_3040);
    }

    #[test]
    fn l1_span_and_invalid() {
        assert_eq!(l1_desc(0, 6), 0);
        assert_eq!(l1_desc(0x7fc0_5000, 6), 0x7fc0_5000 | 7);
    }

    #[test]
    fn cd_fields() {
        let w = cd_words(0x7fc0_8000, 3, 2);
        assert_eq!(w[0] & 0x3f, 24);
        assert_ne!(w[0] & 1 << 31, 0);
        assert_eq!(w[0] >> 48, 3);
        assert_eq!(w[1], 0x7fc0_8000);
    }
}

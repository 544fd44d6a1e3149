//! GICv3 affinity encodings (pure, host-tested): how MPIDR_EL1 maps to the
//! GICR_TYPER affinity and to an ICC_SGI1R_EL1 value.

/// GICR_TYPER[63:32] layout (Aff3.Aff2.Aff1.Aff0) of the CPU with `mpidr`.
pub const fn typer_affinity(mpidr: u64) -> u32 {
    let aff0_2 = mpidr & 0x00ff_ffff;
    let aff3 = (mpidr >> 32) & 0xff;
    (aff0_2 | (aff3 << 24)) as u32
}

/// ICC_SGI1R_EL1 value sending SGI `intid` (0..15) to the CPU with `mpidr`.
/// The target list holds 16 Aff0 values of one Aff3.Aff2.Aff1 cluster,
/// selected by the range field RS = Aff0 / 16.
pub const fn sgi1r_value(intid: u32, mpidr: u64) -> u64 {
    let aff0 = mpidr & 0xff;
    let aff1 = (mpidr >> 8) & 0xff;
    let aff2 = (mpidr >> 16) & 0xff;
    let aff3 = (mpidr >> 32) & 0xff;
    let rs = aff0 >> 4;
    (aff3 << 48)
        | (rs << 44)
        | (aff2 << 32)
        | (((intid & 0xf) as u64) << 24)
        | (aff1 << 16)
        | (1 << (aff0 & 0xf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typer_affinity_moves_aff3_below_aff2() {
        assert_eq!(typer_affinity(0x8000_0003), 3); // MPIDR bit 31 is RES1
        assert_eq!(typer_affinity(0x0000_0012_0003_0201), 0x1203_0201);
    }

    #[test]
    fn sgi1r_targets_one_cpu() {
        assert_eq!(sgi1r_value(1, 0), (1 << 24) | 1);
        assert_eq!(
            sgi1r_value(15, 0x01_0002_0305),
            (1 << 48) | (2 << 32) | (15 << 24) | (3 << 16) | (1 << 5)
        );
        // Aff0 = 0x23: range 2, bit 3; MPIDR bits 24..31 (MT, U) ignored.
        assert_eq!(sgi1r_value(0, 0x8100_0023), (2 << 44) | (1 << 3));
    }
}

//! GICv3 ITS and redistributor LPI registers (GIC architecture
//! specification, IHI 0069: 12.19 ITS registers, 12.11 GICR_PROPBASER /
//! GICR_PENDBASER): offsets and the encodings the driver writes. Pure.

pub const GITS_CTLR: u64 = 0x0000;
pub const GITS_TYPER: u64 = 0x0008;
pub const GITS_CBASER: u64 = 0x0080;
pub const GITS_CWRITER: u64 = 0x0088;
pub const GITS_CREADR: u64 = 0x0090;
/// GITS_BASER<n> at 0x100 + 8n, n < 8.
pub const GITS_BASER: u64 = 0x0100;
/// GITS_TRANSLATER's offset in the ITS (second 64 KiB frame + 0x40).
pub const TRANSLATER: u64 = 0x1_0040;
/// The translation frame: its first 4 KiB page holds GITS_TRANSLATER.
pub const TRANSLATION_FRAME: u64 = 0x1_0000;
/// The control frame, the only part the hypervisor itself maps.
pub const CONTROL_SIZE: u64 = 0x1_0000;

pub const CTLR_ENABLED: u64 = 1;
pub const CTLR_QUIESCENT: u64 = 1 << 31;
/// CREADR bit 0: the queue stalled on a command error.
pub const CREADR_STALLED: u64 = 1;

pub const GICR_CTLR: u64 = 0x0000;
pub const GICR_TYPER: u64 = 0x0008;
pub const GICR_PROPBASER: u64 = 0x0070;
pub const GICR_PENDBASER: u64 = 0x0078;
pub const GICR_CTLR_ENABLE_LPIS: u64 = 1;
/// GICR_TYPER.PLPIS: the redistributor handles physical LPIs.
pub const GICR_TYPER_PLPIS: u64 = 1;

/// GITS_BASER types (bits 58:56).
pub const BASER_TYPE_DEVICES: u64 = 1;
pub const BASER_TYPE_COLLECTIONS: u64 = 4;

/// Attributes every table and the queue are programmed with: Normal,
/// inner write-back read/write-allocate (0b111), outer the same as inner
/// (0b000), inner shareable (0b01), as the hypervisor maps its own
/// memory. An implementation that cannot snoop reports Shareability 0
/// when read back (`coherent`); the driver then cleans each write to the
/// point of coherency.
const INNER_WB: u64 = 0b111;
const SH_INNER: u64 = 0b01;

/// GITS_TYPER fields the driver uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ItsTyper {
    /// Bytes of one ITT entry.
    pub itt_entry: u64,
    /// EventID bits.
    pub id_bits: u32,
    /// DeviceID bits.
    pub dev_bits: u32,
    /// Target addresses are physical (1) or processor numbers (0).
    pub pta: bool,
    /// Collections held in the ITS without memory.
    pub hcc: u32,
    pub physical: bool,
}

pub fn its_typer(v: u64) -> ItsTyper {
    ItsTyper {
        physical: v & 1 != 0,
        itt_entry: ((v >> 4) & 0xf) + 1,
        id_bits: ((v >> 8) & 0x1f) as u32 + 1,
        dev_bits: ((v >> 13) & 0x1f) as u32 + 1,
        pta: v & (1 << 19) != 0,
        hcc: ((v >> 24) & 0xff) as u32,
    }
}

/// GITS_BASER<n>: type and entry size as the ITS reports them.
pub fn baser_type(v: u64) -> u64 {
    (v >> 56) & 7
}
pub fn baser_entry_size(v: u64) -> u64 {
    ((v >> 48) & 0x1f) + 1
}

/// GITS_BASER<n> for a flat table of `pages` 4 KiB pages at `pa`,
/// keeping the read-only type and entry-size fields of `cur`.
pub fn baser(cur: u64, pa: u64, pages: u64) -> u64 {
    let keep = cur & (0x7 << 56 | 0x1f << 48);
    1 << 63 | INNER_WB << 59 | keep | (pa & 0x0000_ffff_ffff_f000) | SH_INNER << 10 | (pages - 1)
}

/// GITS_CBASER for a queue of `pages` 4 KiB pages at `pa`.
pub fn cbaser(pa: u64, pages: u64) -> u64 {
    1 << 63 | INNER_WB << 59 | (pa & 0x000f_ffff_ffff_f000) | SH_INNER << 10 | (pages - 1)
}

/// Whether a BASER/CBASER/PROPBASER/PENDBASER read back keeps inner
/// shareability (bits 11:10): the unit reads the table coherently.
pub fn coherent(readback: u64) -> bool {
    (readback >> 10) & 3 == SH_INNER
}

/// GICR_PROPBASER: a property table at `pa` for `id_bits` INTID bits.
pub fn propbaser(pa: u64, id_bits: u32) -> u64 {
    (pa & 0x000f_ffff_ffff_f000) | SH_INNER << 10 | INNER_WB << 7 | u64::from(id_bits - 1)
}

/// GICR_PENDBASER: a zeroed pending table (PTZ) at `pa`, 64 KiB aligned.
pub fn pendbaser(pa: u64) -> u64 {
    1 << 62 | (pa & 0x000f_ffff_ffff_0000) | SH_INNER << 10 | INNER_WB << 7
}

/// An LPI's property byte: priority (bits 7:2), RES1 (bit 1), enable (bit 0).
pub fn lpi_property(priority: u8, enabled: bool) -> u8 {
    (priority & 0xfc) | 2 | u8::from(enabled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typer_of_qemu_its() {
        // Physical, 12-byte ITT entries (field 11), 3 EventID bits
        // (field 2), DeviceID field 15, PTA 0, HCC 0.
        let t = its_typer(0x2b1 | 0xf << 13);
        assert!(t.physical);
        assert_eq!(t.itt_entry, 12);
        assert_eq!(t.id_bits, 3);
        assert_eq!(t.dev_bits, 16);
        assert_eq!(t.hcc, 0);
        assert!(!t.pta);
    }

    #[test]
    fn table_registers() {
        let cur = BASER_TYPE_DEVICES << 56 | 7 << 48;
        let b = baser(cur, 0x7fc1_2000, 1);
        assert_eq!(baser_type(b), BASER_TYPE_DEVICES);
        assert_eq!(baser_entry_size(b), 8);
        assert_eq!(b & 0xff, 0);
        assert_eq!(b & 0x0000_ffff_ffff_f000, 0x7fc1_2000);
        assert!(b >> 63 == 1 && coherent(b));
        assert_eq!(cbaser(0x7fc1_3000, 2) & 0xff, 1);
        assert_eq!(propbaser(0x7fc2_0000, 14) & 0x1f, 13);
        assert_eq!(pendbaser(0x7fc3_0000) & (1 << 62), 1 << 62);
        assert_eq!(pendbaser(0x7fc3_8000) & 0x000f_ffff_ffff_0000, 0x7fc3_0000);
        assert_eq!(lpi_property(0xa0, true), 0xa3);
        assert_eq!(lpi_property(0xa0, false), 0xa2);
    }
}

//! ITS commands (IHI 0069, 5.3): 32 bytes each, four little-endian
//! doublewords, command number in DW0 bits 7:0. Pure encoding.

/// One command as the queue holds it.
pub type Cmd = [u64; 4];

const MAPD: u64 = 0x08;
const MAPC: u64 = 0x09;
const MAPTI: u64 = 0x0a;
const INVALL: u64 = 0x0d;
const SYNC: u64 = 0x05;
const DISCARD: u64 = 0x0f;

const V: u64 = 1 << 63;

fn dev(op: u64, device: u32) -> u64 {
    op | u64::from(device) << 32
}

/// MAPD: `device`'s ITT at `itt` (256-byte aligned) for `event_bits`
/// EventID bits; `itt = None` unmaps the device (V = 0).
pub fn mapd(device: u32, itt: Option<(u64, u32)>) -> Cmd {
    match itt {
        Some((pa, bits)) => [dev(MAPD, device), u64::from(bits - 1), V | (pa & 0x000f_ffff_ffff_ff00), 0],
        None => [dev(MAPD, device), 0, 0, 0],
    }
}

/// MAPC: collection `icid` targets the redistributor `rdbase` (already
/// in the ITS's format: a physical address or processor number << 16).
pub fn mapc(icid: u16, rdbase: u64) -> Cmd {
    [MAPC, 0, V | (rdbase & 0x0007_ffff_ffff_0000) | u64::from(icid), 0]
}

/// MAPTI: `event` of `device` raises physical LPI `lpi` on `icid`.
pub fn mapti(device: u32, event: u32, lpi: u32, icid: u16) -> Cmd {
    [dev(MAPTI, device), u64::from(event) | u64::from(lpi) << 32, u64::from(icid), 0]
}

/// DISCARD: `event` of `device` unmapped, a pending LPI of it removed.
pub fn discard(device: u32, event: u32) -> Cmd {
    [dev(DISCARD, device), u64::from(event), 0, 0]
}

/// INVALL: the redistributor of `icid` reloads every LPI's properties.
pub fn invall(icid: u16) -> Cmd {
    [INVALL, 0, u64::from(icid), 0]
}

/// SYNC: the effects of earlier commands on `rdbase` are visible.
pub fn sync(rdbase: u64) -> Cmd {
    [SYNC, 0, rdbase & 0x0007_ffff_ffff_0000, 0]
}

/// The RDbase of a redistributor: its physical address (GITS_TYPER.PTA)
/// or its processor number (GICR_TYPER bits 23:8), as MAPC/SYNC carry it.
pub fn rdbase(pta: bool, frame_pa: u64, gicr_typer: u64) -> u64 {
    if pta { frame_pa & !0xffff } else { ((gicr_typer >> 8) & 0xffff) << 16 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(mapd(0x28, Some((0x7fc4_0100, 10))), [0x28_0000_0008, 9, V | 0x7fc4_0100, 0]);
        assert_eq!(mapd(0x28, None), [0x28_0000_0008, 0, 0, 0]);
        assert_eq!(mapti(0x28, 224, 8192 + 224, 3), [0x28_0000_000a, 224 | (8416u64 << 32), 3, 0]);
        assert_eq!(discard(0x28, 224), [0x28_0000_000f, 224, 0, 0]);
        assert_eq!(mapc(3, 3 << 16), [0x09, 0, V | 3 << 16 | 3, 0]);
        assert_eq!(rdbase(false, 0x080e_0000, 3 << 8), 3 << 16);
        assert_eq!(rdbase(true, 0x080e_0000, 3 << 8), 0x080e_0000);
        assert_eq!(sync(0x080e_0000)[2], 0x080e_0000);
        assert_eq!(invall(2), [0x0d, 0, 2, 0]);
    }
}

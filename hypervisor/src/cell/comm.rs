//! The communication region: one page per cell, shared between the cell
//! and the hypervisor (Jailhouse layout, revision 2).

/// Comm region revision.
pub const COMM_REVISION: u16 = 2;

/// Bytes of the comm region the hypervisor fills; the rest of the page is
/// zero.
pub const HEADER_LEN: usize = 100;

/// The start of the comm region page for a cell that starts (the caller
/// zeroes the page and copies this to offset 0).
pub fn header(console: &[u8; 32], vpci_irq_base: u32, gic: (u8, u64, u64, u64), cell_flags: u32, pci_mmconfig_base: u64) -> [u8; HEADER_LEN] {
    let mut page = [0u8; HEADER_LEN];
    page[0..6].copy_from_slice(b"JHCOMM");
    page[6..8].copy_from_slice(&COMM_REVISION.to_le_bytes());
    // cell_state @8 = RUNNING (0), msg_to_cell @12, reply_from_cell @16 = 0
    let mut flags = 0u32;
    if cell_flags & 0x4000_0000 != 0 {
        flags |= 1;
    }
    if cell_flags & 0x8000_0000 != 0 {
        flags |= 2;
    }
    page[20..24].copy_from_slice(&flags.to_le_bytes());
    page[24..56].copy_from_slice(console);
    // Where inmates find the virtual PCI host's ECAM (0: none).
    page[56..64].copy_from_slice(&pci_mmconfig_base.to_le_bytes());
    // gic_version, gicd_base, gicc_base (GICv2: where GICV is mapped),
    // gicr_base (GICv3).
    page[64] = gic.0;
    page[72..80].copy_from_slice(&gic.1.to_le_bytes());
    page[80..88].copy_from_slice(&gic.2.to_le_bytes());
    page[88..96].copy_from_slice(&gic.3.to_le_bytes());
    page[96..100].copy_from_slice(&vpci_irq_base.to_le_bytes());
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysconfig::CellView;

    #[test]
    fn layout_of_the_filled_page() {
        let mut desc = [0u8; 140];
        desc[0..5].copy_from_slice(b"JHCLL");
        desc[5] = 2;
        desc[6] = 14;
        desc[8..12].copy_from_slice(b"demo");
        desc[48] = 8; // cpu_set_size
        desc[100..108].copy_from_slice(&0x0900_0000u64.to_le_bytes());
        desc[108] = 0x10; // console size
        desc[112] = 3; // PL011
        desc[114] = 1; // MMIO
        desc[132] = 0b10; // CPU 1
        let view = CellView::parse(&desc).unwrap();
        let page = header(&view.console_bytes(), view.vpci_irq_base(), (3, 0x0800_0000, 0, 0x080a_0000), 0x4000_0000, 0x08e0_0000);
        assert_eq!(&page[0..6], b"JHCOMM");
        assert_eq!(u16::from_le_bytes([page[6], page[7]]), 2);
        assert_eq!(&page[8..12], &[0; 4], "RUNNING");
        assert_eq!(page[20], 1, "putc permitted");
        assert_eq!(u64::from_le_bytes(page[24..32].try_into().unwrap()), 0x0900_0000);
        assert_eq!(u64::from_le_bytes(page[56..64].try_into().unwrap()), 0x08e0_0000);
        assert_eq!(page[64], 3);
        assert_eq!(u64::from_le_bytes(page[72..80].try_into().unwrap()), 0x0800_0000);
        assert_eq!(u64::from_le_bytes(page[88..96].try_into().unwrap()), 0x080a_0000);
        assert_eq!(page.len(), 100);
        assert_eq!(&page[12..20], &[0; 8], "no message, no reply");
    }
}

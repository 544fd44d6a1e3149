//! The config space of an ivshmem function, exactly the table of
//! docs/ivshmem.md: what reads return and which writes take effect (the
//! rest is ignored; reads of unnamed registers return 0).

use syshyper_config::ivshmem::Ivshmem;

/// Vendor 110Ah (Siemens), device 4106h (ivshmem v2).
pub const ID: u32 = 0x4106_110a;
/// Command bits the guest may write: memory space (1), bus master (2, as
/// PCI defines it and Linux's pci_set_master() writes it; the ivshmem v2
/// specification's table says bit 3, so that one is kept writable too),
/// INTx disable (10). Neither bus-master bit changes anything here.
pub const CMD_WRITABLE: u16 = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 10);
/// Command bit 1: BAR0 decodes.
pub const CMD_MEMORY: u16 = 1 << 1;
/// Command bit 10: INTx disabled.
pub const CMD_INTX_DISABLE: u16 = 1 << 10;
/// Status: capabilities list present.
const STATUS_CAP_LIST: u32 = 0x0010;
/// Where the vendor capability sits.
const CAP_OFFSET: u32 = 0x40;
/// PCI capability ID "vendor specific".
const CAP_VENDOR: u32 = 0x09;
/// Bytes of the vendor capability.
const CAP_LEN: u32 = 0x20;

/// The writable state of a function's config space (reset: all zero).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CfgRegs {
    pub command: u16,
    /// BAR0 as the guest programmed it (masked by `bar_mask`).
    pub bar0: u32,
    /// Interrupt line (3Ch), a scratch byte for the guest.
    pub line: u8,
    /// Privileged control bit 0: one-shot interrupt mode.
    pub one_shot: bool,
}

impl CfgRegs {
    /// Whether BAR0 decodes at `[bar0, bar0 + size)` now.
    pub fn memory_enabled(&self) -> bool {
        self.command & CMD_MEMORY != 0
    }
}

fn lo(v: u64) -> u32 {
    v as u32
}

fn hi(v: u64) -> u32 {
    (v >> 32) as u32
}

/// The 32-bit register at `dword` (a multiple of 4).
pub fn read_dword(dev: &Ivshmem, r: &CfgRegs, dword: u16) -> u32 {
    match dword {
        0x00 | 0x2c => ID,
        0x04 => STATUS_CAP_LIST << 16 | u32::from(r.command),
        // Base class FFh, sub-class and interface from the protocol, revision 0.
        0x08 => 0xff << 24 | u32::from(dev.protocol) << 8,
        0x10 => r.bar0 & dev.bar_mask,
        0x34 => CAP_OFFSET,
        0x3c => u32::from(dev.pin()) << 8 | u32::from(r.line),
        0x40 => u32::from(r.one_shot) << 24 | CAP_LEN << 16 | CAP_VENDOR,
        0x44 => u32::try_from(dev.state.size).unwrap_or(u32::MAX),
        0x48 => lo(dev.rw.size),
        0x4c => hi(dev.rw.size),
        0x50 => lo(dev.output_size()),
        0x54 => hi(dev.output_size()),
        0x58 => lo(dev.state.virt),
        0x5c => hi(dev.state.virt),
        _ => 0,
    }
}

/// Byte lanes of an access of `size` bytes at `reg`, within its dword.
pub(crate) fn lanes(reg: u16, size: u8) -> (u32, u32) {
    let shift = u32::from(reg & 3) << 3;
    let mask = match size {
        1 => 0xff,
        2 => 0xffff,
        _ => u32::MAX,
    };
    (shift, mask.checked_shl(shift).unwrap_or(0))
}

/// A read of `size` (1, 2, 4) bytes at `reg` (naturally aligned).
pub fn read(dev: &Ivshmem, r: &CfgRegs, reg: u16, size: u8) -> u32 {
    let (shift, mask) = lanes(reg, size);
    (read_dword(dev, r, reg & !3) & mask) >> shift
}

/// A write of `size` bytes of `value` at `reg`: only the bits the table
/// names change.
pub fn write(dev: &Ivshmem, r: &mut CfgRegs, reg: u16, size: u8, value: u32) {
    let (shift, mask) = lanes(reg, size);
    let v = value.checked_shl(shift).unwrap_or(0) & mask;
    match reg & !3 {
        0x04 => {
            let writable = (mask as u16) & CMD_WRITABLE;
            r.command = (r.command & !writable) | (v as u16 & writable);
        }
        0x10 => {
            // Sizing writes all ones and reads back the mask.
            let merged = (r.bar0 & !mask) | v;
            r.bar0 = merged & dev.bar_mask;
        }
        0x3c if mask & 0xff != 0 => r.line = v as u8,
        0x40 if mask & (1 << 24) != 0 => r.one_shot = v & (1 << 24) != 0,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syshyper_config::ivshmem::Section;

    pub(crate) fn dev() -> Ivshmem {
        let mut outputs = [Section::default(); 16];
        outputs[0] = Section { phys: 0x7fb0_3000, virt: 0x1000_3000, size: 0x1000, flags: 3 };
        outputs[1] = Section { phys: 0x7fb0_4000, virt: 0x1000_4000, size: 0x1000, flags: 1 };
        Ivshmem {
            index: 0,
            domain: 1,
            bdf: 0x08,
            bar_mask: 0xffff_f000,
            id: 1,
            peers: 2,
            protocol: 0x4002,
            intid: 129,
            state: Section { phys: 0x7fb0_0000, virt: 0x1_1000_0000, size: 0x1000, flags: 1 },
            rw: Section { phys: 0x7fb0_1000, virt: 0x1000_1000, size: 0x2000, flags: 3 },
            outputs,
        }
    }

    #[test]
    fn identity_class_capability_and_sizes() {
        let (d, r) = (dev(), CfgRegs::default());
        assert_eq!(read(&d, &r, 0, 2), 0x110a);
        assert_eq!(read(&d, &r, 2, 2), 0x4106);
        assert_eq!(read(&d, &r, 0x2c, 4), ID);
        assert_eq!(read(&d, &r, 0x04, 4), 0x0010_0000, "status: capability list; command reset 0");
        assert_eq!(read(&d, &r, 0x08, 4), 0xff40_0200, "class FFh, protocol 4002h, revision 0");
        assert_eq!(read(&d, &r, 0x0e, 1), 0, "header type 0");
        assert_eq!(read(&d, &r, 0x34, 1), 0x40);
        assert_eq!(read(&d, &r, 0x3d, 1), 2, "00:01.0: INTB");
        assert_eq!(read(&d, &r, 0x40, 4), 0x0020_0009);
        assert_eq!(read(&d, &r, 0x44, 4), 0x1000);
        assert_eq!((read(&d, &r, 0x48, 4), read(&d, &r, 0x4c, 4)), (0x2000, 0));
        assert_eq!(read(&d, &r, 0x50, 4), 0x1000);
        assert_eq!((read(&d, &r, 0x58, 4), read(&d, &r, 0x5c, 4)), (0x1000_0000, 1));
        for off in [0x14, 0x18, 0x1c, 0x20, 0x24, 0x28, 0x30, 0x38, 0x60, 0xffc] {
            assert_eq!(read(&d, &r, off, 4), 0, "{off:#x}");
        }
    }

    #[test]
    fn bar_sizing_and_programming() {
        let (d, mut r) = (dev(), CfgRegs::default());
        write(&d, &mut r, 0x10, 4, u32::MAX);
        assert_eq!(read(&d, &r, 0x10, 4), 0xffff_f000, "4 KiB, 32-bit memory BAR");
        write(&d, &mut r, 0x10, 4, 0x08f0_1234);
        assert_eq!(r.bar0, 0x08f0_1000);
        // A 16-bit write of the upper half keeps the lower.
        write(&d, &mut r, 0x12, 2, 0x1234);
        assert_eq!(r.bar0, 0x1234_1000);
        // BAR1..5 stay 0.
        write(&d, &mut r, 0x14, 4, u32::MAX);
        assert_eq!(read(&d, &r, 0x14, 4), 0);
    }

    #[test]
    fn only_named_bits_are_writable() {
        let (d, mut r) = (dev(), CfgRegs::default());
        write(&d, &mut r, 0x04, 4, u32::MAX);
        assert_eq!(read(&d, &r, 0x04, 4), 0x0010_0000 | 0x040e, "status read-only, command bits 1, 2, 3, 10");
        assert!(r.memory_enabled());
        write(&d, &mut r, 0x05, 1, 0);
        assert_eq!(r.command, 0x000e, "a byte write clears INTx disable only");
        write(&d, &mut r, 0x3c, 4, 0xffff_ff55);
        assert_eq!(read(&d, &r, 0x3c, 4), 0x0000_0255, "line writable, pin not");
        write(&d, &mut r, 0x40, 4, u32::MAX);
        assert_eq!(read(&d, &r, 0x40, 4), 0x0120_0009, "only one-shot");
        write(&d, &mut r, 0x43, 1, 0);
        assert!(!r.one_shot);
        let before = r;
        for off in [0x00u16, 0x08, 0x2c, 0x34, 0x44, 0x48, 0x50, 0x58, 0x100] {
            write(&d, &mut r, off, 4, u32::MAX);
        }
        assert_eq!(r, before, "writes elsewhere are ignored");
        assert_eq!(read(&d, &r, 0x00, 4), ID);
    }

    #[test]
    fn random_writes_keep_the_read_only_registers() {
        let d = dev();
        let mut r = CfgRegs::default();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            // xorshift64: a guest's arbitrary accesses, reproducibly.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let size = [1u8, 2, 4][(x % 3) as usize];
            let reg = ((x >> 8) & 0xfff) as u16 & !(u16::from(size) - 1);
            write(&d, &mut r, reg, size, (x >> 32) as u32);
            assert_eq!(r.command & !CMD_WRITABLE, 0);
            assert_eq!(r.bar0 & !d.bar_mask, 0);
            assert_eq!(read(&d, &r, 0, 4), ID);
            assert_eq!(read(&d, &r, 8, 4), 0xff40_0200);
            assert_eq!(read(&d, &r, 0x40, 4) & 0x00ff_ffff, 0x0020_0009);
            assert_eq!(read(&d, &r, 0x3d, 1), 2);
            assert_eq!(read(&d, &r, 0x14, 4), 0);
        }
    }
}

//! The boot stub `cell linux` writes at the cell's reset address: the
//! hypervisor starts a cell's first CPU there with x0 = 0, and the arm64
//! boot protocol wants x0 = the device tree and x1..x3 = 0 at the
//! kernel's first instruction. Entered a second time (Linux rebooted or
//! panicked with `panic=-1`: PSCI SYSTEM_RESET restarts the cell at its
//! reset address), it does not jump into the used-up kernel but asks the
//! hypervisor to fail the cell (an HVC with the immediate the hypervisor
//! reserves for this). The stub runs with the MMU off: its flag is read
//! and written uncached, in memory the device tree reserves.

/// The HVC immediate of a second entry (hypervisor `BOOT_AGAIN_IMM`).
pub const BOOT_AGAIN_IMM: u32 = 0x4c52;
/// Bytes of the stub.
pub const SIZE: usize = 0x58;

/// The stub's code and data, with the device tree at `dtb` and the
/// kernel's entry at `kernel` (guest-physical addresses).
pub fn build(dtb: u64, kernel: u64) -> Vec<u8> {
    let code: [u32; 14] = [
        0x1000_0205,                         // 00 adr  x5, flag (0x40)
        0xb940_00a6,                         // 04 ldr  w6, [x5]
        0x3500_0146,                         // 08 cbnz w6, again (0x30)
        0x5280_0026,                         // 0c mov  w6, #1
        0xb900_00a6,                         // 10 str  w6, [x5]
        0x5800_01a0,                         // 14 ldr  x0, dtb (0x48)
        0x5800_01c4,                         // 18 ldr  x4, kernel (0x50)
        0xaa1f_03e1,                         // 1c mov  x1, xzr
        0xaa1f_03e2,                         // 20 mov  x2, xzr
        0xaa1f_03e3,                         // 24 mov  x3, xzr
        0xd61f_0080,                         // 28 br   x4
        0xd503_201f,                         // 2c nop
        0xd400_0002 | (BOOT_AGAIN_IMM << 5), // 30 again: hvc #BOOT_AGAIN_IMM
        0x17ff_ffff,                         // 34 b    again
    ];
    let mut out: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    out.resize(0x40, 0);
    out.extend_from_slice(&[0u8; 8]); // 40 flag (u32) and padding
    out.extend_from_slice(&dtb.to_le_bytes()); // 48
    out.extend_from_slice(&kernel.to_le_bytes()); // 50
    debug_assert_eq!(out.len(), SIZE);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_where_the_code_loads_them() {
        let s = build(0x1122_3344_5566_7788, 0x7020_0000);
        assert_eq!(s.len(), SIZE);
        assert_eq!(&s[0x48..0x50], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&s[0x50..0x58], &0x7020_0000u64.to_le_bytes());
        assert_eq!(&s[0x40..0x44], &[0; 4], "the flag starts clear");
        // ldr x0, literal: imm19 * 4 from the instruction's address.
        let w = |at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap());
        assert_eq!(0x14 + ((w(0x14) >> 5) & 0x7ffff) as usize * 4, 0x48);
        assert_eq!(0x18 + ((w(0x18) >> 5) & 0x7ffff) as usize * 4, 0x50);
        assert_eq!(0x08 + ((w(0x08) >> 5) & 0x7ffff) as usize * 4, 0x30);
        assert_eq!(((w(0x00) >> 5) & 0x7ffff) << 2 | ((w(0x00) >> 29) & 3), 0x40);
        assert_eq!((w(0x30) >> 5) & 0xffff, BOOT_AGAIN_IMM);
    }
}

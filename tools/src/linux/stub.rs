//! The boot stub `cell linux` writes at the cell's reset address: the
//! hypervisor starts a cell's first CPU there with x0 = 0, and the arm64
//! boot protocol wants x0 = the device tree and x1..x3 = 0 at the
//! kernel's first instruction. Entered a second time (Linux rebooted or
//! panicked with `panic=-1`: PSCI SYSTEM_RESET restarts the cell at its
//! reset address), it does not jump into the used-up kernel but asks the
//! hypervisor to fail the cell (an HVC with the immediate the hypervisor
//! reserves for this). The stub runs with the MMU off, so its flag is
//! read and written as Device memory, in a page the device tree reserves;
//! `dc civac` (+ `dsb sy`) before the read and after the write removes any
//! cached copy of the flag's line (the root wrote the stub through a
//! cacheable mapping; Linux's linear map may prefetch the page), so an
//! uncached read never competes with a stale line and the write is in
//! memory for the next entry whatever the caches hold.

/// The HVC immediate of a second entry (hypervisor `BOOT_AGAIN_IMM`).
pub const BOOT_AGAIN_IMM: u32 = 0x4c52;
/// Bytes of the stub.
pub const SIZE: usize = 0x60;

/// The stub's code and data, with the device tree at `dtb` and the
/// kernel's entry at `kernel` (guest-physical addresses).
pub fn build(dtb: u64, kernel: u64) -> Vec<u8> {
    let code: [u32; 18] = [
        0x1000_0245,                         // 00 adr  x5, flag (0x48)
        0xd50b_7e25,                         // 04 dc   civac, x5
        0xd503_3f9f,                         // 08 dsb  sy
        0xb940_00a6,                         // 0c ldr  w6, [x5]
        0x3500_0166,                         // 10 cbnz w6, again (0x3c)
        0x5280_0026,                         // 14 mov  w6, #1
        0xb900_00a6,                         // 18 str  w6, [x5]
        0xd50b_7e25,                         // 1c dc   civac, x5
        0xd503_3f9f,                         // 20 dsb  sy
        0x5800_0160,                         // 24 ldr  x0, dtb (0x50)
        0x5800_0184,                         // 28 ldr  x4, kernel (0x58)
        0xaa1f_03e1,                         // 2c mov  x1, xzr
        0xaa1f_03e2,                         // 30 mov  x2, xzr
        0xaa1f_03e3,                         // 34 mov  x3, xzr
        0xd61f_0080,                         // 38 br   x4
        0xd400_0002 | (BOOT_AGAIN_IMM << 5), // 3c again: hvc #BOOT_AGAIN_IMM
        0x17ff_ffff,                         // 40 b    again
        0xd503_201f,                         // 44 nop
    ];
    let mut out: Vec<u8> = code.iter().flat_map(|w| w.to_le_bytes()).collect();
    out.extend_from_slice(&[0u8; 8]); // 48 flag (u32) and padding
    out.extend_from_slice(&dtb.to_le_bytes()); // 50
    out.extend_from_slice(&kernel.to_le_bytes()); // 58
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
        assert_eq!(&s[0x50..0x58], &0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(&s[0x58..0x60], &0x7020_0000u64.to_le_bytes());
        assert_eq!(&s[0x48..0x4c], &[0; 4], "the flag starts clear");
        // ldr x0, literal: imm19 * 4 from the instruction's address.
        let w = |at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap());
        assert_eq!(0x24 + ((w(0x24) >> 5) & 0x7ffff) as usize * 4, 0x50);
        assert_eq!(0x28 + ((w(0x28) >> 5) & 0x7ffff) as usize * 4, 0x58);
        assert_eq!(0x10 + ((w(0x10) >> 5) & 0x7ffff) as usize * 4, 0x3c);
        assert_eq!(((w(0x00) >> 5) & 0x7ffff) << 2 | ((w(0x00) >> 29) & 3), 0x48);
        assert_eq!((w(0x3c) >> 5) & 0xffff, BOOT_AGAIN_IMM);
        assert_eq!(w(0x3c) & 0xffe0_001f, 0xd400_0002, "hvc");
        // dc civac, x5 (SYS #3, c7, c14, #1) around the flag's accesses.
        assert_eq!([w(0x04), w(0x1c)], [0xd50b_7e25; 2]);
    }
}

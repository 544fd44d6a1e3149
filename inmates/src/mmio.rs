//! Accessors for registers the hypervisor traps and emulates.
//!
//! The GIC registers (and others) are trapped and emulated by the hypervisor, which can
//! only emulate loads and stores whose syndrome it gets (ISV = 1): plain
//! `ldr`/`str` with an immediate offset, never the writeback forms the
//! compiler may pick for `read_volatile` (it did: `ldr w9, [x8, #128]!` in
//! ivshmem-demo, which parked the cell). Hence the accessors in assembly.

pub fn read32(addr: usize) -> u32 {
    let v: u32;
    // SAFETY: callers pass the address of a mapped device register
    // (trapped or not); a stray address faults, as any access would.
    unsafe { core::arch::asm!("ldr {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack, preserves_flags)) };
    v
}

pub fn write32(addr: usize, value: u32) {
    // SAFETY: as in `read32`.
    unsafe { core::arch::asm!("str {v:w}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack, preserves_flags)) };
}

pub fn read64(addr: usize) -> u64 {
    let v: u64;
    // SAFETY: as in `read32`.
    unsafe { core::arch::asm!("ldr {v}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack, preserves_flags)) };
    v
}

pub fn write64(addr: usize, value: u64) {
    // SAFETY: as in `read32`.
    unsafe { core::arch::asm!("str {v}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack, preserves_flags)) };
}

pub fn write8(addr: usize, value: u8) {
    // SAFETY: as in `read32` (GICv3 priority registers are byte-accessible).
    unsafe { core::arch::asm!("strb {v:w}, [{a}]", a = in(reg) addr, v = in(reg) value, options(nostack, preserves_flags)) };
}


pub fn read8(addr: usize) -> u8 {
    let v: u32;
    // SAFETY: as in `read32` (PCI config space is byte-accessible).
    unsafe { core::arch::asm!("ldrb {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack, preserves_flags)) };
    v as u8
}

pub fn read16(addr: usize) -> u16 {
    let v: u32;
    // SAFETY: as in `read8`.
    unsafe { core::arch::asm!("ldrh {v:w}, [{a}]", a = in(reg) addr, v = out(reg) v, options(nostack, preserves_flags)) };
    v as u16
}

pub fn write16(addr: usize, value: u16) {
    // SAFETY: as in `read8`.
    unsafe { core::arch::asm!("strh {v:w}, [{a}]", a = in(reg) addr, v = in(reg) u32::from(value), options(nostack, preserves_flags)) };
}

//! subpage-demo: prints through a PL011 that its cell has only as two
//! sub-page regions (configs/subpage-uart.toml): the data register area
//! (read/write, 8 and 32 bit) and the flag register area (read only, 8
//! and 32 bit). Every access traps and the hypervisor forwards it.
//!
//! After the allowed accesses it does what `subpage=` on its command line
//! (image offset 0x1000, written by the root) says:
//! - `ok` (or nothing): powers its cell off (PSCI SYSTEM_OFF), so the root
//!   sees the cell SHUT_DOWN, not FAILED;
//! - `offset`: reads the control register, in the page but in no region;
//! - `width`: a 16-bit read of the flag register (no IO_16);
//! - `unaligned`: a 32-bit read at flag register + 1 (no IO_UNALIGNED),
//!   with its MMU on, since with it off every data access is Device
//!   memory and an unaligned one faults at EL1 before reaching stage 2;
//! - `readonly`: a 32-bit write to the flag register.
//!
//! Each forbidden access must stop the cell (FAILED): the line after it
//! ("... survived") must never appear.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::cmdline::Cmdline;
    use syshyper_inmates::{console, cpu, println, psci};

    const UART: usize = 0x0900_0000;
    const FR: usize = UART + 0x18;
    /// UARTCR: in the UART's page, in neither region.
    const CR: usize = UART + 0x30;
    const FR_TXFE: u8 = 1 << 7;

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        println!("subpage-demo: hello through sub-page regions");
        // SAFETY: the flag register region allows 8-bit reads (IO_8).
        let fr8 = unsafe { (FR as *const u8).read_volatile() };
        // SAFETY: and 32-bit reads (IO_32).
        let fr32 = unsafe { (FR as *const u32).read_volatile() };
        println!(
            "subpage-demo: FR byte {:#x} word {:#x}, low bytes agree: {}",
            fr8,
            fr32,
            fr8 & !FR_TXFE == (fr32 as u8) & !FR_TXFE
        );
        let line = console::cmdline_copy();
        let mode = Cmdline::new(&line).str("subpage").unwrap_or("ok");
        println!("subpage-demo: mode {mode}");
        match mode {
            "offset" => {
                // SAFETY: deliberately outside the cell's regions.
                let v = unsafe { (CR as *const u32).read_volatile() };
                println!("subpage-demo: survived offset ({v:#x})");
            }
            "width" => {
                // SAFETY: deliberately a width the region does not allow.
                let v = unsafe { (FR as *const u16).read_volatile() };
                println!("subpage-demo: survived width ({v:#x})");
            }
            "unaligned" => {
                super::mmu::enable_identity();
                let v: u32;
                // One `ldr`: strict-align would split `read_unaligned` into bytes.
                // SAFETY: deliberately unaligned, inside the flag register
                // region; Normal memory at stage 1, so it reaches stage 2.
                unsafe { core::arch::asm!("ldr {v:w}, [{a}]", v = out(reg) v, a = in(reg) FR + 1, options(nostack, readonly)) };
                println!("subpage-demo: survived unaligned ({v:#x})");
            }
            "readonly" => {
                // SAFETY: deliberately a store to the read-only region.
                unsafe { (FR as *mut u32).write_volatile(0) };
                println!("subpage-demo: survived readonly");
            }
            _ => {
                println!("subpage-demo: allowed accesses done");
                psci::system_off();
            }
        }
        cpu::park()
    }
}

/// A one-entry stage-1 map, only for the unaligned probe.
#[cfg(target_os = "none")]
mod mmu {
    #[repr(C, align(4096))]
    struct Table([u64; 512]);

    static mut L1: Table = Table([0; 512]);

    /// Valid block, AttrIndx 0 (Normal write-back, MAIR below), inner
    /// shareable, access flag.
    const NORMAL_BLOCK: u64 = 1 | (3 << 8) | (1 << 10);
    /// Device-nGnRnE block (AttrIndx 1) for the comm region at 2 GiB.
    const DEVICE_BLOCK: u64 = 1 | (1 << 2) | (1 << 10);
    const MAIR: u64 = 0xff;
    /// T0SZ 25 (39-bit VA), 4 KiB granule, WB inner-shareable walks, TTBR1
    /// walks off (EPD1), IPS 40 bits.
    const TCR: u64 = 25 | (0b01 << 8) | (0b01 << 10) | (0b11 << 12) | (1 << 23) | (0b010 << 32);

    /// Identity map of 0..1 GiB (RAM at 0, the UART) as Normal memory and
    /// the comm region's GiB as device memory, then MMU on with alignment
    /// checks off.
    pub fn enable_identity() {
        let t = core::ptr::addr_of_mut!(L1) as *mut u64;
        // SAFETY: indices < 512, inside the table; only this CPU uses it,
        // before the MMU reads it.
        unsafe {
            t.write_volatile(NORMAL_BLOCK);
            t.add(2).write_volatile(0x8000_0000 | DEVICE_BLOCK);
        }
        // SAFETY: the table maps this program 1:1, so execution continues
        // at the next instruction once SCTLR_EL1.M is set.
        unsafe {
            core::arch::asm!(
                "dsb ish",
                "msr mair_el1, {mair}",
                "msr tcr_el1, {tcr}",
                "msr ttbr0_el1, {t0}",
                "isb",
                "tlbi vmalle1",
                "dsb nsh",
                "isb",
                "mrs {tmp}, sctlr_el1",
                "orr {tmp}, {tmp}, #1",
                "bic {tmp}, {tmp}, #2",
                "msr sctlr_el1, {tmp}",
                "isb",
                mair = in(reg) MAIR,
                tcr = in(reg) TCR,
                t0 = in(reg) t as u64,
                tmp = out(reg) _,
                options(nostack),
            )
        }
    }
}

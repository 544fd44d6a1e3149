//! Attacks through the cell's own stage-1 MMU: whatever a cell's page tables
//! say, the addresses they produce are still translated (and refused) by the
//! hypervisor's stage 2.
use super::attack_ids::{GICD_BASE, HV_TARGET};
use super::mailbox::*;
use core::arch::asm;

/// A 4 KiB-aligned level-1 table (39-bit VA: 512 entries of 1 GiB).
#[repr(C, align(4096))]
struct Table([u64; 512]);

static mut L1: Table = Table([0; 512]);

/// Block descriptor: valid block, AttrIndx, inner shareable, access flag.
const fn block(pa: u64, attr: u64) -> u64 {
    pa | 1 | (attr << 2) | (3 << 8) | (1 << 10)
}
const ATTR_DEVICE: u64 = 0;
const ATTR_NORMAL: u64 = 1;
/// MAIR: attr0 Device-nGnRnE, attr1 Normal write-back.
const MAIR: u64 = 0xff << 8;
/// TCR: T0SZ = T1SZ = 25 (39 bits), 4 KiB granules, WB inner shareable
/// walks, IPS 40 bits. `epd1` disables TTBR1 walks.
fn tcr(epd1: bool) -> u64 {
    let common = (0b01 << 8) | (0b01 << 10) | (0b11 << 12);
    25 | common
        | (25 << 16)
        | (common << 16)
        | (0b10 << 30)
        | (u64::from(epd1) << 23)
        | (0b010 << 32)
}
/// VA that, with the table below, lands on root RAM 0x4000_0000.
const ROOT_WINDOW_VA: u64 = 0xc000_0000;

/// Fills L1: identity for 0..1 GiB (this cell's RAM, mailbox, devices) and
/// 2..3 GiB (comm region), and VA 3 GiB -> PA 1 GiB (root RAM).
fn build_l1() -> u64 {
    let t = core::ptr::addr_of_mut!(L1) as *mut u64;
    let entries = [
        (0, block(0, ATTR_NORMAL)),
        (2, block(0x8000_0000, ATTR_DEVICE)),
        (3, block(0x4000_0000, ATTR_NORMAL)),
    ];
    for (i, d) in entries {
        // SAFETY: `i < 512`, inside the table; only this CPU uses it.
        unsafe { t.add(i).write_volatile(d) };
    }
    t as u64
}

/// Turns the MMU on with TTBR0 = `ttbr0`, TTBR1 = `ttbr1` (walks enabled
/// only when `ttbr1` is non-zero).
fn enable_mmu(ttbr0: u64, ttbr1: u64) {
    // SAFETY: the TTBR0 tables map this program 1:1, so execution continues
    // at the next instruction once SCTLR_EL1.M is set.
    unsafe {
        asm!(
            "msr mair_el1, {mair}",
            "msr tcr_el1, {tcr}",
            "msr ttbr0_el1, {t0}",
            "msr ttbr1_el1, {t1}",
            "isb",
            "tlbi vmalle1",
            "dsb nsh",
            "isb",
            "mrs {tmp}, sctlr_el1",
            "orr {tmp}, {tmp}, #1",
            "msr sctlr_el1, {tmp}",
            "isb",
            mair = in(reg) MAIR,
            tcr = in(reg) tcr(ttbr1 == 0),
            t0 = in(reg) ttbr0,
            t1 = in(reg) ttbr1,
            tmp = out(reg) _,
            options(nostack),
        )
    }
}

/// Maps root RAM into this cell's VA space and reads the hypervisor's
/// image through it.
pub fn to_hypervisor(mb: Mailbox) {
    enable_mmu(build_l1(), 0);
    mb.write(STAGE, STAGE_ATTEMPTED);
    let va = ROOT_WINDOW_VA + (HV_TARGET - 0x4000_0000);
    // SAFETY: deliberately reads through a mapping to memory this cell does
    // not own; stage 2 must stop the CPU.
    let v = unsafe { (va as *const u64).read_volatile() };
    mb.set_result(0, v as i64);
    mb.write(STAGE, STAGE_SURVIVED);
}

/// TTBR1's tables "live" on the emulated GICD page: a data access through
/// TTBR1 makes the table walk itself touch trapped MMIO.
pub fn walk_in_gic(mb: Mailbox) {
    enable_mmu(build_l1(), GICD_BASE);
    mb.write(STAGE, STAGE_ATTEMPTED);
    let va: u64 = 0xffff_ff80_0000_0000;
    // SAFETY: deliberately reads a VA whose walk reads GICD registers.
    let v = unsafe { (va as *const u64).read_volatile() };
    mb.set_result(0, v as i64);
    mb.write(STAGE, STAGE_SURVIVED);
}

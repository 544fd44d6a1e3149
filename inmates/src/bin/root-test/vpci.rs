//! Suite "vpci" (qemu-virt.cell, whose root has ivshmem functions 00:00.0
//! (peer 0 of 3, INTID 128) and 00:01.0 (peer 0 of 2, protocol 1, INTID
//! 129)): the root's view of the virtual PCI host. Config space through
//! the ECAM (identity, class, absent functions, BAR sizing, ignored
//! writes), the registers at a programmed BAR0, a state write landing in
//! the read-only state table, and a doorbell to itself raising INTx as a
//! virtual SPI that this CPU acknowledges.
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::gic::{self, Gic};
use syshyper_inmates::{check, check_eq};

/// Bundle entry selecting the suite (its content is not read).
pub const MODE: &str = "mode:vpci";
const ECAM: u64 = 0x08e0_0000;
/// BAR0 of 00:00.0 as docs/ivshmem.md places it: after the ECAM.
const BAR0: u64 = 0x08f0_0000;
/// 00:00.0's state table (root memory, read-only to it).
const STATE_TABLE: u64 = 0x7faf_0000;
const INTX: u32 = 128;

pub fn wanted(b: &Bundle) -> bool {
    b.find(MODE).is_some()
}

fn rd(addr: u64) -> u32 {
    // SAFETY: an ECAM, BAR or state-table address of the root, trapped or
    // mapped by the hypervisor; a 32-bit aligned device access.
    unsafe { (addr as *const u32).read_volatile() }
}

fn wr(addr: u64, v: u32) {
    // SAFETY: as `rd`: a trapped ECAM or BAR register.
    unsafe { (addr as *mut u32).write_volatile(v) }
}

fn rd8(addr: u64) -> u8 {
    // SAFETY: as `rd`, one byte of config space.
    unsafe { (addr as *const u8).read_volatile() }
}

fn cfg(bdf: u64, reg: u64) -> u64 {
    ECAM + (bdf << 12) + reg
}

pub fn run(_bundle: &Bundle) {
    let f0 = 0; // 00:00.0
    let f1 = 1 << 3; // 00:01.0
    check_eq!("vpci: 00:00.0 vendor/device", rd(cfg(f0, 0)), 0x4106_110a);
    check_eq!("vpci: 00:01.0 class FFh, protocol 1", rd(cfg(f1, 8)), 0xff00_0100);
    check_eq!("vpci: 00:01.0 interrupt pin B", rd8(cfg(f1, 0x3d)), 2);
    check_eq!("vpci: absent 00:02.0 reads all ones", rd(cfg(2 << 3, 0)), 0xffff_ffff);
    check_eq!("vpci: capability pointer", rd8(cfg(f0, 0x34)), 0x40);
    check_eq!("vpci: vendor capability", rd(cfg(f0, 0x40)), 0x0020_0009);
    check_eq!("vpci: state table size", rd(cfg(f0, 0x44)), 0x1000);
    check_eq!("vpci: read/write section size", rd(cfg(f0, 0x48)), 0x9000);
    check_eq!("vpci: output section size", rd(cfg(f0, 0x50)), 0x2000);
    check_eq!("vpci: state table address", rd(cfg(f0, 0x58)), STATE_TABLE as u32);
    wr(cfg(f0, 0x10), u32::MAX);
    check_eq!("vpci: BAR0 sizing reads the 4 KiB mask", rd(cfg(f0, 0x10)), 0xffff_f000);
    wr(cfg(f0, 0), 0);
    wr(cfg(f0, 0x44), 0);
    check_eq!("vpci: writes outside the emulated registers are ignored", (rd(cfg(f0, 0)), rd(cfg(f0, 0x44))), (0x4106_110a, 0x1000));
    wr(cfg(f0, 0x10), BAR0 as u32);
    wr(cfg(f0, 4), 2);
    check_eq!("vpci: command memory enabled", rd(cfg(f0, 4)) & 0xffff, 2);
    check_eq!("vpci: register ID", rd(BAR0), 0);
    check_eq!("vpci: register maximum peers", rd(BAR0 + 4), 3);
    wr(BAR0 + 0x10, 0x5a5a_0001);
    check_eq!("vpci: state register", rd(BAR0 + 0x10), 0x5a5a_0001);
    check_eq!("vpci: state lands in the state table", rd(STATE_TABLE), 0x5a5a_0001);
    // Doorbell to ourselves (peer 0) with interrupts enabled: INTx.
    // SAFETY: QEMU virt's GICv3 distributor and redistributors (trapped).
    let g = unsafe { Gic::new(0x0800_0000, 0x080a_0000) };
    let Ok(g) = g else {
        check!("vpci: GIC found", false);
        return;
    };
    g.init(false);
    g.enable_spi(INTX);
    wr(BAR0 + 8, 1);
    wr(BAR0 + 0xc, 0);
    let mut got = 1023;
    for _ in 0..100_000 {
        got = gic::acknowledge();
        if got != 1023 {
            break;
        }
    }
    if got != 1023 {
        gic::end_of_interrupt(got);
    }
    check_eq!("vpci: doorbell to self raises INTID 128", got, INTX);
    // Interrupts disabled: a doorbell raises nothing.
    wr(BAR0 + 8, 0);
    wr(BAR0 + 0xc, 0);
    let mut none = true;
    for _ in 0..10_000 {
        let i = gic::acknowledge();
        if i != 1023 {
            gic::end_of_interrupt(i);
            none = false;
            break;
        }
    }
    check!("vpci: no INTx with interrupt control 0", none);
    g.disable_spi(INTX);
    wr(BAR0 + 0x10, 0);
    wr(cfg(f0, 4), 0);
    check_eq!("vpci: state cleared", rd(STATE_TABLE), 0);
}

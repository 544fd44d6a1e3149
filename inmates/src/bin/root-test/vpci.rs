//! Suite "vpci" (qemu-virt.cell, whose root has ivshmem functions 00:00.0
//! (peer 0 of 3, INTID 128) and 00:01.0 (peer 0 of 2, protocol 1, INTID
//! 129); 156 and 157 on a GICv2): the root's view of the virtual PCI
//! host. Config space through
//! the ECAM (identity, class, absent functions, BAR sizing, ignored
//! writes), the registers at a programmed BAR0, a state write landing in
//! the read-only state table, and a doorbell to itself raising INTx as a
//! virtual SPI that this CPU acknowledges.
use crate::lifecycle::{addr_of, file, launch, ms, usage, wait_ns};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::gic::{self, Gic};
use core::sync::atomic::{AtomicU32, Ordering};
use syshyper_inmates::hvc;
use syshyper_inmates::ivshmem::Platform;
use syshyper_inmates::psci::{self, start_cpu};
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, SUCCESS};
use syshyper_inmates::{check, check_eq, cpu};

/// Bundle entry selecting the suite (its content is not read).
pub const MODE: &str = "mode:vpci";
const ECAM: u64 = 0x08e0_0000;
/// BAR0 of 00:00.0 as docs/ivshmem.md places it: after the ECAM.
const BAR0: u64 = 0x08f0_0000;
/// 00:00.0's state table (root memory, read-only to it).
const STATE_TABLE: u64 = 0x7faf_0000;
/// INTx of 00:00.0: 128, or 156 on a GICv2 (qemu-virt-gicv2.toml keeps
/// the root's INTx out of the GICv2m frame's SPIs 80-143).
fn intx() -> u32 {
    // SAFETY: QEMU virt's distributor, trapped for the root.
    unsafe { Platform::qemu_virt_root() }.intx(1)
}

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

/// The root CPU that takes INTx when its INTx is routed away from CPU 0.
const OTHER_CPU: u64 = 3;
/// What CPU 3 acknowledged (0: not yet ready; 1: ready; then the INTID).
static OTHER_GOT: AtomicU32 = AtomicU32::new(0);

extern "C" fn take_on_other_cpu(_: u64) -> ! {
    // SAFETY: QEMU virt's GICv3 (trapped by the hypervisor).
    if let Ok(g) = unsafe { Gic::new(0x0800_0000, 0x080a_0000) } {
        g.init(false);
        OTHER_GOT.store(1, Ordering::Release);
        OTHER_GOT.store(take_irq(3000), Ordering::Release);
    }
    psci::cpu_off();
    cpu::park()
}

/// The root's INTx routed to root CPU 3: a doorbell rung on CPU 0 is injected on
/// CPU 3 (posted to its queue, CPU 3 kicked), which acknowledges it.
fn on_another_cpu() {
    let slot = crate::secondary::slot(OTHER_CPU as usize);
    let on = start_cpu(slot, qemu_virt_mpidr(OTHER_CPU), take_on_other_cpu, 0);
    if !check_eq!("vpci: CPU 3 starts", on, SUCCESS) {
        return;
    }
    let ready = crate::secondary::wait_for(10_000_000, || OTHER_GOT.load(Ordering::Acquire) != 0);
    check!("vpci: CPU 3 ready", ready);
    route_intx(OTHER_CPU);
    wr(BAR0 + 8, 1);
    wr(BAR0 + 0xc, 0);
    let got = crate::secondary::wait_for(10_000_000, || OTHER_GOT.load(Ordering::Acquire) > 1);
    check!("vpci: CPU 3 took an INTx", got);
    check_eq!("vpci: a doorbell rung on CPU 0 reaches CPU 3, where the root's INTx is routed", OTHER_GOT.load(Ordering::Acquire), intx());
    route_intx(0);
    wr(BAR0 + 8, 0);
    crate::secondary::wait_for(10_000_000, || psci::affinity_info(qemu_virt_mpidr(OTHER_CPU)) == 1);
}

/// Routes the root's INTx to root CPU `cpu`: GICD_IROUTER on a GICv3, the
/// ITARGETSR byte on a GICv2 (QEMU virt: CPU n has interface n).
fn route_intx(cpu: u64) {
    if syshyper_inmates::gic::is_v2() {
        let itargetsr = 0x0800_0000 + 0x800 + u64::from(intx());
        // SAFETY: GICD_ITARGETSR byte of the root's INTx (trapped and
        // checked by the hypervisor).
        unsafe { (itargetsr as *mut u8).write_volatile(1 << (cpu & 7)) };
        return;
    }
    let irouter = 0x0800_0000 + 0x6000 + 8 * u64::from(intx());
    // SAFETY: GICD_IROUTER of the root's INTx (trapped and checked by
    // the hypervisor).
    unsafe { (irouter as *mut u64).write_volatile(qemu_virt_mpidr(cpu)) };
}

/// Polls for an interrupt for up to `ms_max` ms of counter time and
/// completes it: its INTID, or 1023.
fn take_irq(ms_max: u32) -> u32 {
    let mut got = 1023;
    wait_ns(ms(u64::from(ms_max)), || {
        got = gic::acknowledge();
        got != 1023
    });
    if got != 1023 {
        gic::end_of_interrupt(got);
    }
    got
}

pub fn run(bundle: &Bundle) {
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
    g.enable_spi(intx());
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
    check_eq!("vpci: doorbell to self raises the root's INTx (INTID 128; 156 on a GICv2)", got, intx());
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
    on_another_cpu();
    g.disable_spi(intx());
    wr(BAR0 + 0x10, 0);
    wr(cfg(f0, 4), 0);
    check_eq!("vpci: state cleared", rd(STATE_TABLE), 0);
    peer_comes_and_goes(bundle, &g);
}

/// 00:01.0 (the root is peer 0, INTID 129; 157 on a GICv2) with
/// test-vpci-peer as peer 1:
/// the root gets its INTx when the peer goes (destroyed while running,
/// failed), the peer's state-table entry is 0 afterwards, a doorbell to
/// the absent peer does nothing, and 100 create/destroy cycles of the
/// peer keep pool usage constant.
fn peer_comes_and_goes(bundle: &Bundle, g: &Gic) {
    // SAFETY: QEMU virt's distributor, trapped for the root.
    let intx1 = unsafe { Platform::qemu_virt_root() }.intx(2);
    const BAR1: u64 = BAR0 + 0x1000;
    const TABLE1: u64 = 0x7fb0_0000;
    let (Some(config), Some(uart), Some(crash)) = (
        file(bundle, "vpci: files", "vpci/test-vpci-peer.cell"),
        file(bundle, "vpci: files", "vpci/uart-demo.bin"),
        file(bundle, "vpci: files", "vpci/crash-demo.bin"),
    ) else {
        return;
    };
    let f1 = 1 << 3;
    wr(cfg(f1, 0x10), BAR1 as u32);
    wr(cfg(f1, 4), 2);
    g.enable_spi(intx1);
    wr(BAR1 + 8, 1);
    wr(BAR1 + 0xc, 1 << 16);
    check_eq!("vpci: doorbell to an absent peer raises nothing", take_irq(20), 1023);
    // Destroyed while running.
    match launch(config, uart) {
        Ok(id) => {
            check_eq!("vpci: peer running", hvc::cell_state(id), 0);
            check_eq!("vpci: nothing pending before the peer goes", take_irq(20), 1023);
            check_eq!("vpci: peer destroyed", hvc::cell_destroy(id), 0);
            check_eq!("vpci: a destroyed peer raises the root's INTx", take_irq(500), intx1);
            check_eq!("vpci: a destroyed peer's state entry is 0", rd(TABLE1 + 4), 0);
        }
        Err(e) => {
            check!("vpci: peer started", false, "{e}");
        }
    }
    // Fails.
    match launch(config, crash) {
        Ok(id) => {
            let failed = wait_ns(ms(2000), || hvc::cell_state(id) == 3);
            check!("vpci: the crashing peer fails", failed);
            check_eq!("vpci: a failed peer raises the root's INTx", take_irq(500), intx1);
            check_eq!("vpci: a failed peer's state entry is 0", rd(TABLE1 + 4), 0);
            hvc::cell_destroy(id);
            check_eq!("vpci: destroying the failed peer raises nothing more", take_irq(20), 1023);
        }
        Err(e) => {
            check!("vpci: crashing peer started", false, "{e}");
        }
    }
    // 100 create/destroy cycles with the link (the first warmed up above).
    let before = usage();
    let mut bad = 0;
    for _ in 0..100 {
        let id = hvc::cell_create(addr_of(config));
        if id <= 0 || hvc::cell_destroy(id as u64) != 0 {
            bad += 1;
        }
    }
    check_eq!("vpci: 100 create/destroy cycles of a linked cell succeed", bad, 0);
    check_eq!("vpci: pool usage and cell count unchanged after 100 cycles", usage(), before);
    wr(BAR1 + 8, 0);
    g.disable_spi(intx1);
    wr(cfg(f1, 4), 0);
}

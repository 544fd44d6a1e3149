//! Suite "ivshmem": the root (peer 0 of link 0001:00:00.0 in
//! configs/qemu-virt.toml) and the ivshmem-demo cell (peer 1) over the
//! virtual PCI host (docs/ivshmem.md): arrival in the state table, hello
//! texts both ways, 1000 checked ping-pong round trips, departure on
//! destroy, create/destroy cycles, doorbells to absent peers, and hostile
//! writes to the root's output section and the state table (the cell
//! fails, the root goes on). Runs when the bundle holds `ivshmem/` files.
use crate::lifecycle::{addr_of, file, launch_with, ms, settle, usage, wait_ns};
use core::sync::atomic::{AtomicU32, Ordering};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::gic::{Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
use syshyper_inmates::hypercall::*;
use syshyper_inmates::ivshmem::{Device, Platform};
use syshyper_inmates::ivshmem_proto::{format_hello, hello_text, payload_len, MAX_TEXT};
use syshyper_inmates::{check, check_eq, cpu, exceptions, hvc, ivshmem_ping, println};

/// Bundle names (xtask/src/systests_ivshmem.rs).
const CELL: &str = "ivshmem/ivshmem-demo.cell";
const BIN: &str = "ivshmem/ivshmem-demo.bin";
/// The cell's ID on the link (configs/ivshmem-demo.toml).
const CELL_ID: u32 = 1;
const ROUND_TRIPS: u32 = 1000;
/// Longest payload of a test ping.
const PAYLOAD_CAP: u32 = 256;
const CYCLES: u32 = 100;
/// Marker texts of ivshmem-demo's bad-doorbell mode (its hostile.rs).
const TEXT_READY: &str = "bad-doorbell: ready";
const TEXT_RUNG: &str = "bad-doorbell: rung";
const TEXT_CONTROL: &str = "bad-doorbell: control";
const TEXT_GO: &str = "go";
const TEXT_COUNTED: &str = "counted";
/// What the root writes into its output section for the hostile cells to
/// try to overwrite.
const ROOT_MARK: &str = "root output intact";

static INTID: AtomicU32 = AtomicU32::new(u32::MAX);
static INTX: AtomicU32 = AtomicU32::new(0);

fn on_irq(intid: u32) {
    if intid == INTID.load(Ordering::Relaxed) {
        INTX.fetch_add(1, Ordering::Relaxed);
    }
}

fn intx() -> u32 {
    INTX.load(Ordering::Relaxed)
}

pub fn wanted(bundle: &Bundle) -> bool {
    bundle.files().any(|f| f.name.starts_with("ivshmem/"))
}

pub fn run(bundle: &Bundle) {
    let (Some(config), Some(image)) = (
        file(bundle, "ivshmem: files", CELL),
        file(bundle, "ivshmem: files", BIN),
    ) else {
        return;
    };
    // SAFETY: QEMU virt's distributor, trapped for the root.
    let platform = unsafe { Platform::qemu_virt_root() };
    // SAFETY: the root's config (qemu-virt.toml or its GICv2 twin) has the
    // virtual PCI host at this ECAM and maps the link's sections as the
    // contract says.
    let dev = match unsafe { Device::open(&platform, 0) } {
        Ok(d) => d,
        Err(e) => {
            check!("ivshmem: root opens 00:00.0", false, "{e}");
            return;
        }
    };
    let s = *dev.sections();
    check!(
        "ivshmem: root's 00:00.0 is ID 0 of 3 with the configured sections",
        dev.id == 0
            && dev.peers == 3
            && (s.state_table, s.state_table_size, s.rw_size, s.out_size)
                == (0x7faf_0000, 0x1000, 0x9000, 0x2000),
        "ID {} of {}, sections {s:x?}",
        dev.id,
        dev.peers
    );
    // qemu-virt-gicv2.toml moved it out of the GICv2m frame's 80-143.
    let want = if platform == Platform::QEMU_VIRT_GICV2_ROOT { 156 } else { 128 };
    check_eq!("ivshmem: root's INTx is INTID 128 (156 on a GICv2)", dev.intid, want);
    // SAFETY: QEMU virt's GICv3, trapped and emulated for the root.
    let gic = match unsafe { Gic::new(QEMU_VIRT_GICD, QEMU_VIRT_GICR) } {
        Ok(g) => g,
        Err(e) => {
            check!("ivshmem: root GIC", false, "{e}");
            return;
        }
    };
    gic.init(false);
    INTID.store(dev.intid, Ordering::Relaxed);
    exceptions::set_irq_handler(on_irq);
    gic.enable_spi(dev.intid);
    dev.set_interrupts(true);
    dev.set_state(1);
    cpu::irq_enable();

    exchange(&dev, config, image);
    cycles(config);
    bad_doorbells(&dev, config, image);
    hostile(
        &dev,
        config,
        image,
        "hostile-out",
        "a write to the root's output section",
    );
    hostile(
        &dev,
        config,
        image,
        "hostile-state",
        "a write to the state table",
    );

    cpu::irq_disable();
    dev.set_interrupts(false);
    gic.disable_spi(dev.intid);
    dev.set_state(0);
}

/// The text at the start of `peer`'s output section.
fn text_of(dev: &Device, peer: u32, out: &mut [u8; MAX_TEXT + 1]) -> bool {
    dev.sync_out_for_read(peer, 0, out.len() as u64);
    for (i, b) in out.iter_mut().enumerate() {
        *b = dev.out_byte(peer, i as u64);
    }
    hello_text(out).is_some()
}

fn shows(dev: &Device, peer: u32, text: &str) -> bool {
    let mut buf = [0u8; MAX_TEXT + 1];
    text_of(dev, peer, &mut buf) && hello_text(&buf) == Some(text)
}

fn write_text(dev: &Device, text: &str) {
    for (i, &b) in text.as_bytes().iter().chain([0u8].iter()).enumerate() {
        dev.write_out_byte(i as u64, b);
    }
    dev.sync_out_after_write(0, text.len() as u64 + 1);
}

fn clear_output(dev: &Device) {
    for w in 0..(MAX_TEXT + 1).div_ceil(4) {
        dev.write_out_word(w, 0);
    }
    dev.sync_out_after_write(0, MAX_TEXT as u64 + 1);
}

fn hello(n: u32, peer: u32) -> ([u8; MAX_TEXT], usize) {
    let mut buf = [0u8; MAX_TEXT];
    let len = format_hello(&mut buf, peer, n);
    (buf, len)
}

fn as_str(b: &[u8]) -> &str {
    core::str::from_utf8(b).unwrap_or("")
}

/// Arrival, hello both ways, ping-pong, departure.
fn exchange(dev: &Device, config: &[u8], image: &[u8]) {
    clear_output(dev);
    check_eq!(
        "ivshmem: cell's state table entry is 0 before it exists",
        dev.peer_state(CELL_ID),
        0
    );
    let c0 = intx();
    let id = match launch_with(config, image, &["mode=", "demo"]) {
        Ok(id) => id,
        Err(e) => {
            check!("ivshmem: ivshmem-demo starts", false, "{e}");
            return;
        }
    };
    let arrived = wait_ns(ms(3000), || dev.peer_state(CELL_ID) == CELL_ID + 1);
    check!(
        "ivshmem: cell's state table entry becomes ID + 1",
        arrived,
        "entry {}",
        dev.peer_state(CELL_ID)
    );
    check!(
        "ivshmem: root gets its INTx for the cell's state change",
        wait_ns(ms(1000), || intx() > c0),
        "INTx count stayed {c0}"
    );
    let (h0, n0) = hello(0, CELL_ID);
    check!(
        "ivshmem: cell's hello text in its output section",
        wait_ns(ms(1000), || shows(dev, CELL_ID, as_str(&h0[..n0]))),
        "expected {:?}",
        as_str(&h0[..n0])
    );
    let (mine, n) = hello(1, 0);
    write_text(dev, as_str(&mine[..n]));
    dev.ring(CELL_ID, 0);
    let (h1, n1) = hello(1, CELL_ID);
    check!(
        "ivshmem: cell answers the root's hello",
        wait_ns(ms(2000), || shows(dev, CELL_ID, as_str(&h1[..n1]))),
        "expected {:?}",
        as_str(&h1[..n1])
    );

    let out_size = dev.sections().out_size;
    let mut errors = 0u32;
    let mut first: Option<ivshmem_ping::PingError> = None;
    // Rounds whose PONG doorbell never reached the root as an interrupt.
    // The root sees the PONG in memory possibly before the injected INTx
    // arrives, so each round waits for its own interrupt too: otherwise
    // the next PONG's edge could merge with a still-pending one.
    let mut no_intx = 0u32;
    for seq in 1..=ROUND_TRIPS {
        let len = payload_len(seq, PAYLOAD_CAP, out_size);
        let c = intx();
        let r = ivshmem_ping::round_trip(dev, CELL_ID, seq, len, ms(2000), cpu::cpu_relax);
        if !wait_ns(ms(1000), || intx() > c) {
            no_intx += 1;
        }
        if let Err(e) = r {
            errors += 1;
            first.get_or_insert(e);
            if matches!(e, ivshmem_ping::PingError::Timeout { .. }) {
                break;
            }
        }
    }
    println!("ivshmem-demo: {ROUND_TRIPS} round trips, {errors} errors");
    match first {
        None => check!(
            "ivshmem: 1000 round trips, every PONG's sum matches",
            errors == 0
        ),
        Some(e) => check!(
            "ivshmem: 1000 round trips, every PONG's sum matches",
            false,
            "{errors} errors, first: {e}"
        ),
    };
    check!(
        "ivshmem: root took an INTx for every PONG",
        no_intx == 0,
        "{no_intx} of {ROUND_TRIPS} round trips without one"
    );

    let c2 = intx();
    check_eq!("ivshmem: destroy ivshmem-demo", hvc::cell_destroy(id), 0);
    check_eq!(
        "ivshmem: destroy sets the cell's state table entry to 0",
        dev.peer_state(CELL_ID),
        0
    );
    check!(
        "ivshmem: root gets its INTx when the cell goes away",
        wait_ns(ms(1000), || intx() > c2),
        "INTx count stayed {c2}"
    );
}

/// Create/destroy cycles of a cell on the link leave the pool as it was.
fn cycles(config: &[u8]) {
    let before = usage();
    let mut done = 0;
    let mut err = 0;
    for _ in 0..CYCLES {
        let id = hvc::cell_create(addr_of(config));
        if id <= 0 {
            err = id;
            break;
        }
        let r = hvc::cell_destroy(id as u64);
        if r != 0 {
            err = r;
            break;
        }
        done += 1;
    }
    check!(
        "ivshmem: 100 create/destroy cycles",
        done == CYCLES,
        "{done} done, then {err}"
    );
    check_eq!(
        "ivshmem: cycles keep pool use and cell count",
        usage(),
        before
    );
}

/// Doorbells to absent peers and with vector 1 reach nobody; the cell's
/// control doorbell to the root does.
fn bad_doorbells(dev: &Device, config: &[u8], image: &[u8]) {
    clear_output(dev);
    let id = match launch_with(config, image, &["mode=", "bad-doorbell"]) {
        Ok(id) => id,
        Err(e) => {
            check!("ivshmem: bad-doorbell cell starts", false, "{e}");
            return;
        }
    };
    // Each step waits for the other side's text; none is shown for a
    // limited time (the cell waits for the root's answer before it moves
    // on), so a slow host only makes the steps slower.
    let ready = wait_ns(ms(3000), || shows(dev, CELL_ID, TEXT_READY));
    // The cell's state change (posted before READY) is counted here, not
    // with the doorbells.
    settle(id);
    let c = intx();
    write_text(dev, TEXT_GO);
    let rung = ready && wait_ns(ms(5000), || shows(dev, CELL_ID, TEXT_RUNG));
    // What a bad doorbell raised was posted before RUNG: counted now, so
    // the control cannot merge with it.
    settle(id);
    let stray = intx().wrapping_sub(c);
    write_text(dev, TEXT_COUNTED);
    let control = rung && wait_ns(ms(3000), || shows(dev, CELL_ID, TEXT_CONTROL));
    check!(
        "ivshmem: bad-doorbell cell rings its doorbells",
        control,
        "ready {ready}, rung {rung}"
    );
    let got_control = control && wait_ns(ms(1000), || intx() > c.wrapping_add(stray));
    // A control delivered twice would show now.
    settle(id);
    let got = intx().wrapping_sub(c);
    check!(
        "ivshmem: doorbells to absent peers and vector 1 reach nobody, the control does",
        got_control && stray == 0 && got == 1,
        "{stray} root interrupts from the bad doorbells, {got} in all (1 expected: the control)"
    );
    check_eq!(
        "ivshmem: bad doorbells leave the cell running",
        hvc::cell_state(id),
        CELL_RUNNING
    );
    check_eq!(
        "ivshmem: destroy the bad-doorbell cell",
        hvc::cell_destroy(id),
        0
    );
}

/// A cell that writes where the contract maps read-only fails; the root's
/// output section and state entry are unchanged, the cell's entry is 0.
fn hostile(dev: &Device, config: &[u8], image: &[u8], mode: &str, what: &str) {
    clear_output(dev);
    write_text(dev, ROOT_MARK);
    let before = usage();
    let id = match launch_with(config, image, &["mode=", mode]) {
        Ok(id) => id,
        Err(e) => {
            check!("ivshmem: hostile cell starts", false, "{mode}: {e}");
            return;
        }
    };
    let mut state = hvc::cell_state(id);
    let failed = wait_ns(ms(3000), || {
        state = hvc::cell_state(id);
        state == CELL_FAILED
    });
    println!("ivshmem: {mode}: cell state {state}");
    check!(
        "ivshmem: hostile cell fails",
        failed,
        "{mode} ({what}): state {state}"
    );
    check!(
        "ivshmem: root's output section unchanged",
        shows(dev, 0, ROOT_MARK),
        "{mode}: root's text is gone"
    );
    check_eq!(
        "ivshmem: root's state table entry unchanged",
        dev.peer_state(0),
        1
    );
    check!(
        "ivshmem: failed cell's state table entry is 0",
        wait_ns(ms(1000), || dev.peer_state(CELL_ID) == 0),
        "{mode}: entry {}",
        dev.peer_state(CELL_ID)
    );
    check_eq!(
        "ivshmem: root CPU still running",
        hvc::cpu_info(0, CPU_INFO_STATE),
        CPU_STATE_RUNNING
    );
    check_eq!(
        "ivshmem: failed hostile cell can be destroyed",
        hvc::cell_destroy(id),
        0
    );
    check_eq!(
        "ivshmem: hostile cell leaves usage unchanged",
        usage(),
        before
    );
}

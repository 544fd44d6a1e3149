//! Misbehaving peers for root-test's ivshmem suite: writes the contract
//! maps read-only (the cell must fail at the first one) and doorbells to
//! peers that are not there (nothing may happen).
//!
//! The root and this cell talk through text at the start of their output
//! sections, so the root can tell the doorbells it must not see from the
//! control doorbell it must see.
use syshyper_inmates::ivshmem::Device;
use syshyper_inmates::ivshmem_proto::hello_text;
use syshyper_inmates::{cell, cpu, println, ticks, timer};

/// Marker texts (root-test/ivshmem.rs waits for them).
pub const TEXT_READY: &str = "bad-doorbell: ready";
pub const TEXT_RUNG: &str = "bad-doorbell: rung";
pub const TEXT_CONTROL: &str = "bad-doorbell: control";
/// What the root writes to let the doorbells start.
pub const TEXT_GO: &str = "go";
/// What the root writes once it has counted its interrupts after
/// [`TEXT_RUNG`]: only then comes the control, so the root never has to
/// catch a text in a time window, and a stray interrupt of a bad doorbell
/// is counted before the control's.
pub const TEXT_COUNTED: &str = "counted";
/// How long the root gets to answer (a bound for a broken root, not a
/// pause: every wait ends as soon as the root's text is there).
const WAIT_NS: u64 = 5_000_000_000;

fn survived(what: &str) -> ! {
    println!("IVSHMEM: survived {what}");
    idle()
}

/// Waits for the end, approving the hypervisor's comm-region messages
/// every 10 ms (docs/lifecycle.md), so that the root can destroy the cell.
fn idle() -> ! {
    let Some(comm) = cell::comm_region() else { cpu::park() };
    loop {
        comm.poll_messages();
        timer::delay_ns(10_000_000);
    }
}

/// Writes the first word of peer 0's output section (mapped read-only here).
pub fn write_foreign_output(dev: &Device) -> ! {
    let target = dev.sections().output(0);
    // A state first, so the root sees it go back to 0 when the cell fails.
    dev.set_state(dev.id + 1);
    println!("IVSHMEM: writing peer 0's output section at {target:#x}");
    // SAFETY: not sound by design: the address is mapped read-only in this
    // cell, and the write is expected to fault and fail the cell (the
    // hypervisor stops it before anything is written).
    unsafe { (target as usize as *mut u32).write_volatile(0xbad0_0bad) };
    survived("a write to peer 0's output section")
}

/// Writes peer 0's entry of the state table (read-only for every peer).
pub fn write_state_table(dev: &Device) -> ! {
    let target = dev.sections().state_table;
    dev.set_state(dev.id + 1);
    println!("IVSHMEM: writing the state table at {target:#x}");
    // SAFETY: as in `write_foreign_output`: meant to fault.
    unsafe { (target as usize as *mut u32).write_volatile(0xbad0_0bad) };
    survived("a write to the state table")
}

fn write_text(dev: &Device, text: &str) {
    for (i, &b) in text.as_bytes().iter().chain([0u8].iter()).enumerate() {
        dev.write_out_byte(i as u64, b);
    }
    dev.sync_out_after_write(0, text.len() as u64 + 1);
}

fn peer0_says(dev: &Device, text: &str) -> bool {
    let mut buf = [0u8; 16];
    dev.sync_out_for_read(0, 0, buf.len() as u64);
    for (i, b) in buf.iter_mut().enumerate() {
        *b = dev.out_byte(0, i as u64);
    }
    hello_text(&buf) == Some(text)
}

/// Waits (bounded) for the root's `text`; false, with a line, if it never
/// comes.
fn await_root(dev: &Device, text: &str) -> bool {
    let freq = timer::frequency();
    let end = timer::counter() + ticks::ns_to_ticks(WAIT_NS, freq);
    while !peer0_says(dev, text) {
        if timer::counter() > end {
            println!("IVSHMEM: bad-doorbell: no {text} from peer 0");
            return false;
        }
        cpu::cpu_relax();
    }
    true
}

/// Rings targets that must not get anything, then peer 0 as a control.
/// Each step waits for the root's text (no pause): the state first, so
/// that its INTx is posted before the root reads READY.
pub fn bad_doorbells(dev: &Device) -> ! {
    dev.set_state(dev.id + 1);
    write_text(dev, TEXT_READY);
    if !await_root(dev, TEXT_GO) {
        idle();
    }
    // Past the maximum of peers, far past it, the highest ID, a free ID on
    // the link (no cell has it), and a vector INTx does not have.
    let targets: [(u32, u16); 6] = [
        (dev.peers, 0),
        (15, 0),
        (0xffff, 0),
        (0xffff, 0xffff),
        (2, 0),
        (0, 1),
    ];
    for (peer, vector) in targets {
        dev.ring(peer, vector);
    }
    println!(
        "IVSHMEM: bad-doorbell: rang {} doorbells nobody may get",
        targets.len()
    );
    write_text(dev, TEXT_RUNG);
    if !await_root(dev, TEXT_COUNTED) {
        idle();
    }
    println!("IVSHMEM: bad-doorbell: ringing peer 0 (control)");
    write_text(dev, TEXT_CONTROL);
    dev.ring(0, 0);
    idle()
}

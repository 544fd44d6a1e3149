//! The coordinator: physical CPU 0 (the root cell, or CPU 0 natively).
//! It sleeps while the measuring CPU works alone, then keeps CPU 0 and
//! CPU 3 busy with a compute-and-memory loop until the busy series ends.
use super::measure::Mailbox;
use super::smp::{self, Conduit};
use core::sync::atomic::{AtomicBool, Ordering};
use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};
use syshyper_inmates::{cpu, exceptions, gic, println};

/// Sleep period while waiting (virtual time: free under `sleep=off`, and
/// long, so the coordinator's own timer interrupt almost never falls into
/// the measuring CPU's idle series).
const WAKE_TICKS: u32 = 50_000_000;
/// Loop turns between `yield`s of the busy load: QEMU's round-robin
/// scheduler (`-icount`) switches CPUs there.
const BUSY_TURNS: u32 = 1000;

static STOP: AtomicBool = AtomicBool::new(false);

fn on_irq(intid: u32) {
    if intid == VIRT_TIMER_INTID {
        timer::stop();
    }
}

/// Runs the coordinator until the measuring CPU reports phase 2; returns
/// the result of starting the second busy CPU.
pub fn run(conduit: Conduit, mailbox: &Mailbox, native: bool) -> i64 {
    // SAFETY: QEMU virt's GICv3, trapped and emulated in the root cell.
    match unsafe { gic::Gic::new(gic::QEMU_VIRT_GICD, gic::QEMU_VIRT_GICR) } {
        Ok(g) => {
            g.init(native);
            g.enable_private(VIRT_TIMER_INTID);
        }
        Err(e) => println!("BENCH-ERROR coordinator gic: {e}"),
    }
    exceptions::set_irq_handler(on_irq);
    while mailbox.phase() < 1 {
        timer::set_timeout(WAKE_TICKS);
        // IRQs stay masked around wfi (a pending one still wakes it), so
        // the interrupt cannot be taken just before the wfi and lost.
        cpu::wfi();
        cpu::irq_enable();
        cpu::irq_disable();
    }
    timer::stop();
    let started = smp::start(conduit, smp::BUSY_CPU, busy_entry, 0);
    mailbox.set_busy();
    busy_until(|| mailbox.phase() >= 2);
    STOP.store(true, Ordering::Release);
    started
}

extern "C" fn busy_entry(_: u64) -> ! {
    busy_until(|| STOP.load(Ordering::Acquire));
    cpu::park()
}

/// A compute and memory load (xorshift into a 4 KiB buffer) until `done`.
fn busy_until(done: impl Fn() -> bool) {
    let mut buf = [0u64; 512];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while !done() {
        for i in 0..BUSY_TURNS {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let slot = &mut buf[(x as usize) % buf.len()];
            *slot = slot.wrapping_add(x ^ u64::from(i));
        }
        core::hint::black_box(&buf);
        cpu::cpu_relax();
    }
}

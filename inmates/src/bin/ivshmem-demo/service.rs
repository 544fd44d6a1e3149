//! What the cell does on each INTx: look at every other peer's state and
//! output section (docs/ivshmem.md, basic behaviour and ping-pong).
use core::cell::UnsafeCell;
use syshyper_inmates::ivshmem::Device;
use syshyper_inmates::ivshmem_proto::{
    answers_hello, check_ping, fnv1a, format_hello, hello_text, pong_for, Answered, Fnv1a, Header,
    HEADER_LEN, MAGIC_PING, MAGIC_PONG, MAX_PEERS, MAX_TEXT, WORD_LEN, WORD_MAGIC, WORD_SEQ,
    WORD_SUM,
};
use syshyper_inmates::{barrier, cpu, println};

/// How often a `IVSHMEM: pong N` line is printed.
const PONG_REPORT_EVERY: u32 = 100;

struct Demo {
    dev: Device,
    last_state: [u32; MAX_PEERS],
    /// Hash of the last hello text seen per peer (0: none).
    last_text: [u32; MAX_PEERS],
    answered: Answered,
    /// Hello messages this cell has sent.
    messages: u32,
}

struct Shared(UnsafeCell<Option<Demo>>);

// SAFETY: the state is touched only on the cell's one CPU with IRQs masked:
// by `init` and `run` from `main` before IRQs are unmasked, and by the IRQ
// handler, which the vectors run with PSTATE.I set (no nesting); `with`
// masks IRQs around every access besides.
unsafe impl Sync for Shared {}

static STATE: Shared = Shared(UnsafeCell::new(None));

fn with<R>(f: impl FnOnce(&mut Demo) -> R) -> Option<R> {
    let daif = cpu::save_and_mask_irqs();
    // SAFETY: see `Shared`: IRQs are masked and there is one CPU, so this
    // is the only reference.
    let r = unsafe { (*STATE.0.get()).as_mut().map(f) };
    cpu::restore_daif(daif);
    r
}

/// Keeps the device and leaves the first hello text in the own output
/// section (peers see it with the state change that follows).
pub fn init(dev: Device) {
    write_hello(&dev, 0);
    let demo = Demo {
        dev,
        last_state: [0; MAX_PEERS],
        last_text: [0; MAX_PEERS],
        answered: Answered::new(),
        messages: 0,
    };
    let daif = cpu::save_and_mask_irqs();
    // SAFETY: see `Shared`.
    unsafe { *STATE.0.get() = Some(demo) };
    cpu::restore_daif(daif);
}

pub fn on_irq(intid: u32) {
    let ours = with(|d| d.dev.intid == intid).unwrap_or(false);
    if ours {
        run();
    }
}

/// One pass over every other peer.
pub fn run() {
    with(|demo| {
        let peers = demo.dev.peers.min(MAX_PEERS as u32);
        let me = demo.dev.id;
        for p in (0..peers).filter(|&p| p != me) {
            state(demo, p);
            match demo.dev.out_word(p, WORD_MAGIC) {
                MAGIC_PING => ping(demo, p),
                MAGIC_PONG => {}
                // Starts with NUL: no text (an empty or absent peer).
                first if first as u8 == 0 => {}
                _ => text(demo, p),
            }
        }
    });
}

fn state(demo: &mut Demo, p: u32) {
    let now = demo.dev.peer_state(p);
    let Some(last) = demo.last_state.get_mut(p as usize) else {
        return;
    };
    if *last == now {
        return;
    }
    println!("IVSHMEM: peer {p} state {} -> {now}", *last);
    *last = now;
    if now == 0 {
        // Gone: whoever comes next there starts afresh.
        demo.answered.forget(p as usize);
        if let Some(t) = demo.last_text.get_mut(p as usize) {
            *t = 0;
        }
    }
}

fn ping(demo: &mut Demo, p: u32) {
    let d = demo.dev;
    d.sync_out_for_read(p, 0, u64::from(HEADER_LEN));
    let h = Header::from_words([0, 1, 2, 3].map(|w| d.out_word(p, w)));
    if !demo.answered.is_new(p as usize, h.seq) {
        return;
    }
    if let Err(e) = check_ping(&h, d.sections().out_size) {
        println!("IVSHMEM: bad ping from peer {p}, seq {}: {e}", h.seq);
        demo.answered.record(p as usize, h.seq, false);
        return;
    }
    let start = u64::from(HEADER_LEN);
    d.sync_out_for_read(p, start, u64::from(h.len));
    let mut sum = Fnv1a::new();
    for i in 0..u64::from(h.len) {
        sum.byte(d.out_byte(p, start + i));
    }
    let pong = pong_for(&h, sum.value());
    // The sequence number goes last: a pinger waiting for it then finds
    // the rest of the record complete.
    d.write_out_word(WORD_MAGIC, pong.magic);
    d.write_out_word(WORD_LEN, pong.len);
    d.write_out_word(WORD_SUM, pong.sum);
    barrier::dmb();
    d.write_out_word(WORD_SEQ, pong.seq);
    d.sync_out_after_write(0, u64::from(HEADER_LEN));
    demo.answered.record(p as usize, h.seq, true);
    // Printed before the doorbell: the pinger may print as soon as it has
    // the PONG, and two programs' lines must not mix on the shared UART.
    if demo.answered.total.is_multiple_of(PONG_REPORT_EVERY) {
        println!("IVSHMEM: pong {}", demo.answered.total);
    }
    d.ring(p, 0);
}

fn text(demo: &mut Demo, p: u32) {
    let d = demo.dev;
    let mut buf = [0u8; MAX_TEXT + 1];
    d.sync_out_for_read(p, 0, buf.len() as u64);
    for (i, b) in buf.iter_mut().enumerate() {
        *b = d.out_byte(p, i as u64);
    }
    let Some(t) = hello_text(&buf) else {
        return;
    };
    let hash = fnv1a(t.bytes());
    let Some(last) = demo.last_text.get_mut(p as usize) else {
        return;
    };
    if *last == hash {
        return;
    }
    *last = hash;
    println!("IVSHMEM: peer {p}: {t}");
    if answers_hello(d.id, p) {
        demo.messages = demo.messages.wrapping_add(1);
        write_hello(&d, demo.messages);
        d.ring(p, 0);
    }
}

/// "Hello from peer ID, message M", NUL-terminated, at the start of the
/// own output section.
fn write_hello(d: &Device, message: u32) {
    let mut buf = [0u8; MAX_TEXT];
    let n = format_hello(&mut buf[..MAX_TEXT - 1], d.id, message);
    for (i, &b) in buf.iter().take(n + 1).enumerate() {
        d.write_out_byte(i as u64, b);
    }
    d.sync_out_after_write(0, n as u64 + 1);
}

//! The victim: a well-behaved cell that proves it is untouched. It fills a
//! buffer with a pattern, then forever: checksums that buffer and its own
//! image, publishes heartbeat and checksum in the mailbox (read by the
//! isolation root) and prints a tick line now and then (seen by the harness).
use super::mailbox::*;
use syshyper_inmates::{cell, cpu, println, ticks, timer};

const PATTERN_WORDS: usize = 2048;
/// Heartbeat period: short, so the root sees progress quickly.
const BEAT_NS: u64 = 10_000_000;
/// Print one line every this many beats.
const BEATS_PER_LINE: u64 = 100;

static mut PATTERN: [u64; PATTERN_WORDS] = [0; PATTERN_WORDS];

extern "C" {
    static __image_start: u8;
    static __bss_start: u8;
}

fn pattern_word(i: usize) -> u64 {
    (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5eed
}

/// FNV-1a over 64-bit words of the pattern and over the loaded image
/// (text, rodata, data: nothing in them is written after boot).
fn checksum() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut mix = |w: u64| h = (h ^ w).wrapping_mul(0x100_0000_01b3);
    let p = core::ptr::addr_of!(PATTERN) as *const u64;
    for i in 0..PATTERN_WORDS {
        // SAFETY: in bounds of PATTERN, which only `fill` writes.
        mix(unsafe { p.add(i).read_volatile() });
    }
    let start = core::ptr::addr_of!(__image_start) as usize;
    let end = core::ptr::addr_of!(__bss_start) as usize;
    for a in (start..end).step_by(8) {
        // SAFETY: the loaded image lies between the two linker symbols,
        // both 8-byte aligned (sections are 16-byte aligned).
        mix(unsafe { (a as *const u64).read_volatile() });
    }
    h
}

fn fill() {
    let p = core::ptr::addr_of_mut!(PATTERN) as *mut u64;
    for i in 0..PATTERN_WORDS {
        // SAFETY: in bounds; nothing else uses PATTERN yet.
        unsafe { p.add(i).write_volatile(pattern_word(i)) };
    }
}

pub fn run(mb: Mailbox) -> ! {
    let comm = cell::comm_region();
    fill();
    let first = checksum();
    mb.write(SUM_AT_START, first);
    mb.write(SUM, first);
    mb.write(STAGE, STAGE_BOOTED);
    println!("victim: up, checksum {first:#018x}");
    let period = ticks::ns_to_ticks(BEAT_NS, timer::frequency()).max(1);
    let mut next = timer::counter() + period;
    let mut beat: u64 = 0;
    loop {
        while timer::counter() < next {
            if let Some(c) = comm {
                c.poll_messages();
            }
            cpu::cpu_relax();
        }
        next += period;
        beat += 1;
        let sum = checksum();
        mb.write(SUM, sum);
        if sum != first {
            mb.write(CORRUPT, 1);
        }
        mb.write(TICK, beat);
        if beat.is_multiple_of(BEATS_PER_LINE) {
            let state = if sum == first { "intact" } else { "CORRUPTED" };
            println!("victim: tick {} memory {state}", beat / BEATS_PER_LINE);
        }
    }
}

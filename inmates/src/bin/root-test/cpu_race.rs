//! Suite "race" (issue 12 finding 9): CELL_CREATE against the root's own
//! PSCI CPU_ON of the same CPU, which takes no hypervisor lock. Uses
//! CPUs 1 and 2:
//! - CPU 0 creates and destroys a cell owning CPU 2 (test-crash, never
//!   loaded or started) over and over, with random pauses;
//! - CPU 1 calls CPU_ON for CPU 2 in a loop, with random pauses, at
//!   `in_root`, which counts the entry, stays a while in root code and
//!   turns CPU 2 off again.
//!
//! Invariants: while a created cell exists (from CPU 0 seeing the create
//! succeed until it calls destroy) CPU 2 executes no root code (its entry
//! count and "inside" flag stay still across a sampled window), the cell
//! stays shut down, and every CPU_ON of CPU 2 made wholly inside that time
//! fails with INVALID_PARAMETERS (CPU 2 is no longer the root's); a create
//! refused is refused with -EBUSY only; both outcomes happen (else the run
//! did not race); at the end pool and cells are as at the start and the
//! root still starts CPU 2.
use crate::lifecycle::{addr_of, file, ms, usage, wait_ns, warm_up};
use crate::secondary::slot;
use core::sync::atomic::{fence, AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::{CELL_SHUT_DOWN, EBUSY};
use syshyper_inmates::psci::{self, SecondaryMain};
use syshyper_inmates::psci_ids::*;
use syshyper_inmates::{check, check_eq, cpu, println, ticks, timer};

const CELL: &str = "race/test-crash.cell";
const TARGET: u64 = 2;
const HAMMER: u64 = 1;
/// Bounds of the run: whichever comes first.
const MAX_ITERATIONS: u32 = 2000;
const MAX_RUN_MS: u64 = 6000;
/// PSCI ON_PENDING (not in psci_ids: nothing else expects it).
const ON_PENDING: i64 = -5;

/// Generation of the cell CPU 0 knows to exist, 0 when none: set after
/// CELL_CREATE returned an id, cleared before CELL_DESTROY.
static LIVE: AtomicU32 = AtomicU32::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
static HAMMER_DONE: AtomicBool = AtomicBool::new(false);

/// CPU 2 in root code: entries, whether it is inside now, its MPIDR.
static ENTRIES: AtomicU32 = AtomicU32::new(0);
static INSIDE: AtomicU32 = AtomicU32::new(0);
static ENTRY_MPIDR: AtomicU64 = AtomicU64::new(u64::MAX);
/// Root-code dwell of CPU 2, in counter ticks (set before the run).
static DWELL: AtomicU64 = AtomicU64::new(0);

/// CPU_ON results seen by CPU 1.
static ON_OK: AtomicU32 = AtomicU32::new(0);
static ON_BUSY: AtomicU32 = AtomicU32::new(0);
static ON_DENIED: AtomicU32 = AtomicU32::new(0);
static ON_INVALID: AtomicU32 = AtomicU32::new(0);
static ON_OTHER: AtomicU32 = AtomicU32::new(0);
static ON_OTHER_VALUE: AtomicU64 = AtomicU64::new(0);
/// CPU_ON calls made wholly while a created cell existed, and those of
/// them that did not fail with INVALID_PARAMETERS (first value kept).
static IN_CELL: AtomicU32 = AtomicU32::new(0);
static IN_CELL_WRONG: AtomicU32 = AtomicU32::new(0);
static IN_CELL_WRONG_VALUE: AtomicU64 = AtomicU64::new(0);

/// Whether the bundle holds this suite's files.
pub fn wanted(bundle: &Bundle) -> bool {
    bundle.find(CELL).is_some()
}

/// xorshift64: pauses that do not fall into step with the other CPU.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

fn us_ticks(us: u64) -> u64 {
    ticks::ns_to_ticks(us * 1000, timer::frequency())
}

/// Spins for `t` counter ticks.
fn spin(t: u64) {
    let end = timer::counter().saturating_add(t);
    while timer::counter() < end {
        cpu::cpu_relax();
    }
}

/// CPU 2 in the root: "I run in the root", a while, then off.
extern "C" fn in_root(_: u64) -> ! {
    ENTRY_MPIDR.store(cpu::mpidr() & 0xff_00ff_ffff, SeqCst);
    ENTRIES.fetch_add(1, SeqCst);
    INSIDE.store(1, SeqCst);
    spin(DWELL.load(SeqCst));
    INSIDE.store(0, SeqCst);
    psci::cpu_off();
    cpu::park()
}

/// CPU 1: CPU_ON of CPU 2 until told to stop.
extern "C" fn hammer(_: u64) -> ! {
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let max_pause = us_ticks(60);
    let target = qemu_virt_mpidr(TARGET);
    while !STOP.load(SeqCst) {
        spin(next(&mut seed) % max_pause);
        fence(SeqCst);
        let before = LIVE.load(SeqCst);
        let ret = psci::start_cpu(slot(TARGET as usize), target, in_root as SecondaryMain, 0);
        fence(SeqCst);
        let after = LIVE.load(SeqCst);
        let counter = match ret {
            SUCCESS => &ON_OK,
            ALREADY_ON | ON_PENDING => &ON_BUSY,
            DENIED => &ON_DENIED,
            INVALID_PARAMETERS => &ON_INVALID,
            _ => {
                ON_OTHER_VALUE.store(ret as u64, SeqCst);
                &ON_OTHER
            }
        };
        counter.fetch_add(1, SeqCst);
        // The same generation before and after: the cell existed for the
        // whole call, so CPU 2 was not the root's to start.
        if before != 0 && before == after {
            if ret != INVALID_PARAMETERS && IN_CELL_WRONG.fetch_add(1, SeqCst) == 0 {
                IN_CELL_WRONG_VALUE.store(ret as u64, SeqCst);
            }
            IN_CELL.fetch_add(1, SeqCst);
        }
    }
    HAMMER_DONE.store(true, SeqCst);
    psci::cpu_off();
    cpu::park()
}

/// What CPU 0 counted.
#[derive(Default)]
struct Tally {
    iterations: u32,
    created: u32,
    busy: u32,
    other_error: u32,
    other_value: i64,
    /// Windows in which CPU 2 ran root code while its cell existed.
    violations: u32,
    first_violation: Option<(u32, u32, u32, u32, u32)>,
    not_shut_down: u32,
    destroy_failed: u32,
    /// Windows in which CPU 1 got a CPU_ON call in.
    windows_hammered: u32,
}

/// One created cell: samples CPU 2's root marker across a window in which
/// CPU 1 tries CPU_ON, then destroys the cell.
fn live_window(t: &mut Tally, id: u64, gen: u32) {
    LIVE.store(gen, SeqCst);
    fence(SeqCst);
    let (in0, e0) = (INSIDE.load(SeqCst), ENTRIES.load(SeqCst));
    let tries = IN_CELL.load(SeqCst);
    // Longer than CPU 2's dwell, and until CPU 1 has tried CPU_ON at least
    // twice inside the window (bounded: a descheduled CPU 1 only weakens
    // this window, which the counts show).
    let min_end = timer::counter() + 3 * DWELL.load(SeqCst);
    let hammered = wait_ns(ms(20), || timer::counter() >= min_end && IN_CELL.load(SeqCst) >= tries + 2);
    t.windows_hammered += u32::from(hammered);
    let state = hvc::cell_state(id);
    fence(SeqCst);
    let (in1, e1) = (INSIDE.load(SeqCst), ENTRIES.load(SeqCst));
    LIVE.store(0, SeqCst);
    fence(SeqCst);
    if in0 != 0 || in1 != 0 || e0 != e1 {
        t.violations += 1;
        t.first_violation.get_or_insert((t.iterations, in0, in1, e0, e1));
    }
    if state != CELL_SHUT_DOWN {
        t.not_shut_down += 1;
    }
    if hvc::cell_destroy(id) != 0 {
        t.destroy_failed += 1;
    }
}

fn race(config: &[u8]) -> Tally {
    let mut t = Tally::default();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let max_pause = us_ticks(80);
    let end = timer::counter() + ticks::ns_to_ticks(ms(MAX_RUN_MS), timer::frequency());
    while t.iterations < MAX_ITERATIONS && timer::counter() < end {
        t.iterations += 1;
        spin(next(&mut seed) % max_pause);
        let ret = hvc::cell_create(addr_of(config));
        if ret > 0 {
            t.created += 1;
            let gen = t.iterations;
            live_window(&mut t, ret as u64, gen);
        } else if ret == -EBUSY {
            t.busy += 1;
        } else {
            t.other_error += 1;
            t.other_value = ret;
        }
    }
    t
}

fn wait_off(n: u64) -> bool {
    wait_ns(ms(3000), || psci::affinity_info(qemu_virt_mpidr(n)) == AFF_OFF)
}

pub fn run(bundle: &Bundle) {
    let Some(config) = file(bundle, "race: files", CELL) else {
        return;
    };
    warm_up(hvc::cell_create(addr_of(config)));
    let start = usage();
    DWELL.store(us_ticks(40), SeqCst);
    let ret = psci::start_cpu(slot(HAMMER as usize), qemu_virt_mpidr(HAMMER), hammer as SecondaryMain, 0);
    if !check_eq!("race: CPU_ON of CPU 1 (the hammer)", ret, SUCCESS) {
        return;
    }
    let t0 = timer::counter();
    let t = race(config);
    let elapsed_ms = ticks::ticks_to_ns((timer::counter() - t0) as i64, timer::frequency()) / 1_000_000;
    STOP.store(true, SeqCst);
    let stopped = wait_ns(ms(3000), || HAMMER_DONE.load(SeqCst)) && wait_off(HAMMER);
    let cpu2_off = wait_off(TARGET);

    let l = |c: &AtomicU32| c.load(SeqCst);
    println!(
        "race: {} iterations in {elapsed_ms} ms: {} created, {} EBUSY, {} other",
        t.iterations, t.created, t.busy, t.other_error
    );
    println!(
        "race: CPU_ON of CPU 2: {} started, {} already on/pending, {} denied (claimed), {} invalid, {} other; {} while a cell existed ({} windows hammered)",
        l(&ON_OK), l(&ON_BUSY), l(&ON_DENIED), l(&ON_INVALID), l(&ON_OTHER), l(&IN_CELL), t.windows_hammered
    );
    check!("race: hammer CPU stopped and CPU 2 is off", stopped && cpu2_off, "hammer {stopped}, CPU 2 off {cpu2_off}");
    match t.first_violation {
        None => check_eq!("race: CPU 2 ran no root code while its cell existed", t.violations, 0),
        Some((i, in0, in1, e0, e1)) => check!(
            "race: CPU 2 ran no root code while its cell existed",
            false,
            "{} windows; first in iteration {i}: inside {in0}->{in1}, entries {e0}->{e1}",
            t.violations
        ),
    };
    check_eq!("race: created cells stayed shut down (no CPU started in them)", t.not_shut_down, 0);
    check!(
        "race: root CPU_ON of CPU 2 while its cell existed is INVALID_PARAMETERS",
        l(&IN_CELL_WRONG) == 0,
        "{} of {} calls, first returned {}",
        l(&IN_CELL_WRONG),
        l(&IN_CELL),
        IN_CELL_WRONG_VALUE.load(SeqCst) as i64
    );
    check!("race: CPU_ON was tried while a cell existed", l(&IN_CELL) > 0, "0 calls");
    check!(
        "race: CPU_ON of CPU 2 returns only PSCI results",
        l(&ON_OTHER) == 0,
        "{} times, e.g. {}",
        l(&ON_OTHER),
        ON_OTHER_VALUE.load(SeqCst) as i64
    );
    check!("race: every refused create is EBUSY", t.other_error == 0, "{} others, e.g. {}", t.other_error, t.other_value);
    check!(
        "race: both outcomes occurred (create won and lost)",
        t.created > 0 && t.busy > 0,
        "{} created, {} EBUSY",
        t.created,
        t.busy
    );
    check!("race: CPU 2 ran in the root between cells", l(&ON_OK) > 0 && l(&ENTRIES) > 0, "{} starts", l(&ON_OK));
    check_eq!("race: CPU 2's root code ran as MPIDR 2", ENTRY_MPIDR.load(SeqCst), qemu_virt_mpidr(TARGET));
    check_eq!("race: every destroy succeeded", t.destroy_failed, 0);
    check_eq!("race: pool and cell count as at the start", usage(), start);

    // And the root still owns a working CPU 2.
    let before = ENTRIES.load(SeqCst);
    let ret = psci::start_cpu(slot(TARGET as usize), qemu_virt_mpidr(TARGET), in_root as SecondaryMain, 0);
    let ran = wait_ns(ms(3000), || ENTRIES.load(SeqCst) > before) && wait_off(TARGET);
    check!("race: root starts CPU 2 after the race", ret == SUCCESS && ran, "CPU_ON {ret}, ran {ran}");
}

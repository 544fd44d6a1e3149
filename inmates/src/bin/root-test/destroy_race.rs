//! Suite "race", second part: CELL_DESTROY against a cell's own PSCI
//! CPU_ON. cpu-on-loop (configs/test-smp.toml, CPUs 2-3) keeps its CPU 3
//! calling CPU_ON of its CPU 2, which heartbeats in the shared page for a
//! while and turns itself off. The root destroys the cell at a random
//! moment: afterwards no CPU of the cell may run its code (the heartbeat
//! and start count stay still across a window longer than the longest
//! heartbeat), both CPUs are off in the root, and pool and cells are as
//! at the start.
use crate::lifecycle::{addr_of, file, launch, ms, shared_page, usage, wait_ns, warm_up};
use crate::secondary::slot;
use core::sync::atomic::{AtomicU32, Ordering::SeqCst};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::hvc;
use syshyper_inmates::psci::{self, SecondaryMain};
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, AFF_OFF, SUCCESS};
use syshyper_inmates::{check, check_eq, cpu, println, ticks, timer};

const CELL: &str = "race/test-smp.cell";
const IMAGE: &str = "race/cpu-on-loop.bin";
const MAX_CYCLES: u32 = 60;
const MAX_RUN_MS: u64 = 10_000;
/// Longer than cpu-on-loop's long heartbeat (20 ms).
const AFTER_MS: u64 = 30;

/// Root code entries of CPUs 2 and 3 after the cycles.
static ROOT_RUNS: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];

extern "C" fn root_run(n: u64) -> ! {
    if let Some(c) = ROOT_RUNS.get(n as usize) {
        c.fetch_add(1, SeqCst);
    }
    psci::cpu_off();
    cpu::park()
}

/// The root starts CPU `n` at its own code; whether it ran and is off again.
fn root_starts(n: u64) -> bool {
    let before = ROOT_RUNS[n as usize].load(SeqCst);
    let mpidr = qemu_virt_mpidr(n);
    psci::start_cpu(slot(n as usize), mpidr, root_run as SecondaryMain, n) == SUCCESS
        && wait_ns(ms(2000), || ROOT_RUNS[n as usize].load(SeqCst) > before)
        && wait_ns(ms(2000), || psci::affinity_info(mpidr) == AFF_OFF)
}

pub fn wanted(bundle: &Bundle) -> bool {
    bundle.find(CELL).is_some()
}

pub fn run(bundle: &Bundle) {
    let (Some(config), Some(image)) = (file(bundle, "race: files", CELL), file(bundle, "race: files", IMAGE)) else {
        return;
    };
    let Some(page) = shared_page(config) else {
        check!("race: test-smp has a shared page", false);
        return;
    };
    warm_up(hvc::cell_create(addr_of(config)));
    let start = usage();
    let mut seed = 0x853c_49e6_748f_ea9bu64;
    let end = timer::counter() + ticks::ns_to_ticks(ms(MAX_RUN_MS), timer::frequency());
    let (mut cycles, mut looping, mut ran_after, mut not_off, mut bad_destroy) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let mut first_error = None;
    while cycles < MAX_CYCLES && timer::counter() < end {
        cycles += 1;
        page.clear(4);
        let id = match launch(config, image) {
            Ok(id) => id,
            Err(e) => {
                first_error.get_or_insert(e);
                break;
            }
        };
        // A bound, not a delay (the wait ends once the loop shows): 500 ms
        // was too short on a host loaded ~6x (13 of 17 cycles on GICv2,
        // whose QEMU model takes an extra exit per interrupt).
        looping += u32::from(wait_ns(ms(2000), || page.read(3) == 1 && page.read(1) >= 3));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let pause = ticks::ns_to_ticks((seed % 300) * 1000, timer::frequency());
        let until = timer::counter() + pause;
        while timer::counter() < until {
            cpu::cpu_relax();
        }
        if hvc::cell_destroy(id) != 0 {
            bad_destroy += 1;
        }
        let before = (page.read(0), page.read(1));
        wait_ns(ms(AFTER_MS), || false);
        if (page.read(0), page.read(1)) != before {
            ran_after += 1;
        }
        let off = |n| psci::affinity_info(qemu_virt_mpidr(n)) == AFF_OFF;
        if !(off(2) && off(3)) {
            not_off += 1;
        }
    }
    println!("race: destroy: {cycles} cycles, {looping} with the cell's CPU_ON loop running, {ran_after} with cell code after destroy");
    if let Some(e) = first_error {
        check!("race: destroy: cpu-on-loop starts", false, "{e}");
    }
    check!("race: destroy: the cell's CPU_ON loop ran before each destroy", looping == cycles && cycles > 0, "{looping} of {cycles}");
    check_eq!("race: destroy: every destroy succeeded", bad_destroy, 0);
    check_eq!("race: destroy: no cell CPU runs after its cell's destroy", ran_after, 0);
    check_eq!("race: destroy: both CPUs off in the root after each destroy", not_off, 0);
    check_eq!("race: destroy: pool and cell count as at the start", usage(), start);
    check!("race: destroy: root starts CPUs 2 and 3 afterwards", root_starts(2) && root_starts(3));
}

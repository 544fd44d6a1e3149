//! Suite "cells": create, load, start, shut down, restart and destroy a cell
//! (uart-demo on CPU 1), a two-CPU cell (smp-demo on CPUs 2-3), refused
//! creates and wrong-state calls (`cell_errors`), many cycles and a crashing
//! cell (`cell_stress`). Runs only when the bundle holds its files (names
//! below); must run before `foreign_hvc`, which leaves CPU 1 failed.
use crate::lifecycle::{file, launch, load, ms, shared_page, usage, wait_ns, warm_up};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config as cfg;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::psci::{self};
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, AFF_OFF, SUCCESS};
use syshyper_inmates::{check, check_eq, cpu};

/// Bundle names (xtask/src/systests.rs, test "cells").
pub const UART_CELL: &str = "cells/uart-demo.cell";
pub const UART_BIN: &str = "cells/uart-demo.bin";
const SMP_CELL: &str = "cells/test-smp.cell";
const SMP_BIN: &str = "cells/smp-demo.bin";
const UART_CPU: u64 = 1;
/// What smp-demo writes to word n of its shared page for CPU n.
const SMP_ONLINE: u32 = 0x5350_0000;

/// True when the bundle asks for this suite.
pub fn wanted(bundle: &Bundle) -> bool {
    bundle.files().any(|f| f.name.starts_with("cells/"))
}

pub fn run(bundle: &Bundle) {
    crate::cell_errors::run(bundle);
    lifecycle(bundle);
    smp(bundle);
    crate::cell_stress::run(bundle);
}

fn exits(cpu: u64) -> i64 {
    hvc::cpu_info(cpu, CPU_STAT_BASE + STAT_TOTAL)
}

/// Every VM-exit statistic of `cpu` (total, MMIO, management, hypercall).
fn all_stats(cpu: u64) -> [i64; 4] {
    [STAT_TOTAL, STAT_MMIO, STAT_MANAGEMENT, STAT_HYPERCALL]
        .map(|s| hvc::cpu_info(cpu, CPU_STAT_BASE + s))
}

/// Runs on CPU 1 in the root: a few hypercalls (counted exits), then off.
extern "C" fn count_then_off(_: u64) -> ! {
    for _ in 0..8 {
        hvc::hypervisor_info(INFO_NUM_CELLS);
    }
    psci::cpu_off();
    cpu::park()
}

/// Gives CPU 1 exits in the root cell so that clearing them at cell create
/// can be seen (Jailhouse clears a CPU's statistics when it changes cell).
fn root_exits_on_uart_cpu() -> i64 {
    let slot = crate::secondary::slot(UART_CPU as usize);
    let on = psci::start_cpu(slot, qemu_virt_mpidr(UART_CPU), count_then_off, 0);
    check_eq!("cells: CPU 1 starts in the root", on, SUCCESS);
    let off = wait_ns(ms(1500), || {
        psci::affinity_info(qemu_virt_mpidr(UART_CPU)) == AFF_OFF
    });
    check!("cells: CPU 1 turns itself off again", off, "still on");
    exits(UART_CPU)
}

/// `cpu`'s exits other than management ones: only the cell's own
/// instructions and interrupts raise them (MMIO and system-register traps,
/// hypercalls, its timer's interrupts), never a kick of the hypervisor,
/// such as the stale one a just-started CPU may take.
fn own_exits(cpu: u64) -> i64 {
    exits(cpu).wrapping_sub(hvc::cpu_info(cpu, CPU_STAT_BASE + STAT_MANAGEMENT))
}

/// Waits until `cpu`'s own exits move past `from`, then past that reading
/// again: two steps, so a cell that trapped once on its way in and then
/// stopped does not pass, one that keeps running (uart-demo wakes on its
/// timer every 50 ms) does. Returns the readings.
fn own_exits_grow_twice(cpu: u64, from: i64) -> (bool, [i64; 2]) {
    let mut seen = [from; 2];
    let first = wait_ns(ms(1500), || {
        seen[0] = own_exits(cpu);
        seen[1] = seen[0];
        seen[0] > from
    });
    let second = first
        && wait_ns(ms(1500), || {
            seen[1] = own_exits(cpu);
            seen[1] > seen[0]
        });
    (second, seen)
}

fn lifecycle(bundle: &Bundle) {
    let (Some(config), Some(image)) = (
        file(bundle, "cells: files", UART_CELL),
        file(bundle, "cells: files", UART_BIN),
    ) else {
        return;
    };
    let in_root = root_exits_on_uart_cpu();
    check!(
        "cells: CPU 1 counted exits in the root",
        in_root >= 8,
        "{in_root} exits"
    );
    let (used0, cells0) = usage();
    let id = hvc::cell_create(crate::lifecycle::addr_of(config));
    if !check!("cells: create uart-demo", id > 0, "returned {id}") {
        return;
    }
    let id = id as u64;
    check_eq!(
        "cells: create clears CPU 1's exit statistics",
        all_stats(UART_CPU),
        [0; 4]
    );
    let (used1, cells1) = usage();
    check_eq!("cells: create adds a cell", cells1, cells0 + 1);
    check!(
        "cells: create takes pool pages",
        used1 > used0,
        "used {used0} -> {used1}"
    );
    check_eq!(
        "cells: new cell is shut down",
        hvc::cell_state(id),
        CELL_SHUT_DOWN
    );

    let loaded = load(id, config, image);
    check!(
        "cells: set_loadable and copy image",
        loaded.is_ok(),
        "{:?}",
        loaded
    );
    let started = hvc::cell_start(id);
    let state = hvc::cell_state(id);
    let before = own_exits(UART_CPU);
    let (grew, seen) = own_exits_grow_twice(UART_CPU, before);
    check_eq!("cells: start returns 0", started, 0);
    check_eq!("cells: started cell is running", state, CELL_RUNNING);
    check!(
        "cells: cell CPU's own exits grow, then grow again",
        grew,
        "non-management exits {before} -> {seen:?}"
    );

    // Shutdown = set loadable again: CPUs parked, image visible to the root.
    let shut = hvc::cell_set_loadable(id);
    let state = hvc::cell_state(id);
    let parked = exits(UART_CPU);
    let still = !wait_ns(ms(200), || exits(UART_CPU) != parked);
    check_eq!("cells: shutdown (set_loadable) returns 0", shut, 0);
    check_eq!("cells: shut down cell state", state, CELL_SHUT_DOWN);
    check!(
        "cells: shut down CPU makes no exits",
        still,
        "{parked} -> {}",
        exits(UART_CPU)
    );
    let region = cfg::find_region(config, cfg::MEM_LOADABLE, cfg::MEM_IO).map(|(_, r)| r);
    let want = image
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    // SAFETY: the loadable region is mapped 1:1 in the root again after
    // SET_LOADABLE; a 4-byte aligned read of its first word.
    let first = region.map(|r| unsafe { (r.phys as *const u32).read_volatile() });
    check!(
        "cells: loadable region readable by the root again",
        first.is_some() && first == want,
        "first word {first:x?}, image starts {want:x?}"
    );

    // Restart without reloading: the image is still in place.
    let restarted = hvc::cell_start(id);
    let state = hvc::cell_state(id);
    let before = own_exits(UART_CPU);
    let (grew, seen) = own_exits_grow_twice(UART_CPU, before);
    check_eq!("cells: restart returns 0", restarted, 0);
    check_eq!("cells: restarted cell is running", state, CELL_RUNNING);
    check!(
        "cells: restarted CPU's own exits grow, then grow again",
        grew,
        "non-management exits {before} -> {seen:?}"
    );

    let before_destroy = exits(UART_CPU);
    let destroyed = hvc::cell_destroy(id);
    let (used2, cells2) = usage();
    check_eq!("cells: destroy returns 0", destroyed, 0);
    check!(
        "cells: cell CPU had exits before destroy",
        before_destroy > 0,
        "{before_destroy}"
    );
    check_eq!(
        "cells: destroy clears CPU 1's exit statistics",
        all_stats(UART_CPU),
        [0; 4]
    );
    check_eq!("cells: destroy removes the cell", cells2, cells0);
    check_eq!("cells: destroy gives back every pool page", used2, used0);
    check_eq!(
        "cells: destroyed cell is unknown",
        hvc::cell_state(id),
        -ENOENT
    );
    check_eq!(
        "cells: destroy twice is ENOENT",
        hvc::cell_destroy(id),
        -ENOENT
    );
    check_eq!(
        "cells: CPU 1 is off in the root after destroy",
        psci::affinity_info(qemu_virt_mpidr(UART_CPU)),
        AFF_OFF
    );
}

fn smp(bundle: &Bundle) {
    let (Some(config), Some(image)) = (
        file(bundle, "cells: files", SMP_CELL),
        file(bundle, "cells: files", SMP_BIN),
    ) else {
        return;
    };
    let Some(page) = shared_page(config) else {
        check!("cells: smp config has a shared page", false);
        return;
    };
    page.clear(16);
    warm_up(hvc::cell_create(crate::lifecycle::addr_of(config)));
    let (used0, cells0) = usage();
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("cells: smp cell starts", false, "{e}");
            return;
        }
    };
    let online = |n: usize| page.read(n) == SMP_ONLINE | n as u32;
    let both = wait_ns(ms(2000), || online(2) && online(3) && page.read(8) == 1);
    let state = hvc::cell_state(id);
    let destroyed = hvc::cell_destroy(id);
    check!(
        "cells: smp cell runs CPU 2 and starts CPU 3",
        both,
        "words {:#x} {:#x}, started {}",
        page.read(2),
        page.read(3),
        page.read(8)
    );
    check_eq!("cells: smp cell is running", state, CELL_RUNNING);
    check!(
        "cells: smp cell did not start root CPUs",
        !online(0) && !online(1),
        "words {:#x} {:#x}",
        page.read(0),
        page.read(1)
    );
    check_eq!("cells: smp destroy returns 0", destroyed, 0);
    check_eq!(
        "cells: smp destroy restores usage",
        usage(),
        (used0, cells0)
    );
    for cpu in [2u64, 3] {
        check_eq!(
            "cells: smp CPUs are off in the root after destroy",
            psci::affinity_info(qemu_virt_mpidr(cpu)),
            AFF_OFF
        );
    }
}

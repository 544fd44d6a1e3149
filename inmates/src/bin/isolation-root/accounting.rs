//! Item 4: 1000 create/load/start/destroy cycles of a tiny cell, with no
//! wait for its output. Page-pool use and cell count must be identical at
//! the end; the harness forbids any hypervisor line above info level.
use crate::attack_ids::IDLE;
use crate::env::*;
use crate::table::{row, text};
use syshyper_inmates::hvc;
use syshyper_inmates::{check, check_eq, println};

const CYCLES: u32 = 1000;

pub fn run(env: &Env) {
    let (pool0, cells0) = (pool_used(), num_cells());
    check_eq!("accounting: only the root cell at start", cells0, 1);
    let cfg = addr_of(env.hostile_cfg);
    let mut failures = 0u32;
    let mut first = (0u32, "", 0i64);
    let mut note = |cycle: u32, what: &'static str, r: i64, failures: &mut u32| {
        if *failures == 0 {
            first = (cycle, what, r);
        }
        *failures += 1;
    };
    for n in 0..CYCLES {
        let id = hvc::cell_create(cfg);
        if id <= 0 {
            note(n, "create", id, &mut failures);
            continue;
        }
        let l = env.load(id, HOSTILE_RAM, env.hostile_mb, IDLE, 0);
        if l != 0 {
            note(n, "set_loadable", l, &mut failures);
        }
        let s = hvc::cell_start(id as u64);
        if s != 0 {
            note(n, "start", s, &mut failures);
        }
        let d = hvc::cell_destroy(id as u64);
        if d != 0 {
            note(n, "destroy", d, &mut failures);
        }
        if (n + 1) % 250 == 0 {
            println!("accounting: {} cycles, pool used {}", n + 1, pool_used());
        }
    }
    check!(
        "accounting: 1000 cycles without an error",
        failures == 0,
        "{failures} failures, first in cycle {}: {} returned {}",
        first.0,
        first.1,
        first.2
    );
    let (pool1, cells1) = (pool_used(), num_cells());
    check_eq!(
        "accounting: pool use identical after 1000 cycles",
        pool1,
        pool0
    );
    check_eq!(
        "accounting: cell count identical after 1000 cycles",
        cells1,
        cells0
    );
    check!("accounting: root memory intact", env.root_intact());
    row(
        "1000 create/load/start/destroy",
        "pool and cells unchanged",
        &text(format_args!(
            "{failures} errors, pool {pool0}->{pool1}, cells {cells0}->{cells1}"
        )),
    );
}

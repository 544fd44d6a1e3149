//! Part of suite "cells": `CYCLES` create/load/start/destroy cycles of a tiny
//! cell (ping-demo on CPU 3, which counts its starts in the shared page),
//! and a cell whose CPU crashes (crash-demo on CPU 2) while the root goes on.
use crate::lifecycle::{
    addr_of, file, launch, ms, shared_page, usage, wait_ns, warm_up, LaunchError,
};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::psci;
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, AFF_OFF};
use syshyper_inmates::{check, check_eq};

const PING_CELL: &str = "cells/test-ping.cell";
const PING_BIN: &str = "cells/ping-demo.bin";
const CRASH_CELL: &str = "cells/test-crash.cell";
const CRASH_BIN: &str = "cells/crash-demo.bin";
const CRASH_CPU: u64 = 2;
const CYCLES: u32 = 200;

pub fn run(bundle: &Bundle) {
    cycles(bundle);
    crash(bundle);
}

/// What went wrong first in the cycles.
enum CycleError {
    Launch(LaunchError),
    NotRunning(i64),
    NoPing { count: u32 },
    Destroy(i64),
}

impl core::fmt::Display for CycleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            CycleError::Launch(e) => write!(f, "{e}"),
            CycleError::NotRunning(s) => write!(f, "state {s} after start"),
            CycleError::NoPing { count } => write!(f, "no ping (count {count})"),
            CycleError::Destroy(e) => write!(f, "destroy returned {e}"),
        }
    }
}

fn cycles(bundle: &Bundle) {
    let (Some(config), Some(image)) = (
        file(bundle, "cells: files", PING_CELL),
        file(bundle, "cells: files", PING_BIN),
    ) else {
        return;
    };
    let Some(page) = shared_page(config) else {
        check!("cells: ping config has a shared page", false);
        return;
    };
    page.clear(1);
    warm_up(hvc::cell_create(addr_of(config)));
    let before = usage();
    let mut first_error = None;
    let mut done = 0;
    for cycle in 1..=CYCLES {
        let result = (|| {
            let id = launch(config, image).map_err(CycleError::Launch)?;
            let state = hvc::cell_state(id);
            // The cell's first store shows it ran; no console output needed.
            // Generous: QEMU may not schedule the cell's vCPU for a while on
            // a loaded host; only a failing run waits this long.
            let pinged = wait_ns(ms(5000), || page.read(0) >= cycle);
            let destroyed = hvc::cell_destroy(id);
            if state != CELL_RUNNING {
                return Err(CycleError::NotRunning(state));
            }
            if !pinged {
                return Err(CycleError::NoPing {
                    count: page.read(0),
                });
            }
            if destroyed != 0 {
                return Err(CycleError::Destroy(destroyed));
            }
            Ok(())
        })();
        match result {
            Ok(()) => done += 1,
            Err(e) => {
                first_error = Some((cycle, e));
                break;
            }
        }
    }
    match &first_error {
        None => check_eq!("cells: 200 create/load/start/destroy cycles", done, CYCLES),
        Some((cycle, e)) => check!(
            "cells: 200 create/load/start/destroy cycles",
            false,
            "{done} cycles ok, cycle {cycle}: {e}"
        ),
    };
    check_eq!(
        "cells: ping cell started once per cycle",
        page.read(0),
        done
    );
    check_eq!(
        "cells: cycles leave pool usage and cells unchanged",
        usage(),
        before
    );
}

fn crash(bundle: &Bundle) {
    let (Some(config), Some(image)) = (
        file(bundle, "cells: files", CRASH_CELL),
        file(bundle, "cells: files", CRASH_BIN),
    ) else {
        return;
    };
    let before = usage();
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("cells: crash cell starts", false, "{e}");
            return;
        }
    };
    let mut state = hvc::cell_state(id);
    let failed = wait_ns(ms(2000), || {
        state = hvc::cell_state(id);
        state == CELL_FAILED
    });
    let cpu_state = hvc::cpu_info(CRASH_CPU, CPU_INFO_STATE);
    check!("cells: crashed cell is FAILED", failed, "state {state}");
    check_eq!(
        "cells: crashed cell's CPU is failed",
        cpu_state,
        CPU_STATE_FAILED
    );
    check_eq!(
        "cells: root CPU still running after the crash",
        hvc::cpu_info(0, CPU_INFO_STATE),
        CPU_STATE_RUNNING
    );
    check_eq!(
        "cells: failed cell can be destroyed",
        hvc::cell_destroy(id),
        0
    );
    check_eq!("cells: crash leaves usage unchanged", usage(), before);
    check_eq!(
        "cells: crashed CPU is off in the root after destroy",
        psci::affinity_info(qemu_virt_mpidr(CRASH_CPU)),
        AFF_OFF
    );
}

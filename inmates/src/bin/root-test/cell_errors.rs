//! Part of suite "cells": creates the hypervisor must refuse (bad config
//! addresses, truncated or oversized configs, memory, CPU or name conflicts)
//! and management calls in the wrong state. Every refusal must leave pool
//! usage and the cell count unchanged; each group has a control create that
//! succeeds, so a refusal is known to come from the one field changed.
use crate::cells::UART_CELL;
use crate::lifecycle::{addr_of, file, usage};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config as cfg;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{check, check_eq};

/// End of the root's RAM region in configs/qemu-virt.toml: the next page is
/// not mapped in the root.
const ROOT_RAM_END: u64 = 0x7fa1_0000;
/// Free root RAM no test cell uses.
const SPARE_RAM: u64 = 0x7f00_0000;
/// Starts inside root RAM and ends inside uart-demo's region (0x7fa00000).
const OVERLAPS_UART: u64 = 0x7f9f_8000;
const HYPERVISOR: u64 = 0x7fc0_0000;
const SCRATCH_SIZE: usize = 512;

/// A patched copy of a config, in root RAM (the stack) or at a fixed address.
struct Scratch {
    buf: [u8; SCRATCH_SIZE],
    len: usize,
    ram: usize,
}

impl Scratch {
    fn new(config: &[u8]) -> Option<Self> {
        let mut s = Scratch {
            buf: [0; SCRATCH_SIZE],
            len: config.len(),
            ram: 0,
        };
        s.buf.get_mut(..config.len())?.copy_from_slice(config);
        s.ram = cfg::find_region(config, cfg::MEM_LOADABLE, cfg::MEM_IO)?.0;
        Some(s)
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.buf[..self.len]
    }

    /// Same config under another name, CPU set and RAM address, without
    /// interrupts (the original's SPI would conflict with its own cell).
    fn variant(&mut self, name: &str, cpus: u64, ram_phys: u64) -> bool {
        let ram = self.ram;
        let b = self.bytes();
        let ok = cfg::set_name(b, name)
            && cfg::set_cpus(b, cpus)
            && cfg::set_region_phys(b, ram, ram_phys)
            && cfg::set_num_irqchips(b, 0);
        match cfg::total_size(b) {
            Some(total) if ok && total <= self.len => {
                self.len = total;
                true
            }
            _ => false,
        }
    }

    fn create(&self) -> i64 {
        hvc::cell_create(addr_of(&self.buf))
    }

    /// Copies the config so that it ends exactly at `end` and creates from
    /// there.
    fn create_ending_at(&self, end: u64) -> i64 {
        let at = end - self.len as u64;
        // SAFETY: `at..end` is root RAM below ROOT_RAM_END that no cell owns
        // while this suite runs and root-test does not otherwise use.
        unsafe { core::ptr::copy_nonoverlapping(self.buf.as_ptr(), at as *mut u8, self.len) };
        hvc::cell_create(at)
    }
}

/// Checks that `ret` is `want` (or any negative value for `None`) and that
/// nothing changed; destroys a cell that should not exist.
fn refused(name: &str, ret: i64, want: Option<i64>, before: (i64, i64)) {
    let ok = match want {
        Some(w) => ret == w,
        None => ret < 0,
    };
    check!(
        name,
        ok,
        "returned {ret}, expected {want:?} (None: any errno)"
    );
    check_eq!(
        "cells: refused create leaves usage unchanged",
        usage(),
        before
    );
    if ret > 0 {
        hvc::cell_destroy(ret as u64);
    }
}

/// A control create that must succeed; destroys the cell again.
fn control(name: &str, ret: i64, before: (i64, i64)) {
    check!(name, ret > 0, "returned {ret}");
    if ret > 0 {
        check_eq!(
            "cells: control cell destroyed",
            hvc::cell_destroy(ret as u64),
            0
        );
    }
    check_eq!("cells: control leaves usage unchanged", usage(), before);
}

pub fn run(bundle: &Bundle) {
    let Some(config) = file(bundle, "cells: files", UART_CELL) else {
        return;
    };
    let Some(mut s) = Scratch::new(config) else {
        check!("cells: uart-demo.cell fits the scratch buffer", false);
        return;
    };
    // Warm-up, so that lazily built hypervisor tables (its remap window,
    // the root's stage 2 split around a cell's RAM) are not counted as
    // leaks of the refusals measured below.
    let warm = hvc::cell_create(addr_of(config));
    check!(
        "cells: warm-up create of uart-demo",
        warm > 0,
        "returned {warm}"
    );
    if warm > 0 {
        check_eq!("cells: warm-up destroy", hvc::cell_destroy(warm as u64), 0);
    }
    bad_addresses();
    truncated(&mut s);
    conflicts(config, &mut s);
    wrong_state();
}

fn bad_addresses() {
    let before = usage();
    for (name, addr) in [
        ("cells: create from hypervisor memory refused", HYPERVISOR),
        ("cells: create from address 0 refused", 0),
        (
            "cells: create from 0xffffffff0000 refused",
            0xffff_ffff_0000,
        ),
        ("cells: create from the UART (device) refused", 0x0900_0000),
        ("cells: create from past root RAM refused", ROOT_RAM_END),
        (
            "cells: create with header crossing RAM end refused",
            ROOT_RAM_END - 64,
        ),
    ] {
        refused(name, hvc::cell_create(addr), None, before);
    }
}

fn truncated(s: &mut Scratch) {
    if !check!(
        "cells: patch control config",
        s.variant("trunc", 1 << 1, SPARE_RAM)
    ) {
        return;
    }
    crate::lifecycle::warm_up(s.create());
    let before = usage();
    control(
        "cells: control config ending at root RAM end is accepted",
        s.create_ending_at(ROOT_RAM_END),
        before,
    );

    let regions = cfg::num_memory_regions(s.bytes()).unwrap_or(0) as u32;
    cfg::set_num_memory_regions(s.bytes(), regions + 1);
    refused(
        "cells: num_memory_regions past RAM end refused",
        s.create_ending_at(ROOT_RAM_END),
        None,
        before,
    );
    cfg::set_num_memory_regions(s.bytes(), regions);

    let set = cfg::cpu_set_size(s.bytes()).unwrap_or(8) as u32;
    cfg::set_cpu_set_size(s.bytes(), set + 8);
    refused(
        "cells: cpu_set_size past RAM end refused",
        s.create_ending_at(ROOT_RAM_END),
        None,
        before,
    );
    cfg::set_cpu_set_size(s.bytes(), set);

    cfg::set_num_memory_regions(s.bytes(), 0x1000_0000);
    refused(
        "cells: config over 16 pages is E2BIG",
        s.create(),
        Some(-E2BIG),
        before,
    );
    cfg::set_num_memory_regions(s.bytes(), u32::MAX);
    refused(
        "cells: num_memory_regions 2^32-1 is E2BIG",
        s.create(),
        Some(-E2BIG),
        before,
    );
    cfg::set_num_memory_regions(s.bytes(), regions);
}

fn conflicts(config: &[u8], s: &mut Scratch) {
    let base = usage();
    let id = hvc::cell_create(addr_of(config));
    if !check!(
        "cells: create uart-demo for conflicts",
        id > 0,
        "returned {id}"
    ) {
        return;
    }
    let before = usage();
    let cases: [(&str, &str, u64, u64, Option<i64>); 5] = [
        (
            "cells: memory overlapping another cell is EBUSY",
            "overlap",
            1 << 2,
            OVERLAPS_UART,
            Some(-EBUSY),
        ),
        (
            "cells: CPU of another cell is EBUSY",
            "cpu-taken",
            1 << 1,
            SPARE_RAM,
            Some(-EBUSY),
        ),
        (
            "cells: CPU 0 (online in the root) is EBUSY",
            "cpu0",
            1 << 0,
            SPARE_RAM,
            Some(-EBUSY),
        ),
        (
            "cells: duplicate name is EEXIST",
            "uart-demo",
            1 << 2,
            SPARE_RAM,
            Some(-EEXIST),
        ),
        (
            "cells: memory in the hypervisor refused",
            "in-hv",
            1 << 2,
            HYPERVISOR,
            None,
        ),
    ];
    for (check_name, cell_name, cpus, ram, want) in cases {
        if !check!("cells: patch config", s.variant(cell_name, cpus, ram)) {
            continue;
        }
        refused(check_name, s.create(), want, before);
    }
    if check!(
        "cells: patch config",
        s.variant("no-conflict", 1 << 2, SPARE_RAM)
    ) {
        control(
            "cells: control config without conflicts is accepted",
            s.create(),
            before,
        );
    }
    check_eq!(
        "cells: destroy uart-demo after conflicts",
        hvc::cell_destroy(id as u64),
        0
    );
    check_eq!("cells: conflicts leave usage unchanged", usage(), base);
}

fn wrong_state() {
    let before = usage();
    const UNKNOWN: u64 = 99;
    check_eq!(
        "cells: start unknown id is ENOENT",
        hvc::cell_start(UNKNOWN),
        -ENOENT
    );
    check_eq!(
        "cells: set_loadable unknown id is ENOENT",
        hvc::cell_set_loadable(UNKNOWN),
        -ENOENT
    );
    check_eq!(
        "cells: destroy unknown id is ENOENT",
        hvc::cell_destroy(UNKNOWN),
        -ENOENT
    );
    check_eq!(
        "cells: state of unknown id is ENOENT",
        hvc::cell_state(UNKNOWN),
        -ENOENT
    );
    check_eq!(
        "cells: destroy root is EINVAL",
        hvc::cell_destroy(0),
        -EINVAL
    );
    check_eq!("cells: start root is EINVAL", hvc::cell_start(0), -EINVAL);
    check_eq!(
        "cells: set_loadable root is EINVAL",
        hvc::cell_set_loadable(0),
        -EINVAL
    );
    check_eq!(
        "cells: root cell state is running",
        hvc::cell_state(0),
        CELL_RUNNING
    );
    check_eq!(
        "cells: wrong-state calls leave usage unchanged",
        usage(),
        before
    );
}

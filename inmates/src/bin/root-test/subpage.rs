//! Suite "subpage": subpage-demo in a cell that has QEMU's PL011 only as
//! two sub-page regions (configs/subpage-uart.toml, CPU 2). Run once per
//! mode (its command line, see inmates/src/bin/subpage-demo.rs): the
//! allowed accesses leave the cell SHUT_DOWN by its own SYSTEM_OFF; a
//! forbidden offset, width, an unaligned access and a write to the
//! read-only region each leave it FAILED with its CPU failed, while the
//! root goes on. Then create/destroy cycles, more than the hypervisor's
//! EL2 window has pages, show the windows are given back; and the pool is
//! as before.
use crate::lifecycle::{addr_of, file, launch_with, ms, usage, wait_ns, warm_up};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config::{self as cfg, MEM_IO, MEM_LOADABLE};
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{check, check_eq, println};

pub const SUBPAGE_CELL: &str = "subpage/subpage-uart.cell";
pub const SUBPAGE_BIN: &str = "subpage/subpage-demo.bin";
const CPU: u64 = 2;
/// More than the 512 pages of the hypervisor's sub-page window; the cell
/// takes two per create.
const CYCLES: u32 = 300;

pub fn wanted(b: &Bundle) -> bool {
    b.find(SUBPAGE_CELL).is_some()
}

/// (mode, name of the check, state the cell must reach).
const MODES: [(&str, &str, i64); 5] = [
    ("subpage=ok", "subpage: allowed accesses, cell powers itself off", CELL_SHUT_DOWN),
    ("subpage=offset", "subpage: offset outside the regions fails the cell", CELL_FAILED),
    ("subpage=width", "subpage: 16-bit access without IO_16 fails the cell", CELL_FAILED),
    ("subpage=unaligned", "subpage: unaligned access fails the cell", CELL_FAILED),
    ("subpage=readonly", "subpage: write to the read-only region fails the cell", CELL_FAILED),
];

pub fn run(bundle: &Bundle) {
    let (Some(config), Some(image)) = (
        file(bundle, "subpage: files", SUBPAGE_CELL),
        file(bundle, "subpage: files", SUBPAGE_BIN),
    ) else {
        return;
    };
    warm_up(hvc::cell_create(addr_of(config)));
    let before = usage();
    for (cmdline, name, want) in MODES {
        println!("subpage: running {cmdline}");
        let id = match launch_with(config, image, &[cmdline]) {
            Ok(id) => id,
            Err(e) => {
                check!(name, false, "{e}");
                continue;
            }
        };
        let reached = wait_ns(ms(3000), || hvc::cell_state(id) == want);
        check!(name, reached, "cell state {} (want {want})", hvc::cell_state(id));
        if want == CELL_FAILED {
            check_eq!("subpage: the failed cell's CPU is FAILED", hvc::cpu_info(CPU, CPU_INFO_STATE), CPU_STATE_FAILED);
        }
        check_eq!("subpage: cell destroyed", hvc::cell_destroy(id), 0);
    }
    check_eq!("subpage: pool and cell count as before", usage(), before);
    second_cell(config, before);
    let mut failed = None;
    for n in 0..CYCLES {
        let id = hvc::cell_create(addr_of(config));
        if id <= 0 {
            failed = Some((n, id));
            break;
        }
        hvc::cell_destroy(id as u64);
    }
    check!("subpage: create/destroy cycles give the EL2 windows back", failed.is_none(), "cycle {failed:?}");
    check_eq!("subpage: pool and cell count as before after the cycles", usage(), before);
}

/// Sub-page regions are held exclusively: while the cell exists, a second
/// cell (other name, CPU and RAM) naming the same UART registers is EBUSY
/// and changes nothing; after destroy it is accepted.
fn second_cell(config: &[u8], before: (i64, i64)) {
    let mut buf = [0u8; 512];
    let Some(dst) = buf.get_mut(..config.len()) else {
        check!("subpage: build second config", false, "config of {} bytes", config.len());
        return;
    };
    dst.copy_from_slice(config);
    let ram = cfg::find_region(config, MEM_LOADABLE, MEM_IO).map(|(i, _)| i);
    let built = ram.is_some_and(|i| cfg::set_region_phys(&mut buf, i, 0x7f29_0000))
        && cfg::set_name(&mut buf, "subpage-two")
        && cfg::set_cpus(&mut buf, 1 << 3);
    if !check!("subpage: build second config", built) {
        return;
    }
    let first = hvc::cell_create(addr_of(config));
    if !check!("subpage: first cell created", first > 0, "returned {first}") {
        return;
    }
    let used = usage();
    let second = hvc::cell_create(addr_of(&buf));
    check_eq!("subpage: second cell on the same registers is EBUSY", second, -EBUSY);
    check_eq!("subpage: refusal changes nothing", usage(), used);
    check_eq!("subpage: first cell destroyed", hvc::cell_destroy(first as u64), 0);
    let again = hvc::cell_create(addr_of(&buf));
    check!("subpage: second cell accepted once the first is gone", again > 0, "returned {again}");
    if again > 0 {
        hvc::cell_destroy(again as u64);
    }
    check_eq!("subpage: pool and cell count as before the two cells", usage(), before);
}

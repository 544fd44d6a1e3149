//! The SMMU run (`cargo xtask bench`, QEMU virt with `iommu=smmuv3` and
//! two edu devices, configs/qemu-virt-smmu.toml), as the root:
//! * the cost of a stream hand-over: creating and destroying smmu-cell
//!   (which takes stream 0x10 from the root and gives it back) against
//!   uart-demo's configuration, the same cell without a stream;
//! * whether SMMU faults cost the root's steady-state work: a fixed loop
//!   timed while the root's edu device is idle and while it hammers
//!   hypervisor memory (every word of the transfer a fault event).
//!
//! With `-icount shift=4` a counter tick is one instruction.
use super::probes::counter;
use super::stats::{self, Stats};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::{hvc, println, semihosting};

const ECAM: usize = 0x40_1000_0000;
const BAR: u64 = 0x1000_0000;
const EDU_BUF: u64 = 0x40000;
const HV: u64 = 0x7fc0_0000;
const SAMPLES: u32 = 20;
/// Loop iterations: longer than edu's 100 ms (virtual) DMA delay at one
/// instruction per 16 ns, so the faults land inside the loop.
const SPIN: u64 = 4_000_000;

fn fail(what: &str) -> ! {
    println!("BENCH-ERROR smmu: {what}");
    semihosting::exit(1)
}

fn cfg_write(bdf: u16, reg: usize, v: u32) {
    // SAFETY: QEMU virt's ECAM, which the root's configuration maps.
    unsafe { ((ECAM + usize::from(bdf) * 4096 + reg) as *mut u32).write_volatile(v) };
}
fn cfg_read(bdf: u16, reg: usize) -> u32 {
    // SAFETY: as in `cfg_write`.
    unsafe { ((ECAM + usize::from(bdf) * 4096 + reg) as *const u32).read_volatile() }
}
fn edu_write(off: u64, v: u64) {
    // SAFETY: the BAR assigned below, in the root's MMIO region.
    unsafe { ((BAR + off) as *mut u64).write_volatile(v) };
}
fn edu_busy() -> bool {
    // SAFETY: as in `edu_write`.
    unsafe { ((BAR + 0x98) as *const u32).read_volatile() & 1 != 0 }
}

/// A loop of a fixed number of instructions; returns the ticks it took.
fn spin() -> u64 {
    let t0 = counter();
    let mut x = 0u64;
    for i in 0..SPIN {
        x = core::hint::black_box(x.wrapping_add(i));
    }
    core::hint::black_box(x);
    counter() - t0
}

fn create_destroy(cfg: &[u8], created: &mut Stats, destroyed: &mut Stats) {
    let t0 = counter();
    let id = hvc::cell_create(cfg.as_ptr() as u64);
    let t1 = counter();
    if id <= 0 {
        fail("cell create failed");
    }
    let t2 = counter();
    let r = hvc::cell_destroy(id as u64);
    let t3 = counter();
    if r != 0 {
        fail("cell destroy failed");
    }
    created.add(t1 - t0);
    destroyed.add(t3 - t2);
}

pub fn run(bundle: &Bundle) -> ! {
    let (Some(with), Some(without)) = (bundle.find("smmu-cell.cell"), bundle.find("uart-demo.cell")) else {
        fail("the bundle lacks smmu-cell.cell or uart-demo.cell")
    };
    // Warm-up: the first create splits root blocks that stay split.
    let (mut a, mut b, mut c, mut d) = (Stats::new(), Stats::new(), Stats::new(), Stats::new());
    create_destroy(without.data, &mut a, &mut b);
    let (mut a, mut b) = (Stats::new(), Stats::new());
    for _ in 0..SAMPLES {
        create_destroy(without.data, &mut a, &mut b);
        create_destroy(with.data, &mut c, &mut d);
    }
    a.print("smmu_create_no_stream");
    c.print("smmu_create_stream");
    b.print("smmu_destroy_no_stream");
    d.print("smmu_destroy_stream");

    let edu = 1 << 3;
    if cfg_read(edu, 0) != 0x11e8_1234 {
        fail("no edu device at 00:01.0");
    }
    cfg_write(edu, 0x10, BAR as u32);
    cfg_write(edu, 0x04, 0b110);
    let mut idle = Stats::new();
    for _ in 0..4 {
        idle.add(spin());
    }
    let mut faulting = Stats::new();
    let mut events = 0;
    for _ in 0..4 {
        // edu's buffer into the hypervisor's header page: 2048 bytes, one
        // fault per 4-byte word.
        edu_write(0x80, EDU_BUF);
        edu_write(0x88, HV);
        edu_write(0x90, 2048);
        edu_write(0x98, 0b11);
        faulting.add(spin());
        while edu_busy() {}
        events = hvc::hvc(0x100, 0, 6);
    }
    idle.print("smmu_root_loop_idle");
    faulting.print("smmu_root_loop_faulting");
    stats::value("smmu_root_faults", events);
    println!("BENCH-DONE root");
    semihosting::exit(0)
}

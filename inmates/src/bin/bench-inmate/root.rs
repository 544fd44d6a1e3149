//! The boot-first root cell: hypercall and PSCI round trips, cell create
//! and destroy cost by cell memory size, page-pool use, and the bench cell's
//! life from CELL_CREATE to its first output and its destroy, then the
//! ivshmem doorbell round trip to the ivshmem-demo cell (`ivshmem`). Lines are
//! printed only while no cell runs, so they never interleave with a cell's.
use super::measure::Mailbox;
use super::smp::Conduit;
use super::stats::{self, Stats};
use super::{coord, probes};
use syshyper_inmates::bundle::{Bundle, BundleFile, BUNDLE_ADDR, BUNDLE_MAX_SIZE};
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::{INFO_MEM_POOL_SIZE, INFO_MEM_POOL_USED, INFO_NUM_CELLS, SH_HC_CPU_LATENCY};
use syshyper_inmates::{println, psci, semihosting};

const SAMPLES: u32 = 100;
/// Physical address of the bench cell's loadable RAM (bench-cell.toml).
const CELL_RAM_PHYS: usize = 0x7f00_0000;
const CELL_RAM_SIZE: usize = 1 << 20;

/// Cells whose create cost is measured by memory size (bench-mem-*.toml).
const MEM_CELLS: [(&str, &str); 4] = [
    ("64k", "bench-mem-64k.cell"),
    ("16m", "bench-mem-16m.cell"),
    ("128m", "bench-mem-128m.cell"),
    ("512m", "bench-mem-512m.cell"),
];

fn fail(what: &str) -> ! {
    println!("BENCH-ERROR {what}");
    semihosting::exit(1)
}

fn find<'a>(b: &Bundle<'a>, name: &str) -> BundleFile<'a> {
    match b.find(name) {
        Some(f) => f,
        None => {
            println!("BENCH-ERROR the bundle has no {name}");
            semihosting::exit(1)
        }
    }
}

fn addr(f: &BundleFile<'_>) -> u64 {
    f.data.as_ptr() as u64
}

fn pool_used() -> i64 {
    hvc::hypervisor_info(INFO_MEM_POOL_USED)
}

/// Median log2 bucket k of histogram `h` of `cpu` (hypervisor/src/trace:
/// bucket k holds d with clz(d) = k), with its sample count.
fn el2_median(cpu: u64, h: u64) -> Option<(u64, u64)> {
    const BUCKETS: u64 = 65;
    let count = |k: u64| hvc::hvc(SH_HC_CPU_LATENCY, cpu, h * BUCKETS + k).max(0) as u64;
    let total: u64 = (0..BUCKETS).map(count).sum();
    let mut seen = 0;
    // From the shortest delays (k = 64) up.
    for k in (0..BUCKETS).rev() {
        seen += count(k);
        if total > 0 && 2 * seen >= total {
            return Some((k, total));
        }
    }
    None
}

/// The measuring CPU's EL2 view of its interrupts (read by the root while
/// the cell still exists): median buckets of the time at EL2 per interrupt
/// exit and of the delay to the list register, as the bucket's lower bound
/// (the bucket spans [low, 2 low)).
fn el2_latency(cpu: u64) {
    for (name, h) in [("el2_irq_exit", 0), ("el2_irq_inject", 6)] {
        match el2_median(cpu, h) {
            Some((k, n)) => {
                let low = if k >= 64 { 0 } else { 1u64 << (63 - k) };
                println!("BENCH {name}_median_low value={low}");
                println!("BENCH-INFO {name}: {n} samples, median bucket [{low}, {})", 2 * low.max(1));
            }
            None => println!("BENCH-ERROR {name}: no samples"),
        }
    }
}

pub fn run() -> ! {
    let mailbox = Mailbox::root();
    mailbox.clear();
    let bytes: &'static [u8] =
        // SAFETY: 0x4800_0000..0x4c00_0000 is root RAM holding the bundle
        // (contracts.md); nothing writes it while this program runs.
        unsafe { core::slice::from_raw_parts(BUNDLE_ADDR as *const u8, BUNDLE_MAX_SIZE) };
    let bundle = Bundle::parse(bytes).unwrap_or_else(|_| fail("bundle does not parse"));
    // The SMMU run has its own machine and measurements.
    if bundle.find("smmu-cell.cell").is_some() {
        super::smmu::run(&bundle)
    }
    let base = (0..16).map(|_| probes::baseline()).min().unwrap_or(0);
    stats::value("root_baseline", base as i64);
    stats::value("pool_size", hvc::hypervisor_info(INFO_MEM_POOL_SIZE));
    stats::value("pool_used_root", pool_used());

    let mut hc = Stats::new();
    for _ in 0..SAMPLES {
        let (t, r) = probes::hypercall_info(INFO_NUM_CELLS);
        if r != 1 {
            fail("HYPERVISOR_GET_INFO(number of cells) is not 1");
        }
        hc.add(t.saturating_sub(base));
    }
    hc.print("hypercall_info");
    let mut ps = Stats::new();
    for _ in 0..SAMPLES {
        ps.add(probes::psci_version_smc().0.saturating_sub(base));
    }
    ps.print("psci_version_root");

    for (label, file) in MEM_CELLS {
        let cfg = find(&bundle, file);
        let used0 = pool_used();
        let t0 = probes::counter();
        let id = hvc::cell_create(addr(&cfg));
        let t1 = probes::counter();
        let used1 = pool_used();
        if id < 0 {
            println!("BENCH-ERROR create {file}: {id}");
            continue;
        }
        let t2 = probes::counter();
        let r = hvc::cell_destroy(id as u64);
        let t3 = probes::counter();
        if r != 0 {
            println!("BENCH-ERROR destroy {file}: {r}");
            continue;
        }
        println!("BENCH create_{label} value={}", t1 - t0 - base);
        println!("BENCH destroy_{label} value={}", t3 - t2 - base);
        println!("BENCH pool_pages_{label} value={}", used1 - used0);
    }

    let cfg = find(&bundle, "bench-cell.cell");
    let image = find(&bundle, "bench-inmate.bin");
    if image.data.len() > CELL_RAM_SIZE {
        fail("bench-inmate.bin exceeds the cell's RAM");
    }
    let used0 = pool_used();
    let t0 = probes::counter();
    let id = hvc::cell_create(addr(&cfg));
    let t1 = probes::counter();
    if id < 0 {
        println!("BENCH-ERROR create bench-cell: {id}");
        semihosting::exit(1);
    }
    let used1 = pool_used();
    let r = hvc::cell_set_loadable(id as u64);
    if r != 0 {
        println!("BENCH-ERROR set_loadable: {r}");
        semihosting::exit(1);
    }
    for (i, b) in image.data.iter().enumerate() {
        // SAFETY: while the cell is loadable its RAM is mapped back into
        // the root at its physical address; the image fits (checked above).
        unsafe { ((CELL_RAM_PHYS + i) as *mut u8).write_volatile(*b) };
    }
    let t2 = probes::counter();
    let r = hvc::cell_start(id as u64);
    if r != 0 {
        println!("BENCH-ERROR start: {r}");
        semihosting::exit(1);
    }
    let busy_cpu = coord::run(Conduit::Smc, &mailbox, false);
    el2_latency(super::smp::MEASURE_CPU as u64);
    let t3 = probes::counter();
    let r = hvc::cell_destroy(id as u64);
    let t4 = probes::counter();
    stats::value("cell_create_at", t0 as i64);
    stats::value("cell_create", (t1 - t0 - base) as i64);
    stats::value("cell_load", (t2 - t1) as i64);
    stats::value("pool_pages_cell", used1 - used0);
    stats::value("busy_cpu_on", busy_cpu);
    if r == 0 {
        stats::value("cell_destroy", (t4 - t3 - base) as i64);
    } else {
        println!("BENCH-ERROR destroy bench-cell: {r}");
    }
    super::ivshmem::run(&bundle, base);
    // The deepest any CPU's EL2 stack went (sysHyper's CPU_GET_INFO kind
    // 2000, root only): what the per-CPU area's size must hold.
    let stack = (0..4).map(|c| hvc::cpu_info(c, 2000)).max().unwrap_or(-1);
    stats::value("el2_stack_max", stack);
    println!("BENCH-DONE root");
    psci::system_off()
}

//! Suite "exhaust" (the most CPUs the machine's GIC allows: 16 on GICv3,
//! 8 on GICv2, whose CPU interface numbers stop at 8): cells are created,
//! one per root CPU 1..N-1 (N read from the root's CPU set), until the
//! hypervisor runs out, first of page-pool pages (configs of
//! 4 KiB root-shared regions each in its own 2 MiB block, so every region
//! needs a stage-2 table page of its own), then of heap (configs of the
//! largest accepted size, 16 pages, whose regions all name the same page
//! and so cost no tables). Each refusal must be exactly -ENOMEM (or -EBUSY
//! once every CPU is taken, which the suite reports separately), the
//! hypervisor must keep answering, and after destroying everything pool
//! usage and cell count must be back at their start values.
use crate::lifecycle::usage;
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config::{self as cfg, MEM_COMM_REGION, MEM_READ, MEM_ROOTSHARED, MEM_WRITE};
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{check, check_eq, println};

/// The bundle entry that selects this suite (its content is not read).
pub const MODE: &str = "mode:exhaust";
/// Largest config the hypervisor accepts (16 pages).
const MAX_CONFIG: usize = 16 * 4096;
const CPU_SET_SIZE: usize = 8;
const FIRST_REGION: usize = cfg::DESC_SIZE + CPU_SET_SIZE;
/// Regions that fit a config of MAX_CONFIG bytes.
const MAX_REGIONS: usize = (MAX_CONFIG - FIRST_REGION) / cfg::REGION_SIZE;
/// Root RAM (configs/qemu-virt-16cpu.toml, qemu-virt-gicv2-8cpu.toml) the
/// scattered regions use: from
/// 0x48000000 (above root-test and its bundle) to the end of root RAM.
const SCATTER_BASE: u64 = 0x4820_0000;
const SCATTER_END: u64 = 0x7fa0_0000;
const BLOCK: u64 = 0x20_0000;
/// Most CPUs a machine of this suite has (the arrays' size).
const MAX_CPUS: u64 = 16;

/// The root's CPUs 0..N-1 (sysHyper's cell info: the root's CPU set), at
/// most [`MAX_CPUS`].
fn cpus() -> u64 {
    let set = hvc::hvc(SH_HC_CELL_GET_INFO, 0, 0).max(0) as u64;
    (64 - u64::from(set.leading_zeros())).min(MAX_CPUS)
}

/// Signature and revision, copied from a real config of the bundle.
static mut SIGNATURE: [u8; 8] = [0; 8];
pub const BASE_CELL: &str = "exhaust/uart-demo.cell";
/// Page aligned: the hypervisor counts the pages a config touches.
#[repr(C, align(4096))]
struct ConfigBuf([u8; MAX_CONFIG]);
static mut CONFIG: ConfigBuf = ConfigBuf([0; MAX_CONFIG]);

pub fn wanted(b: &Bundle) -> bool {
    b.find(MODE).is_some()
}

fn put(buf: &mut [u8], off: usize, v: &[u8]) {
    buf[off..off + v.len()].copy_from_slice(v);
}

/// A config named `name` on `cpu` with a comm region and `n` root-shared
/// pages, page `i` at `page(i)`. Returns its length.
fn build(buf: &mut [u8], name: &str, cpu: u64, n: usize, page: impl Fn(usize) -> u64) -> usize {
    buf.fill(0);
    // SAFETY: written once in `run` before any build.
    put(buf, 0, unsafe { &*core::ptr::addr_of!(SIGNATURE) });
    put(buf, 8, name.as_bytes());
    put(buf, 48, &(CPU_SET_SIZE as u32).to_le_bytes());
    put(buf, 52, &((n + 1) as u32).to_le_bytes());
    put(buf, cfg::DESC_SIZE, &(1u64 << cpu).to_le_bytes());
    let region = |buf: &mut [u8], i: usize, r: [u64; 4]| {
        for (k, v) in r.iter().enumerate() {
            put(buf, FIRST_REGION + i * cfg::REGION_SIZE + k * 8, &v.to_le_bytes());
        }
    };
    region(buf, 0, [0, 0x8000_0000, 0x1000, MEM_READ | MEM_WRITE | MEM_COMM_REGION]);
    for i in 0..n {
        // Scattered pages sit 1:1 (a table each); repeats of one page get
        // consecutive guest addresses (few tables).
        let virt = if n > 1 && page(0) == page(1) { 0x1_0000_0000 + i as u64 * 0x1000 } else { page(i) };
        region(buf, i + 1, [page(i), virt, 0x1000, MEM_READ | MEM_ROOTSHARED]);
    }
    FIRST_REGION + (n + 1) * cfg::REGION_SIZE
}

fn name_of<'a>(buf: &'a mut [u8; 16], prefix: &[u8], cpu: u64) -> &'a str {
    buf[..prefix.len()].copy_from_slice(prefix);
    buf[prefix.len()] = b'0' + (cpu / 10) as u8;
    buf[prefix.len() + 1] = b'0' + (cpu % 10) as u8;
    core::str::from_utf8(&buf[..prefix.len() + 2]).unwrap_or("x")
}

/// Creates cells on CPUs 1.. until one is refused; returns the ids made and
/// the refusal (0 if every CPU got a cell).
fn fill(prefix: &[u8], n: usize, page: impl Fn(usize) -> u64 + Copy) -> ([i64; MAX_CPUS as usize], usize, i64) {
    let mut ids = [0i64; MAX_CPUS as usize];
    let mut made = 0;
    for cpu in 1..cpus() {
        let mut nb = [0u8; 16];
        let name = name_of(&mut nb, prefix, cpu);
        // SAFETY: CONFIG is used by this single-threaded suite only, one
        // create at a time.
        let buf = unsafe { &mut (*core::ptr::addr_of_mut!(CONFIG)).0 };
        build(buf, name, cpu, n, page);
        let before = usage();
        let ret = hvc::cell_create(buf.as_ptr() as u64);
        if ret <= 0 {
            check_eq!("exhaust: refused create leaves pool and cells unchanged", usage(), before);
            return (ids, made, ret);
        }
        ids[made] = ret;
        made += 1;
    }
    (ids, made, 0)
}

fn destroy_all(ids: &[i64], made: usize) {
    let mut ok = true;
    for &id in &ids[..made] {
        ok &= hvc::cell_destroy(id as u64) == 0;
    }
    check!("exhaust: every created cell destroyed", ok);
}

fn still_works() {
    check!(
        "exhaust: hypervisor still answers",
        hvc::hypervisor_info(INFO_MEM_POOL_SIZE) > 0 && hvc::cpu_info(0, CPU_INFO_STATE) == CPU_STATE_RUNNING
    );
}

pub fn run(bundle: &Bundle) {
    let Some(base) = crate::lifecycle::file(bundle, "exhaust: files", BASE_CELL) else {
        return;
    };
    // SAFETY: single-threaded suite; nothing reads SIGNATURE concurrently.
    unsafe { (*core::ptr::addr_of_mut!(SIGNATURE)).copy_from_slice(&base[..8]) };
    let start = usage();
    let pool = hvc::hypervisor_info(INFO_MEM_POOL_SIZE);
    println!("exhaust: {} CPUs, pool {pool} pages, {} used, {} cells", cpus(), start.0, start.1);
    // Page pool: one table page per 2 MiB block.
    let blocks = ((SCATTER_END - SCATTER_BASE) / BLOCK) as usize;
    let n = blocks.min(MAX_REGIONS - 1);
    let (ids, made, ret) = fill(b"pool", n, |i| SCATTER_BASE + i as u64 * BLOCK);
    println!("exhaust: pool: {made} cells of {n} scattered pages, then {ret}");
    check!("exhaust: page pool runs out before the CPUs", ret != 0, "all {made} cells created");
    check_eq!("exhaust: pool exhaustion is ENOMEM", ret, -ENOMEM);
    still_works();
    destroy_all(&ids, made);
    check_eq!("exhaust: pool given back after pool exhaustion", usage(), start);

    // Heap: largest configs, all regions on one page.
    let (ids, made, ret) = fill(b"heap", MAX_REGIONS - 1, |_| SCATTER_BASE);
    println!("exhaust: heap: {made} cells of 64 KiB configs, then {ret}");
    check!("exhaust: heap runs out before the CPUs", ret != 0, "all {made} cells created");
    check_eq!("exhaust: heap exhaustion is ENOMEM", ret, -ENOMEM);
    still_works();
    destroy_all(&ids, made);
    check_eq!("exhaust: everything given back after heap exhaustion", usage(), start);

    // And the machine is usable again: a small cell on the last CPU.
    // SAFETY: as in `fill`.
    let buf = unsafe { &mut (*core::ptr::addr_of_mut!(CONFIG)).0 };
    build(buf, "after", cpus() - 1, 1, |_| SCATTER_BASE);
    let id = hvc::cell_create(buf.as_ptr() as u64);
    check!("exhaust: create works after exhaustion", id > 0, "returned {id}");
    if id > 0 {
        check_eq!("exhaust: last cell destroyed", hvc::cell_destroy(id as u64), 0);
    }
    check_eq!("exhaust: usage back at start", usage(), start);
}

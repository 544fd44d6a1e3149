//! Suite "hypercalls" (jailhouse-abi.md §3) as seen from the root cell, which
//! alone is running: information calls, statistics, the debug console and
//! unknown codes. Root-only management calls are checked by other suites.
use syshyper_inmates::hvc::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{check, check_eq, print};

fn get_info(kind: u64) -> i64 {
    hvc(HC_HYPERVISOR_GET_INFO, kind, 0)
}

fn cpu_info(cpu: u64, kind: u64) -> i64 {
    hvc(HC_CPU_GET_INFO, cpu, kind)
}

pub fn run() {
    hypervisor_info();
    cpu_state_and_statistics();
    cpu_info_errors();
    debug_console();
    unknown_codes();
}

fn hypervisor_info() {
    let size = get_info(INFO_MEM_POOL_SIZE);
    check!("hc: mem pool size > 0", size > 0, "returned {size}");
    let used = get_info(INFO_MEM_POOL_USED);
    check!(
        "hc: mem pool used <= size",
        (0..=size).contains(&used),
        "used {used}, size {size}"
    );
    let rsize = get_info(INFO_REMAP_POOL_SIZE);
    check!("hc: remap pool size >= 0", rsize >= 0, "returned {rsize}");
    let rused = get_info(INFO_REMAP_POOL_USED);
    check!(
        "hc: remap pool used <= size",
        (0..=rsize).contains(&rused),
        "used {rused}, size {rsize}"
    );
    check_eq!("hc: number of cells is 1", get_info(INFO_NUM_CELLS), 1);
    check_eq!("hc: get_info type 5 is EINVAL", get_info(5), -EINVAL);
    check_eq!(
        "hc: get_info type 2^32 is EINVAL",
        get_info(1 << 32),
        -EINVAL
    );
}

fn cpu_state_and_statistics() {
    check_eq!(
        "hc: cpu 0 state is running",
        cpu_info(0, CPU_INFO_STATE),
        CPU_STATE_RUNNING
    );

    // Reading statistics does not change them (issue 19): two reads in a
    // row agree, and between two reads exactly the five other hypercalls
    // are counted, in both the total and the hypercall count.
    let total = CPU_STAT_BASE + STAT_TOTAL;
    let t1 = cpu_info(0, total);
    let t2 = cpu_info(0, total);
    check!("hc: cpu 0 total exits > 0", t1 > 0, "returned {t1}");
    check!("hc: reading the total does not count", t2 == t1, "{t1} then {t2}");

    let hc = CPU_STAT_BASE + STAT_HYPERCALL;
    let (h1, t1) = (cpu_info(0, hc), cpu_info(0, total));
    for _ in 0..5 {
        get_info(INFO_NUM_CELLS);
    }
    let (h2, t2) = (cpu_info(0, hc), cpu_info(0, total));
    check!(
        "hc: hypercall exits count every hypercall, reads none",
        h1 >= 0 && h2 - h1 == 5 && t2 - t1 >= 5,
        "hypercalls {h1} then {h2}, total {t1} then {t2}, after 5 calls"
    );
}

fn cpu_info_errors() {
    check_eq!(
        "hc: cpu_get_info cpu 64 is EINVAL",
        cpu_info(64, CPU_INFO_STATE),
        -EINVAL
    );
    check_eq!(
        "hc: cpu_get_info cpu 2^32 is EINVAL",
        cpu_info(1 << 32, CPU_INFO_STATE),
        -EINVAL
    );
    check_eq!(
        "hc: cpu_get_info cpu 63 (not in root) is EINVAL",
        cpu_info(63, CPU_INFO_STATE),
        -EINVAL
    );
    check_eq!("hc: cpu_get_info type 1 is EINVAL", cpu_info(0, 1), -EINVAL);
    check_eq!(
        "hc: cpu_get_info statistic 9 is EINVAL",
        cpu_info(0, CPU_STAT_BASE + 9),
        -EINVAL
    );
}

fn debug_console() {
    print!("putc:");
    let rets = [b'O', b'K', b'\n'].map(|c| hvc(HC_DEBUG_CONSOLE_PUTC, u64::from(c), 0));
    check!(
        "hc: debug console putc returns 0",
        rets.iter().all(|&r| r == 0),
        "returned {rets:?}"
    );
}

fn unknown_codes() {
    check_eq!("hc: code 9 is ENOSYS", hvc(9, 0, 0), -ENOSYS);
    check_eq!("hc: code 0x1234 is ENOSYS", hvc(0x1234, 0, 0), -ENOSYS);
    // sysHyper extension 0x100: a cell's CPUs and name, for the driver.
    check_eq!("hc: cell info of the root: CPUs 0-3", hvc(0x100, 0, 0) & 0xf, 0xf);
    check_eq!("hc: cell info of the root: name", hvc(0x100, 0, 1), i64::from_le_bytes(*b"QEMU-VI\0"));
    check_eq!("hc: cell info of an unknown cell is ENOENT", hvc(0x100, 77, 0), -ENOENT);
    check_eq!("hc: cell info item 7 is EINVAL", hvc(0x100, 0, 7), -EINVAL);
    check_eq!("hc: code 2^32 is ENOSYS", hvc(1 << 32, 0, 0), -ENOSYS);
}

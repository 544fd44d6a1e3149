//! Late launch from Linux, as system tests: Debian's stock kernel boots on
//! QEMU, a guest script (guest/tests/) loads the driver and drives the
//! `jailhouse` tool, printing one `[PASS] NAME` line per step; the tables
//! below wait for every step's line in order (plus the gic-demo cell's own
//! output), and the harness fails on any `[FAIL]` or `PANIC` line.
//!
//! One boot per test (each takes 10-20 s under TCG): `linux-demo` (the demo
//! with a root workload, every CPU checked, disable and enable again),
//! `linux-cycles` (wrong configs, 20 cell cycles, mem_pool_used, 20
//! enable/disable cycles with CPU hotplug after each), `linux-refuse` (each
//! kind of system config the hypervisor refuses at enable) and
//! `linux-unreserved` (`mem=1024M`: the hypervisor memory is Linux RAM);
//! `linux-isolation` (the hostile cell's attacks against a Linux root);
//! and `linux-adopt`, boot-first: the driver adopts a hypervisor that
//! started before Linux, with a cell of its own.

use crate::harness::Ctx;
use crate::systests::{Boot, Expect, SysTest};
use crate::guest;
use anyhow::Result;


/// Helpers every test script starts with: the kernel log check, then the
/// check helpers whose `summary` runs it.
const KERNEL_LOG: &str = include_str!("../../guest/tests/kernel_log.sh");
const LIB: &str = include_str!("../../guest/tests/lib.sh");
const DEMO: &str = include_str!("../../guest/tests/demo.sh");
const CYCLES: &str = include_str!("../../guest/tests/cycles.sh");
const UNRESERVED: &str = include_str!("../../guest/tests/unreserved.sh");
const ADOPT: &str = include_str!("../../guest/tests/adopt.sh");
const ISOLATION: &str = include_str!("../../guest/tests/isolation.sh");
const REFUSE: &str = include_str!("../../guest/tests/refuse.sh");
const SMP16: &str = include_str!("../../guest/tests/smp16.sh");
const LINUX_CELL: &str = include_str!("../../guest/tests/linux_cell.sh");

/// Kernel parameter that gives Linux all of QEMU's 1 GiB, the hypervisor
/// memory at 0x7fc0_0000 included (the last `mem=` wins).
const ALL_RAM: &str = "mem=1024M";

/// The script /init runs: the helpers, then the test.
fn script(body: &str) -> String {
    format!("{KERNEL_LOG}\n{LIB}\n{body}")
}

/// Builds the module, the tool and an initramfs running `body` in the test's
/// scratch folder; returns QEMU's arguments.
fn linux_args(ctx: &Ctx, body: &str, append: &str) -> Result<Vec<String>> {
    let (g, initrd) = guest_initramfs(ctx, body)?;
    Ok(guest::linux_qemu_args(&g, &initrd, append))
}

/// Debian's guest and an initramfs in the test's scratch folder holding
/// the module, the tool, the hypervisor, configs and inmates, running
/// `body` after the helpers; every platform's Linux tests boot this.
pub(crate) fn guest_initramfs(ctx: &Ctx, body: &str) -> Result<(guest::Guest, std::path::PathBuf)> {
    let (g, _, files) = guest::standard_guest(&ctx.paths, &ctx.workdir)?;
    let initrd = guest::build_initramfs(
        &g,
        &files,
        &script(body),
        &ctx.workdir.join("initramfs.cpio.gz"),
    )?;
    Ok((g, initrd))
}

/// linux-demo runs from the installed packages: the .debs of `cargo xtask
/// dist` (checked as they are built) unpacked as dpkg lays them out, the
/// module built from their DKMS source as DKMS builds it and put where
/// DKMS installs it; the script's paths (C, I, KO of guest/tests/lib.sh)
/// point there, and nothing else of the build is in the guest.
fn demo_args(ctx: &Ctx) -> Result<Vec<String>> {
    use crate::dist;
    let p = &ctx.paths;
    let g = guest::prepare_guest(&p.out.join("guest-cache"))?;
    crate::images::build_musl_tool(p)?;
    let start = std::time::Instant::now();
    let debs = dist::build(&dist::Inputs::of(p), &ctx.workdir.join("dist-work"), &ctx.workdir.join("dist"))?;
    let root = ctx.workdir.join("installed");
    let ko = dist::install_tree(&debs, &root, &g.headers_dir, &format!("{}-arm64", g.abi), &ctx.workdir)?;
    println!(
        "[linux-demo] packages built, checked and unpacked, module built from their DKMS tree: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    let mut files = Vec::new();
    installed_files(&root, &root, &mut files)?;
    let paths = format!("C=/{0}/configs\nI=/{0}/inmates\nKO=/{ko}\n", dist::DATA_DIR);
    let initrd = guest::build_initramfs(
        &g,
        &files,
        &format!("{KERNEL_LOG}\n{LIB}\n{paths}{DEMO}"),
        &ctx.workdir.join("initramfs.cpio.gz"),
    )?;
    Ok(guest::linux_qemu_args(&g, &initrd, ""))
}

/// Every regular file under `dir` as (host path, guest path below `root`);
/// links are left out (/init makes the `jailhouse` one; the packages'
/// links are checked by `dist::check`).
fn installed_files(root: &std::path::Path, dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) -> Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if meta.is_dir() {
            installed_files(root, &path, out)?;
        } else if meta.is_file() {
            let rel = path.strip_prefix(root)?.to_string_lossy().into_owned();
            out.push((path, format!("/{rel}")));
        }
    }
    Ok(())
}

fn cycles_args(ctx: &Ctx) -> Result<Vec<String>> {
    linux_args(ctx, CYCLES, "")
}

fn isolation_args(ctx: &Ctx) -> Result<Vec<String>> {
    linux_args(ctx, ISOLATION, "")
}

fn refuse_args(ctx: &Ctx) -> Result<Vec<String>> {
    linux_args(ctx, REFUSE, "")
}

/// Jailhouse's QEMU machine: 16 CPUs (as `cargo xtask run --smp 16`).
/// With `--gic 2`, 8 CPUs: QEMU's GICv2 model (like the architecture: 8
/// CPU interfaces) allows no more; the script then enables the 8-CPU
/// GICv2 config.
fn smp16_args(ctx: &Ctx) -> Result<Vec<String>> {
    let (cpus, config) = smp16_machine(crate::qemu::gic());
    let body = format!("SMP_CPUS={cpus}\nSMP_CONFIG={config}\n{SMP16}");
    let mut args = linux_args(ctx, &body, "")?;
    crate::run_linux::size_machine(&mut args, cpus, 1024);
    Ok(args)
}

/// CPUs and system config of linux-smp16 per GIC version.
fn smp16_machine(gic: u8) -> (u32, &'static str) {
    if gic == 2 {
        (8, "qemu-virt-gicv2-8cpu.cell")
    } else {
        (16, "qemu-virt-16cpu.cell")
    }
}

/// The Linux cell test: the root's initramfs carries the cell's kernel
/// and initramfs (guest/tests/linux_cell.sh). The machine also has
/// QEMU's SMMUv3 and a virtio-blk disk at 00:05.0, which the root
/// reads, gives to a Linux cell with its SMMU stream (the cell reads the
/// same file from it) and gets back (xtask/src/guest/vblk.rs).
fn linux_cell_args(ctx: &Ctx) -> Result<Vec<String>> {
    let (g, ko, mut files) = guest::standard_guest(&ctx.paths, &ctx.workdir)?;
    let disk = guest::vblk::prepare(&g, &ctx.workdir.join("vblk"))?;
    files.extend(guest::linux_cell_files_with(&g, &ko, &disk.modules, &ctx.workdir)?);
    files.extend(disk.modules.iter().cloned());
    files.push(disk.sum.clone());
    let initrd = guest::build_initramfs(&g, &files, &script(LINUX_CELL), &ctx.workdir.join("initramfs.cpio.gz"))?;
    let mut args = guest::linux_qemu_args(&g, &initrd, "");
    guest::vblk::add_machine(&mut args, &disk, &ctx.workdir)?;
    Ok(args)
}

fn unreserved_args(ctx: &Ctx) -> Result<Vec<String>> {
    linux_args(ctx, UNRESERVED, ALL_RAM)
}

/// Boot-first: the hypervisor starts gic-demo, then Linux as the root cell
/// (xtask/src/bootfirst_linux.rs plays the boot loader).
fn adopt_args(ctx: &Ctx) -> Result<Vec<String>> {
    use crate::bootfirst_linux::{prepare_linux, qemu_args, LinuxBoot};
    let (g, initrd) = prepare_linux(&ctx.paths, &script(ADOPT), &[], &ctx.workdir)?;
    let boot = LinuxBoot {
        hv_image: ctx.paths.images().join("syshyper.bin"),
        kernel: g.kernel_image,
        initrd,
        cells: vec!["gic-demo".to_string()],
    };
    qemu_args(&ctx.paths, &boot, &ctx.workdir)
}

/// The line a passed step prints; the line end keeps "enable" from
/// matching "enable again".
macro_rules! pass {
    ($name:literal) => {
        $crate::systests::Expect {
            regex: concat!(r"\[PASS\] ", $name, r"\r?\n"),
            check: None,
        }
    };
}
pub(crate) use pass;

/// The gic-demo inmate's output (jailhouse-abi.md §9) once it starts
/// (on every platform: the ZCU102 test waits for the same lines).
pub(crate) const GIC_LINES: [Expect; 3] = [
    Expect {
        regex: r"Initializing the GIC\.\.\.",
        check: None,
    },
    Expect {
        regex: r"Initializing the timer\.\.\.",
        check: None,
    },
    Expect {
        regex: r"Timer fired, jitter: *-?\d+ ns, min: *-?\d+ ns, max: *-?\d+ ns",
        check: None,
    },
];

/// The ivshmem-demo cell's lines (inmates/src/bin/ivshmem-demo) while the
/// root pings it 1000 times and then sends it three hello texts.
const IVSHMEM_LINES: [Expect; 4] = [
    Expect {
        regex: r"IVSHMEM: ID is 1, max\. peers is 3",
        check: None,
    },
    Expect {
        regex: r"IVSHMEM: [a-z ]+ to 2, waiting for interrupts",
        check: None,
    },
    Expect {
        regex: r"IVSHMEM: pong 1000\r?\n",
        check: None,
    },
    Expect {
        regex: r"IVSHMEM: peer 0: Hello from peer 0, message 3",
        check: None,
    },
];

/// The script's last line: every check passed and the kernel log (read back
/// with dmesg, as `quiet` hides warnings from the console) has no warning,
/// oops, BUG, stall or unexpected interrupt.
pub(crate) const SUMMARY: &str = r"linux-test: (\d+) passed, 0 failed, kernel log: clean";

/// Every check of the script passed: none was skipped or lost.
pub(crate) fn passed_exactly(caps: &[String], want: u32) -> Result<(), String> {
    match caps.get(1).map(|n| n.parse::<u32>()) {
        Some(Ok(n)) if n == want => Ok(()),
        _ => Err(format!(
            "expected {want} passed checks, got {:?}",
            caps.first()
        )),
    }
}

// Written from the scripts' check names; `tables_follow_the_scripts` keeps
// them in step. The scripts print the checks made while gic-demo runs only
// after destroying it, so its lines come before "cell start".
const DEMO_EXPECT: &[Expect] = &[
    pass!("insmod"),
    pass!("driver loaded, not enabled"),
    pass!("no console before enable"),
    pass!("Linux works before enable"),
    pass!("enable"),
    pass!("enabled is 1"),
    pass!("root cell listed"),
    pass!("Linux works under the hypervisor"),
    pass!("every CPU works under the hypervisor"),
    pass!("cell create"),
    pass!("CPU 1 left Linux"),
    pass!("cell shut down after create"),
    pass!("cell load"),
    GIC_LINES[0],
    GIC_LINES[1],
    GIC_LINES[2],
    pass!("cell start"),
    pass!("cell took its timer interrupts"),
    pass!("cell running"),
    pass!("cell list shows it"),
    pass!("Linux works while the cell runs"),
    pass!("root CPUs work while the cell runs"),
    pass!("cell stats count exits"),
    pass!("cell stats --latency of gic-demo"),
    pass!("cell stats --watch --count 2"),
    pass!("cell stats totals add up"),
    pass!("reading statistics does not count"),
    pass!("cell destroy"),
    pass!("cell gone"),
    pass!("all root CPUs back online"),
    pass!("every CPU works after destroy"),
    pass!("Linux works after destroy"),
    pass!("timer-bare cell create"),
    pass!("timer-bare cell load"),
    Expect {
        regex: r"timer-bare: 5 timer interrupts",
        check: None,
    },
    pass!("timer-bare cell start"),
    pass!("timer-bare takes timer interrupts"),
    pass!("timer-bare cell shutdown"),
    pass!("timer-bare shut down"),
    pass!("timer-bare cell destroy"),
    pass!("CPU 2 back in Linux"),
    pass!("crash cell create"),
    pass!("crash cell load"),
    Expect {
        regex: r"crash-demo: reading unmapped 0x10000000",
        check: None,
    },
    pass!("crash cell start"),
    pass!("crashed cell is failed"),
    pass!("cell dump names access, address, syndrome and PC"),
    pass!("post-mortem record in sysfs, root only"),
    pass!("crash cell destroy"),
    pass!("post-mortem record gone with the cell"),
    pass!("CPU 2 back in Linux after the crash"),
    pass!("ivshmem: /dev/uio0 with Jailhouse's maps"),
    pass!("ivshmem-net: ivshmem0 up, carrier down without a peer"),
    pass!("hypervisor console"),
    pass!("console in 128-byte non-blocking reads"),
    pass!("console in 128-byte blocking reads"),
    pass!("disable"),
    pass!("enabled is 0"),
    pass!("no UIO or ivshmem-net devices while disabled"),
    pass!("pools read 0 while disabled"),
    pass!("last console readable after disable"),
    pass!("all CPUs online after disable"),
    pass!("every CPU works after disable"),
    pass!("Linux works after disable"),
    pass!("enable again"),
    pass!("root cell running again"),
    pass!("ivshmem: /dev/uio0 back after enable"),
    pass!("ivshmem: state table cannot be mapped writable"),
    pass!("ivshmem: input sections cannot be mapped writable"),
    pass!("ivshmem: own output section maps writable"),
    pass!("ivshmem-demo cell create"),
    pass!("ivshmem-demo cell load"),
    IVSHMEM_LINES[0],
    IVSHMEM_LINES[1],
    IVSHMEM_LINES[2],
    IVSHMEM_LINES[3],
    pass!("ivshmem-demo cell start"),
    pass!("ivshmem: 1000 round trips, 0 errors"),
    pass!("ivshmem: root took the doorbell interrupts"),
    pass!("ivshmem: hello texts both ways"),
    pass!("ivshmem: peer 1 state 2 while it runs"),
    pass!("ivshmem-demo cell destroy"),
    pass!("ivshmem: peer 1 state 0 after destroy"),
    pass!("ivshmem: 100 create/destroy cycles keep mem_pool_used"),
    pass!("cell create again"),
    pass!("cell load and start again"),
    pass!("cell took its timer interrupts again"),
    pass!("cell running again"),
    pass!("disable with a cell running"),
    pass!("all CPUs online after the second disable"),
    pass!("Linux works after the second disable"),
    pass!("config create"),
    pass!("config create: output compiles"),
    pass!("config create: same as qemu-virt up to the listed differences"),
    pass!("config check --live accepts it with gic-demo"),
    pass!("config create --cell on Linux's RAM and UART"),
    pass!("config check --live: RAM Linux uses"),
    pass!("config check --live: interrupt Linux requested"),
    pass!("config create --cell on a free virtio-mmio slot"),
    pass!("config check --live accepts the generated cell"),
    pass!("enable with the generated config"),
    pass!("root cell listed on the generated config"),
    pass!("every CPU works on the generated config"),
    pass!("generated cell create"),
    pass!("generated cell shut down after create"),
    pass!("generated cell destroy"),
    pass!("gic-demo create and load on the generated config"),
    pass!("gic-demo start on the generated config"),
    pass!("gic-demo took its timer interrupts on the generated config"),
    pass!("gic-demo running on the generated config"),
    pass!("disable on the generated config"),
    pass!("all CPUs online after the generated config"),
    pass!("rmmod"),
    Expect {
        regex: SUMMARY,
        check: Some(|c| passed_exactly(c, 104)),
    },
];

const CYCLES_EXPECT: &[Expect] = &[
    pass!("insmod"),
    pass!("enable with a cell config"),
    pass!("enable with a truncated config"),
    pass!("enable with a config for 16 CPUs"),
    pass!("dmesg names the missing CPU"),
    pass!("enable with a root CPU offline"),
    pass!("enable with the other GIC version fails in the hypervisor"),
    pass!("dmesg says the hypervisor failed to start"),
    pass!("still not enabled"),
    pass!("all CPUs online after the refusals"),
    pass!("every CPU works after the refusals"),
    pass!("Linux works after the refusals"),
    pass!("enable"),
    pass!("cell create with the GICD refused by the hypervisor"),
    pass!("dmesg names the reason for the refused cell"),
    pass!("CPU 1 back after the refused create"),
    pass!("mem_pool_used readable"),
    pass!("cycle 1"),
    pass!("cycle 2"),
    pass!("cycle 3"),
    pass!("cycle 4"),
    pass!("cycle 5"),
    pass!("cycle 6"),
    pass!("cycle 7"),
    pass!("cycle 8"),
    pass!("cycle 9"),
    pass!("cycle 10"),
    pass!("cycle 11"),
    pass!("cycle 12"),
    pass!("cycle 13"),
    pass!("cycle 14"),
    pass!("cycle 15"),
    pass!("cycle 16"),
    pass!("cycle 17"),
    pass!("cycle 18"),
    pass!("cycle 19"),
    pass!("cycle 20"),
    pass!("mem_pool_used back at its start"),
    pass!("every CPU works after the cycles"),
    pass!("Linux works after the cycles"),
    pass!("comm: create test-comm"),
    pass!("comm: approving cell runs"),
    pass!("comm: create gic-demo next to it"),
    pass!("comm: it acknowledged RECONFIG_COMPLETED after the create"),
    pass!("comm: destroy gic-demo"),
    pass!("comm: it acknowledged RECONFIG_COMPLETED after the destroy"),
    pass!("comm: shutdown approved"),
    pass!("comm: one shutdown request seen"),
    pass!("comm: shut down after approval"),
    pass!("comm: denying cell runs"),
    pass!("comm: shutdown denied, named, --force offered"),
    pass!("comm: destroy denied"),
    pass!("comm: dmesg has the hypervisor's reason"),
    pass!("comm: denying cell still running"),
    pass!("comm: shutdown --force wins"),
    pass!("comm: shut down after --force"),
    pass!("comm: silent cell runs"),
    pass!("comm: silent cell times out"),
    pass!("comm: silent cell still running"),
    pass!("comm: Linux works after the timeout"),
    pass!("comm: root CPUs work after the timeout"),
    pass!("comm: destroy --force wins over silence"),
    pass!("comm: gic-demo runs"),
    pass!("comm: create test-comm again"),
    pass!("comm: locking cell runs"),
    pass!("comm: locked in sysfs"),
    pass!("comm: locked in cell list"),
    pass!("comm: no destroy of another cell while locked"),
    pass!("comm: no load of another cell while locked"),
    pass!("comm: locked cell denies its destroy"),
    pass!("comm: gic-demo still running"),
    pass!("comm: destroy --force of the locked cell"),
    pass!("comm: gic-demo destroyed once the lock is gone"),
    pass!("restart: test-comm runs"),
    pass!("restart: 100 load/start cycles keep mem_pool_used"),
    pass!("restart: counter 100 in sysfs and cell list"),
    pass!("restart: destroy test-comm"),
    pass!("restart: create test-crash"),
    pass!("restart: crash-demo fails"),
    pass!("restart: the failed cell starts again after a load"),
    pass!("restart: counter 1 after the failed cell's restart"),
    pass!("restart: destroy the failed cell"),
    pass!("comm: all CPUs back in Linux"),
    pass!("comm: mem_pool_used back at its start"),
    pass!("disable"),
    pass!("enable, disable, hotplug 1"),
    pass!("enable, disable, hotplug 2"),
    pass!("enable, disable, hotplug 3"),
    pass!("enable, disable, hotplug 4"),
    pass!("enable, disable, hotplug 5"),
    pass!("enable, disable, hotplug 6"),
    pass!("enable, disable, hotplug 7"),
    pass!("enable, disable, hotplug 8"),
    pass!("enable, disable, hotplug 9"),
    pass!("enable, disable, hotplug 10"),
    pass!("enable, disable, hotplug 11"),
    pass!("enable, disable, hotplug 12"),
    pass!("enable, disable, hotplug 13"),
    pass!("enable, disable, hotplug 14"),
    pass!("enable, disable, hotplug 15"),
    pass!("enable, disable, hotplug 16"),
    pass!("enable, disable, hotplug 17"),
    pass!("enable, disable, hotplug 18"),
    pass!("enable, disable, hotplug 19"),
    pass!("enable, disable, hotplug 20"),
    pass!("Linux works after the enable/disable cycles"),
    pass!("rmmod"),
    Expect {
        regex: SUMMARY,
        check: Some(|c| passed_exactly(c, 107)),
    },
];

// Each refused config of refuse.sh checks four things (its `refused`).
// The third depends on the machine's GIC: GICv3 (a CPU without a
// redistributor) or GICv2 (the maintenance interrupt).
macro_rules! per_gic {
    ($step:literal) => {
        Expect {
            regex: concat!(r"\[PASS\] (?:CPU without a redistributor|wrong maintenance interrupt): ", $step, r"\r?\n"),
            check: None,
        }
    };
}
const REFUSE_EXPECT: &[Expect] = &[
    pass!("insmod"),
    pass!("other GIC version: enable fails"),
    pass!("other GIC version: reason in dmesg"),
    pass!("other GIC version: reason on the hypervisor console"),
    pass!("other GIC version: Linux intact"),
    pass!("unknown system flags: enable fails"),
    pass!("unknown system flags: reason in dmesg"),
    pass!("unknown system flags: reason on the hypervisor console"),
    pass!("unknown system flags: Linux intact"),
    per_gic!("enable fails"),
    per_gic!("reason in dmesg"),
    per_gic!("reason on the hypervisor console"),
    per_gic!("Linux intact"),
    pass!("hypervisor memory without a pool: enable fails"),
    pass!("hypervisor memory without a pool: reason in dmesg"),
    pass!("hypervisor memory without a pool: reason on the hypervisor console"),
    pass!("hypervisor memory without a pool: Linux intact"),
    pass!("root region wraps: enable fails"),
    pass!("root region wraps: reason in dmesg"),
    pass!("root region wraps: reason on the hypervisor console"),
    pass!("root region wraps: Linux intact"),
    pass!("CPU that never arrives: enable fails"),
    pass!("CPU that never arrives: reason in dmesg"),
    pass!("CPU that never arrives: Linux intact"),
    pass!("unknown console type: accepted"),
    pass!("unknown console type: disable"),
    pass!("enable"),
    pass!("enabled is 1"),
    pass!("every CPU works under the hypervisor"),
    pass!("disable"),
    pass!("Linux works after disable"),
    pass!("rmmod"),
    Expect {
        regex: SUMMARY,
        // GICv2 refuses one config more (a wrong GICC base: four checks),
        // which the per-GIC rows above do not await.
        check: Some(|c| passed_exactly(c, 32).or_else(|_| passed_exactly(c, 36))),
    },
];

const SMP16_EXPECT: &[Expect] = &[
    pass!("every CPU online"),
    pass!("insmod"),
    pass!("enable with the many-CPU config"),
    pass!("root cell on every CPU"),
    pass!("every CPU works under the hypervisor"),
    GIC_LINES[0],
    GIC_LINES[1],
    GIC_LINES[2],
    pass!("cell on CPU 1"),
    pass!("root cell on every CPU but 1"),
    pass!("cell destroy"),
    pass!("disable"),
    pass!("every CPU online after disable"),
    pass!("Linux works after disable"),
    pass!("rmmod"),
    Expect {
        regex: SUMMARY,
        check: Some(|c| passed_exactly(c, 12)),
    },
];

const UNRESERVED_EXPECT: &[Expect] = &[
    pass!("Linux owns the hypervisor memory"),
    pass!("insmod"),
    pass!("enable fails: memory not reserved"),
    pass!("dmesg names the overlap"),
    pass!("enable status is non-zero"),
    pass!("still not enabled"),
    pass!("all CPUs online"),
    pass!("every CPU works"),
    pass!("Linux works after the refusal"),
    pass!("rmmod"),
    Expect {
        regex: SUMMARY,
        check: Some(|c| passed_exactly(c, 10)),
    },
];

const ADOPT_EXPECT: &[Expect] = &[
    pass!("Linux works as the boot-first root cell"),
    pass!("CPU 1 belongs to the boot cell"),
    pass!("insmod adopts the hypervisor"),
    pass!("dmesg says adopted"),
    pass!("enabled is 1 without enable"),
    pass!("root cell adopted"),
    pass!("root cell has the online CPUs"),
    pass!("boot cell listed as id 1, running"),
    pass!("boot cell on CPU 1"),
    pass!("mem_pool_used readable"),
    pass!("enable is refused"),
    pass!("disable is refused"),
    pass!("dmesg explains the refusal"),
    pass!("boot cell still running after the refusal"),
    pass!("load into the boot cell is refused"),
    pass!("cell shutdown of the boot cell"),
    pass!("boot cell shut down"),
    pass!("cell destroy of the boot cell by id"),
    pass!("boot cell gone"),
    pass!("CPU 1 back in Linux"),
    pass!("every CPU works after destroy"),
    pass!("Linux works after destroy"),
    pass!("cell create"),
    pass!("cell load"),
    GIC_LINES[0],
    GIC_LINES[1],
    GIC_LINES[2],
    pass!("cell start"),
    pass!("cell took its timer interrupts"),
    pass!("cell running"),
    pass!("cell list shows gic-demo"),
    pass!("Linux works while the cell runs"),
    pass!("rmmod keeps the hypervisor and the cell"),
    pass!("insmod adopts the cell again"),
    pass!("console readable with hv_phys"),
    pass!("re-adopted cell running"),
    pass!("re-adopted cell on CPU 1"),
    pass!("cell destroy by id"),
    pass!("CPU 1 back again"),
    pass!("every CPU works at the end"),
    pass!("Linux works at the end"),
    pass!("rmmod"),
    Expect {
        regex: SUMMARY,
        check: Some(|c| passed_exactly(c, 39)),
    },
];

const ISOLATION_EXPECT: &[Expect] = &[
    pass!("checksummed data in tmpfs and a process"),
    pass!("checksums recorded"),
    pass!("insmod"),
    pass!("enable"),
    pass!("mailbox page mapped by the root"),
    pass!("checksums unchanged by enable"),
    pass!("read root RAM: cell failed"),
    pass!("read root RAM: destroyed, root intact"),
    pass!("write root RAM: cell failed"),
    pass!("write root RAM: destroyed, root intact"),
    pass!("read hypervisor memory: cell failed"),
    pass!("read hypervisor memory: destroyed, root intact"),
    pass!("write hypervisor memory: cell failed"),
    pass!("write hypervisor memory: destroyed, root intact"),
    pass!("hypervisor answers after the write attack"),
    pass!("stage-1 map of hypervisor: cell failed"),
    pass!("stage-1 map of hypervisor: destroyed, root intact"),
    pass!("foreign HVC: cell failed"),
    pass!("foreign HVC: destroyed, root intact"),
    pass!("root-only hypercalls: all -EPERM"),
    pass!("root-only hypercalls: destroyed, root intact"),
    pass!("masked endless loop: cell spins"),
    pass!("masked endless loop: destroyed, root intact"),
    pass!("SGI flood: all sent, cell running"),
    pass!("SGI flood: destroyed, root intact"),
    pass!("every CPU works after the attacks"),
    pass!("disable"),
    pass!("checksums unchanged after disable"),
    pass!("Linux works after disable"),
    pass!("rmmod"),
    Expect {
        regex: SUMMARY,
        check: Some(|c| passed_exactly(c, 30)),
    },
];

/// The Linux cell's MemTotal: at most the 192 MiB of configs/linux-cell.toml
/// (196608 kB) and most of it (the kernel's own image and reservations
/// take some).
fn cell_memtotal(caps: &[String]) -> Result<(), String> {
    match caps.get(1).map(|n| n.parse::<u64>()) {
        Some(Ok(kb)) if (120_000..=196_608).contains(&kb) => Ok(()),
        _ => Err(format!("the cell's MemTotal is not what its 192 MiB give: {:?}", caps.first())),
    }
}

/// What the Linux cell reports from its /init (guest/linux-cell/run.sh)
/// through its virtual console: only the CPUs and memory its config gives.
macro_rules! cell_report {
    ($round:literal) => {
        [
            Expect { regex: r"\[linux-cell\] linux-cell: online CPUs 0-1\r?\n", check: None },
            Expect { regex: r"\[linux-cell\] linux-cell: MemTotal: (\d+) kB", check: Some(cell_memtotal) },
            Expect { regex: r"\[linux-cell\] linux-cell: 70000000-7bffffff : System RAM \r?\n", check: None },
            Expect { regex: concat!(r"\[linux-cell\] linux-cell: running round ", $round, r"\r?\n"), check: None },
        ]
    };
}
const CELL_REPORT_1: [Expect; 4] = cell_report!("1");
const CELL_REPORT_2: [Expect; 4] = cell_report!("2");

const LINUX_CELL_EXPECT: &[Expect] = &[
    pass!("virtio-blk: root's driver"),
    pass!("virtio-blk: BAR4 in the 64-bit window at 512 GiB"),
    pass!("virtio-blk: root reads the disk before enable"),
    pass!("insmod"),
    pass!("enable"),
    pass!("virtio-blk: root reads the disk after enable"),
    pass!("ivshmem-net: root's ivshmem0 up, no carrier without the cell"),
    pass!("cell linux 1"),
    pass!("cell running 1"),
    pass!("sysfs: no passed-through device, DMA not unconfined 1"),
    pass!("CPUs 2-3 left Linux 1"),
    CELL_REPORT_1[0],
    CELL_REPORT_1[1],
    CELL_REPORT_1[2],
    CELL_REPORT_1[3],
    pass!("cell reached /init 1"),
    pass!("Linux works while the cell runs 1"),
    pass!("ivshmem-net: link up 1"),
    pass!("ivshmem-net: root pings the cell 1"),
    pass!("ivshmem-net: cell pings the root 1"),
    pass!("ivshmem-net: 16 MiB to the cell and back, same SHA-256 1"),
    pass!("ivshmem-net: cell's kernel log clean 1"),
    pass!("cell shutdown 1"),
    pass!("cell shut down 1"),
    pass!("ivshmem-net: link down with the cell 1"),
    pass!("cell destroy 1"),
    pass!("CPUs 2-3 back online 1"),
    pass!("every CPU works 1"),
    pass!("cell linux 2"),
    pass!("cell running 2"),
    pass!("sysfs: no passed-through device, DMA not unconfined 2"),
    pass!("CPUs 2-3 left Linux 2"),
    CELL_REPORT_2[0],
    CELL_REPORT_2[1],
    CELL_REPORT_2[2],
    CELL_REPORT_2[3],
    pass!("cell reached /init 2"),
    pass!("Linux works while the cell runs 2"),
    pass!("ivshmem-net: link up 2"),
    pass!("ivshmem-net: root pings the cell 2"),
    pass!("ivshmem-net: cell pings the root 2"),
    pass!("ivshmem-net: 16 MiB to the cell and back, same SHA-256 2"),
    pass!("ivshmem-net: cell's kernel log clean 2"),
    pass!("cell shutdown 2"),
    pass!("cell shut down 2"),
    pass!("ivshmem-net: link down with the cell 2"),
    pass!("cell destroy 2"),
    pass!("CPUs 2-3 back online 2"),
    pass!("every CPU works 2"),
    pass!("halting cell linux"),
    pass!("halting cell ends SHUT_DOWN"),
    pass!("halted cell destroy"),
    pass!("CPUs 2-3 back online after the halt"),
    pass!("crashing cell linux"),
    Expect { regex: r"\[linux-cell\] linux-cell: crashing on purpose", check: None },
    Expect { regex: r"parked: the Linux boot stub was entered again", check: None },
    pass!("crashing cell ends FAILED"),
    pass!("root data unchanged"),
    pass!("Linux works after the crash"),
    pass!("failed cell destroy"),
    pass!("CPUs 2-3 back online after the crash"),
    pass!("every CPU works after the crash"),
    pass!("passthrough cell create refused while virtio-pci is bound"),
    pass!("virtio-blk: root unbinds its driver"),
    pass!("passthrough cell create"),
    pass!("sysfs: the passthrough cell's DMA unconfined"),
    pass!("sysfs: no DMA faults without an SMMU"),
    pass!("sysfs: the root's DMA not unconfined"),
    pass!("cell list: DMA UNCONFINED and a note"),
    pass!("hypervisor console: DMA unconfined at create"),
    pass!("dmesg: DMA unconfined at create"),
    pass!("passthrough cell destroy"),
    pass!("CPUs 2-3 back online after the passthrough cell"),
    pass!("virtio-blk: root rebinds its driver"),
    pass!("virtio-blk: root reads the disk after the passthrough cell"),
    pass!("disable"),
    pass!("virtio-blk: root reads the disk after disable"),
    pass!("SMMU: enable"),
    pass!("SMMU: the hypervisor drives it"),
    pass!("virtio-blk: root reads the disk through the SMMU"),
    pass!("virtio-blk: MSI-X capability and BAR1 where the cell's config lists them"),
    pass!("virtio-blk: the root's disk interrupt is INTx"),
    pass!("virtio-blk: cell linux refused while virtio-pci is bound"),
    pass!("virtio-blk: cell refused, root still reads the disk"),
    pass!("virtio-blk: root unbinds its driver again"),
    pass!("virtio-blk: cell linux"),
    pass!("virtio-blk: cell running"),
    pass!("virtio-blk: the root reads no device at 00:05.0"),
    Expect { regex: r"\[linux-cell-vblk\] linux-cell: vda payload\.bin sha256 [0-9a-f]{64}\r?\n", check: None },
    pass!("virtio-blk: the cell's GIC offers MBIs at the ITS on GICv3"),
    pass!("virtio-blk: the cell reads payload.bin with the SHA-256 written"),
    pass!("virtio-blk: cell's kernel log clean"),
    pass!("virtio-blk: the cell's disk interrupts, MSI on GICv3, grow across the read"),
    pass!("virtio-blk: sysfs: the cell's DMA confined, no faults"),
    pass!("virtio-blk: cell list: confined"),
    pass!("virtio-blk: Linux works while the cell runs"),
    pass!("virtio-blk: cell shutdown"),
    pass!("virtio-blk: cell destroy"),
    pass!("virtio-blk: CPUs 2-3 back online"),
    pass!("virtio-blk: the root sees the device again"),
    pass!("virtio-blk: root rebinds its driver after the cell"),
    pass!("virtio-blk: root reads the disk after the cell"),
    pass!("SMMU: no DMA faults of the root"),
    pass!("SMMU: disable"),
    pass!("virtio-blk: root reads the disk after the SMMU's disable"),
    Expect {
        regex: SUMMARY,
        check: Some(|c| passed_exactly(c, 94)),
    },
];

/// Kernel trouble that fails a test when it reaches the console (the
/// scripts' kernel log check catches what `quiet` keeps off it).
pub const LINUX_TROUBLE: &[&str] = &[
    "Internal error:",
    "Kernel panic",
    "Unable to handle kernel",
    "self-detected stall",
    "rcu: INFO",
    "Call trace:",
    "WARNING:",
    "Oops",
    "BUG:",
    "Unexpected interrupt",
];

const fn linux_test(
    name: &'static str,
    boot: fn(&Ctx) -> Result<Vec<String>>,
    expect: &'static [Expect],
    timeout_s: u64,
) -> SysTest {
    SysTest {
        name,
        boot: Boot::Custom(boot),
        bundle: &[],
        start_bundle_cells: false,
        interact: None,
        expect,
        // A broken hypervisor shows up as a kernel oops or a hung CPU.
        forbid: LINUX_TROUBLE,
        // /init powers off with `poweroff -f`: PSCI SYSTEM_OFF, status 0.
        exit_status: 0,
        timeout_s,
    }
}

pub const LINUX_DEMO: SysTest = linux_test("linux-demo", demo_args, DEMO_EXPECT, 300);
pub const LINUX_CYCLES: SysTest = linux_test("linux-cycles", cycles_args, CYCLES_EXPECT, 600);
pub const LINUX_UNRESERVED: SysTest =
    linux_test("linux-unreserved", unreserved_args, UNRESERVED_EXPECT, 120);
pub const LINUX_ADOPT: SysTest = linux_test("linux-adopt", adopt_args, ADOPT_EXPECT, 150);
pub const LINUX_REFUSE: SysTest = linux_test("linux-refuse", refuse_args, REFUSE_EXPECT, 240);
pub const LINUX_SMP16: SysTest = linux_test("linux-smp16", smp16_args, SMP16_EXPECT, 360);
pub const LINUX_ISOLATION: SysTest =
    linux_test("linux-isolation", isolation_args, ISOLATION_EXPECT, 180);
/// The Linux cell's own console shows its kernel's panic on purpose, so
/// this test forbids only what the hypervisor or the harness print; the
/// root's kernel trouble is caught by the script's kernel log check.
pub const LINUX_CELL_TEST: SysTest = SysTest {
    forbid: &[],
    ..linux_test("linux-cell-boot", linux_cell_args, LINUX_CELL_EXPECT, 600)
};

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;


    /// The check names of a script in the order they run (the cycle loop
    /// unrolled).
    /// The script with its `for round in 1 2; do ... done` loops unrolled.
    fn unrolled(body: &str) -> String {
        let head = Regex::new(r"^for round in ([\d ]+); do$").unwrap();
        let mut out = String::new();
        let mut lines = body.lines();
        while let Some(line) = lines.next() {
            let Some(c) = head.captures(line) else {
                out.push_str(line);
                out.push('\n');
                continue;
            };
            let block: Vec<&str> = lines.by_ref().take_while(|l| *l != "done").collect();
            for round in c[1].split_whitespace() {
                for l in &block {
                    out.push_str(&l.replace("$round", round));
                    out.push('\n');
                }
            }
        }
        out
    }

    fn check_names(body: &str) -> Vec<String> {
        let re = Regex::new(r#"^\s*(?:check|fails_with) "([^"]+)""#).unwrap();
        let refused = Regex::new(r#"^\s*refused "([^"]+)""#).unwrap();
        let mut names = Vec::new();
        let body = unrolled(body);
        // refuse.sh's GICv2 branch: the table awaits either branch's
        // names in one entry (`per_gic!`), compared with the GICv3 ones.
        let mut gicv2_branch = false;
        for line in body.lines() {
            if line.starts_with("else # GICv2") {
                gicv2_branch = true;
            } else if line == "fi" {
                gicv2_branch = false;
            }
            if gicv2_branch {
                continue;
            }
            if let Some(c) = refused.captures(line) {
                for step in ["enable fails", "reason in dmesg", "reason on the hypervisor console", "Linux intact"] {
                    names.push(format!("{}: {step}", &c[1]));
                }
                continue;
            }
            let Some(c) = re.captures(line) else { continue };
            let name = &c[1];
            if name.contains("$1") {
                // Inside the definition of refuse.sh's `refused`.
                continue;
            }
            if name.contains("$i") {
                names.extend((1..=20).map(|i| name.replace("$i", &i.to_string())));
            } else {
                names.push(name.to_string());
            }
        }
        names
    }

    fn awaited(expect: &[Expect]) -> Vec<String> {
        expect
            .iter()
            .filter_map(|e| e.regex.strip_prefix(r"\[PASS\] "))
            .map(|r| r.trim_end_matches(r"\r?\n").to_string())
            // per_gic!: the GICv3 alternative.
            .map(|r| match r.strip_prefix("(?:").and_then(|n| n.split_once(')')) {
                Some((alts, rest)) => format!("{}{rest}", alts.split('|').next().unwrap_or_default()),
                None => r,
            })
            .collect()
    }

    fn summary_count(expect: &[Expect]) -> u32 {
        let last = expect.last().unwrap();
        assert_eq!(last.regex, SUMMARY);
        (0..500)
            .find(|n| (last.check.unwrap())(&["".into(), n.to_string()]).is_ok())
            .unwrap()
    }

    #[test]
    fn demo_takes_every_installed_path_from_variables() {
        // linux-demo sets C, I and KO to the packages' paths after lib.sh:
        // the script must name no other location of the build's files.
        assert!(LIB.contains("\nKO=") && DEMO.contains("insmod $KO"));
        for fixed in ["/etc/syshyper", "/lib/modules/syshyper.ko"] {
            assert!(!DEMO.contains(fixed), "demo.sh names {fixed}");
        }
    }

    #[test]
    fn installed_files_lists_regular_files_with_guest_paths() {
        let root = std::env::temp_dir().join(format!("xtask-installed-{}", std::process::id()));
        std::fs::create_dir_all(root.join("usr/sbin")).unwrap();
        std::fs::write(root.join("usr/sbin/syshyper"), "x").unwrap();
        std::os::unix::fs::symlink("syshyper", root.join("usr/sbin/jailhouse")).unwrap();
        let mut files = Vec::new();
        installed_files(&root, &root, &mut files).unwrap();
        assert_eq!(files, vec![(root.join("usr/sbin/syshyper"), "/usr/sbin/syshyper".to_string())]);
        std::fs::remove_dir_all(&root).unwrap();
    }

    #[test]
    fn refuse_names_the_gicv2_alternative_of_per_gic() {
        let v2 = Regex::new(r#"(?s)else # GICv2\n.*refused "wrong maintenance interrupt".*\nfi\n"#).unwrap();
        assert!(v2.is_match(REFUSE), "refuse.sh's GICv2 branch no longer matches per_gic!");
        // Its second row, the four checks the summary's GICv2 count adds.
        let gicc = Regex::new(r#"(?s)else # GICv2\n.*refused "wrong GICC base".*\nfi\n"#).unwrap();
        assert!(gicc.is_match(REFUSE), "refuse.sh's GICv2 branch lost the GICC row the summary counts");
    }

    #[test]
    fn tables_follow_the_scripts() {
        for (body, expect) in [
            (DEMO, DEMO_EXPECT),
            (CYCLES, CYCLES_EXPECT),
            (UNRESERVED, UNRESERVED_EXPECT),
            (ADOPT, ADOPT_EXPECT),
            (ISOLATION, ISOLATION_EXPECT),
            (REFUSE, REFUSE_EXPECT),
            (SMP16, SMP16_EXPECT),
            (LINUX_CELL, LINUX_CELL_EXPECT),
        ] {
            let names = check_names(body);
            assert_eq!(awaited(expect), names);
            assert_eq!(summary_count(expect) as usize, names.len());
        }
        assert_eq!(
            check_names(CYCLES)
                .iter()
                .filter(|n| n.starts_with("cycle "))
                .count(),
            20
        );
        assert_eq!(
            check_names(CYCLES)
                .iter()
                .filter(|n| n.starts_with("enable, disable, hotplug "))
                .count(),
            20
        );
    }

    #[test]
    fn pass_lines_match_only_their_own_step() {
        for e in DEMO_EXPECT
            .iter()
            .chain(CYCLES_EXPECT)
            .chain(UNRESERVED_EXPECT)
            .chain(ADOPT_EXPECT)
            .chain(ISOLATION_EXPECT)
            .chain(REFUSE_EXPECT)
            .chain(SMP16_EXPECT)
            .chain(LINUX_CELL_EXPECT)
        {
            let re = Regex::new(e.regex).unwrap();
            if let Some(name) = e.regex.strip_prefix(r"\[PASS\] ") {
                let name = name.trim_end_matches(r"\r?\n");
                // per_gic!: each alternative.
                let names: Vec<String> = match name.strip_prefix("(?:").and_then(|n| n.split_once(')')) {
                    Some((alts, rest)) => alts.split('|').map(|a| format!("{a}{rest}")).collect(),
                    None => vec![name.to_string()],
                };
                for name in names {
                    assert!(re.is_match(&format!("[PASS] {name}\r\n")), "{name}");
                    assert!(!re.is_match(&format!("[PASS] {name} again\r\n")), "{name}");
                    assert!(!re.is_match(&format!("[FAIL] {name}: x\r\n")), "{name}");
                }
            }
        }
        let timer = Regex::new(GIC_LINES[2].regex).unwrap();
        assert!(timer.is_match("Timer fired, jitter:   1234 ns, min:    -56 ns, max:  99999 ns"));
        assert!(passed_exactly(&["x".into(), "38".into()], 38).is_ok());
        assert!(passed_exactly(&["x".into(), "37".into()], 38).is_err());
    }

    #[test]
    fn scripts_are_valid_shell_and_define_their_helpers() {
        for body in [DEMO, CYCLES, UNRESERVED, ADOPT, ISOLATION, REFUSE, SMP16, LINUX_CELL] {
            let s = script(body);
            let out = std::process::Command::new("sh")
                .args(["-n", "-c", &s])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(s.find("check() {").unwrap() < s.find("check \"").unwrap());
            assert!(body.trim_end().ends_with("summary"));
        }
    }

    /// The helpers judge real output: run the workload checks on this host.
    #[test]
    fn helpers_detect_progress_and_failures() {
        let body = r#"
workload_start
check "host progresses" progresses
kill $WORK_PID
wait $WORK_PID 2>/dev/null
stalled() { ! progresses; }
check "stopped work is caught" stalled
fails_with "fails_with wants the text" "nope" sh -c 'echo nope; exit 1'
fails_with "fails_with catches success" "x" true
summary
"#;
        let (out, text) = run_lib_sh(body, "lib", CLEAN_LOG);
        assert!(text.contains("[PASS] host progresses\n"), "{text}");
        assert!(
            text.contains("[PASS] fails_with wants the text\n"),
            "{text}"
        );
        assert!(
            text.contains("[FAIL] fails_with catches success: succeeded"),
            "{text}"
        );
        assert!(
            text.contains("linux-test: 3 passed, 1 failed, kernel log: clean"),
            "{text}"
        );
        assert!(!out.status.success());
    }

    const CLEAN_LOG: &str = "[    0.000000] Booting Linux on physical CPU 0x0000000000 [0x411fd070]\n\
        [    5.100000] syshyper: hypervisor enabled on 4 CPUs\n";

    /// Runs `body` after the helpers on this host, with `dmesg` printing
    /// `kernel_log`; returns the status and stdout.
    fn run_lib_sh(body: &str, tag: &str, kernel_log: &str) -> (std::process::Output, String) {
        let dir = std::env::temp_dir().join(format!("xtask-lib-sh-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let log = dir.join("fake-dmesg");
        std::fs::write(&log, kernel_log).unwrap();
        let out = std::process::Command::new("sh")
            .args(["-c", &script(body)])
            .env("W", &dir)
            .env("DMESG", format!("cat {}", log.display()))
            .output()
            .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        (out, text)
    }

    /// Whatever the checks say, trouble in the kernel log fails the test,
    /// and the offending lines are shown.
    #[test]
    fn kernel_trouble_in_dmesg_fails_the_test() {
        let body = "check \"fine\" true\nsummary\n";
        let summary = Regex::new(SUMMARY).unwrap();
        let (out, text) = run_lib_sh(body, "clean", CLEAN_LOG);
        assert!(out.status.success(), "{text}");
        assert!(summary.is_match(&text), "{text}");
        for (tag, bad) in [
            ("irq", "[   61.2] GICv3: Unexpected interrupt (irqnr 15)"),
            ("warn", "[   61.2] WARNING: CPU: 1 PID: 77 at kernel/irq/chip.c:42 foo+0x10/0x20"),
            ("oops", "[   61.2] Internal error: Oops: 0000000096000004 [#1] SMP"),
            ("bug", "[   61.2] BUG: scheduling while atomic: sh/77/0x00000002"),
            ("rcu", "[   61.2] rcu: INFO: rcu_sched self-detected stall on CPU"),
            ("stall", "[   61.2] rcu: 1-....: (5250 ticks this GP) rcu_sched self-detected stall"),
            ("trace", "[   61.2] Call trace:"),
        ] {
            let (out, text) = run_lib_sh(body, tag, &format!("{CLEAN_LOG}{bad}\n[   62.0] more\n"));
            assert!(!out.status.success(), "{tag}: {text}");
            assert!(!summary.is_match(&text), "{tag}: {text}");
            assert!(text.contains(&format!("[FAIL] dmesg: {bad}\n")), "{tag}: {text}");
            assert!(text.contains("linux-test: 1 passed, 1 failed, kernel log: 1 problems"), "{tag}: {text}");
            let forbidden = LINUX_TROUBLE.iter().chain(crate::systests::ALWAYS_FORBIDDEN);
            assert!(forbidden.clone().any(|f| text.contains(f)), "{tag}: {text}");
        }
        // Reading nothing is no proof of a clean log.
        let (out, text) = run_lib_sh(body, "empty", "");
        assert!(!out.status.success(), "{text}");
        assert!(text.contains("[FAIL] dmesg: cannot read the kernel log"), "{text}");
    }
}

//! Boot-first mode with Linux: QEMU starts sysHyper at EL2, and sysHyper
//! starts Debian's kernel at EL1 as the root cell (arm64 boot protocol: x0 =
//! device tree), after creating and starting the cells of the boot bundle.
//!
//! QEMU takes `-append`/`-initrd` only with `-kernel`, which would boot Linux
//! itself, so xtask plays the boot loader: QEMU's own device tree gets a
//! `/chosen` node (command line, initramfs), and the kernel Image, that tree
//! and the initramfs are loaded as raw files (layout in bootfirst/layout.rs).
//! The device tree address goes to the image header's `root_boot_arg`, the
//! bundle's to `boot_bundle` (contracts.md "Extension header").

#[path = "bootfirst/cells.rs"]
pub mod cells;
#[path = "bootfirst/dtb.rs"]
pub mod dtb;
#[path = "bootfirst/layout.rs"]
pub mod layout;

use crate::harness::Ctx;
use crate::paths::Paths;
use crate::qemu::{self, BootFirst};
use crate::run_linux::RunArgs;
use crate::systests::{Boot, Expect, SysTest};
use crate::{guest, runner};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const MUSL_TARGET: &str = "aarch64-unknown-linux-musl";

/// The kernel command line. `mem=768M` keeps Linux out of the cells' and the
/// hypervisor's RAM (0x7000_0000 and up); at EL1 KVM has nothing to take,
/// `kvm-arm.mode=none` only keeps it from trying.
pub const BOOTARGS: &str = "console=ttyAMA0 mem=768M nokaslr kvm-arm.mode=none rdinit=/init";

/// The default guest script of `run --boot-first`.
pub const DEMO_SCRIPT: &str = include_str!("bootfirst/demo.sh");
const CHECKS: &str = include_str!("bootfirst/checks.sh");
const KERNEL_LOG: &str = include_str!("../../guest/tests/kernel_log.sh");
const TEST_BOOT: &str = include_str!("bootfirst/test-boot.sh");
const TEST_CELLS: &str = include_str!("bootfirst/test-cells.sh");
const TEST_CELL_TOOL: &str = include_str!("bootfirst/test-cell-tool.sh");

/// A boot-first Linux start.
#[derive(Debug, Clone)]
pub struct LinuxBoot {
    /// The hypervisor image (normally target/images/syshyper.bin).
    pub hv_image: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Cells the hypervisor creates and starts at boot (`--cell NAME`).
    pub cells: Vec<String>,
}

/// The full QEMU command line (machine included) for `boot`; scratch files go
/// to `workdir`.
pub fn qemu_args(p: &Paths, boot: &LinuxBoot, workdir: &Path) -> Result<Vec<String>> {
    std::fs::create_dir_all(workdir)
        .with_context(|| format!("cannot create {}", workdir.display()))?;
    let system_config = p.config_images().join(qemu::system_config_for_gic("qemu-virt.cell"));
    let config = std::fs::read(&system_config)
        .with_context(|| format!("cannot read {}", system_config.display()))?;
    let sys = crate::sysconfig::SystemInfo::parse(&config)?;
    let head = read_head(&boot.kernel, 64)?;
    let kernel =
        layout::KernelImage::parse(&head).with_context(|| boot.kernel.display().to_string())?;
    let initrd_len = file_len(&boot.initrd)?;
    // The device tree's size is known only once built; plan with the maximum.
    let plan = layout::plan(sys.cpu_reset_address, kernel, layout::DTB_MAX, initrd_len)?;
    let machine = qemu::machine_args();
    let chosen = dtb::Chosen {
        bootargs: BOOTARGS.to_string(),
        initrd_start: plan.initrd,
        initrd_end: plan.initrd_end,
    };
    let dtb = dtb::build(&machine, &chosen, workdir)?;
    layout::plan(sys.cpu_reset_address, kernel, file_len(&dtb)?, initrd_len)?;
    let bundle = cells::bundle_entries(&boot.cells, &p.config_images(), &p.inmate_images())?;
    let start = BootFirst {
        hv_image: boot.hv_image.clone(),
        system_config,
        root_program: Some(boot.kernel.clone()),
        root_addr: Some(plan.kernel),
        start_bundle_cells: !bundle.is_empty(),
        bundle,
        root_boot_arg: Some(plan.dtb),
        extra_loads: vec![(dtb, plan.dtb), (boot.initrd.clone(), plan.initrd)],
    };
    let mut args = machine;
    args.extend(start.qemu_args(workdir)?);
    Ok(args)
}

fn file_len(path: &Path) -> Result<u64> {
    Ok(std::fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len())
}

fn read_head(path: &Path, n: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .take(n)
        .read_to_end(&mut head)?;
    Ok(head)
}

/// Debian's kernel and an initramfs with the module, the tool, every config
/// and inmate, `extra` files and `script` as /init's script, built in `workdir`.
pub fn prepare_linux(
    p: &Paths,
    script: &str,
    extra: &[(PathBuf, String)],
    workdir: &Path,
) -> Result<(guest::Guest, PathBuf)> {
    println!("[boot-first] Debian guest, module and syshyper tool ({MUSL_TARGET})");
    let (g, _, mut files) = guest::standard_guest(p, workdir)?;
    files.extend(extra.iter().cloned());
    let initrd = guest::build_initramfs(&g, &files, script, &workdir.join("initramfs.cpio.gz"))?;
    Ok((g, initrd))
}

/// `cargo xtask run --boot-first [--cell NAME]...`.
pub fn run(p: &Paths, args: &RunArgs) -> Result<ExitCode> {
    let script = match &args.script {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("--script {}", file.display()))?
        }
        None if args.shell => guest::SHELL_SCRIPT.to_string(),
        None => DEMO_SCRIPT.to_string(),
    };
    let workdir = p.out.join("run/boot-first");
    let (g, initrd) = prepare_linux(p, &script, &args.with, &workdir)?;
    let boot = LinuxBoot {
        hv_image: p.images().join("syshyper.bin"),
        kernel: g.kernel_image,
        initrd,
        cells: args.cell.clone(),
    };
    let mut qemu_args = qemu_args(p, &boot, &workdir)?;
    crate::run_linux::size_machine(&mut qemu_args, args.smp, args.mem);
    if args.shell && args.script.is_none() {
        return crate::run_linux::run_qemu(p, &qemu_args, true);
    }
    let log = p.out.join("run/console.log");
    let opts = runner::Options {
        log: log.clone(),
        echo: true,
        stdin: false,
    };
    let mut q = runner::spawn(qemu::command(&qemu_args), &opts)?;
    println!("[run] {}\n[run] console log: {}", q.cmdline, log.display());
    let outcome = q.finish(None)?;
    match (outcome.status, guest::exit_status(&q.console())) {
        (Some(0), Some(status)) => {
            println!("[run] guest script exit status {status}");
            Ok(runner::exit_code(Some(status)))
        }
        (status, _) => {
            println!(
                "[run] the guest did not finish its script (QEMU exit status {status:?}); log {}",
                log.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

/// A test script: the shared helpers, the `parts` in order, then the summary
/// line (`bootfirst-test: N passed, M failed`; exit status 1 if M > 0).
fn test_script(parts: &[&str]) -> String {
    let mut s = format!("{KERNEL_LOG}\n{CHECKS}");
    for p in parts {
        s.push('\n');
        s.push_str(p);
    }
    s.push_str("\nsummary\n");
    s
}

fn systest_args(ctx: &Ctx, parts: &[&str], cells: &[&str]) -> Result<Vec<String>> {
    let (g, initrd) = prepare_linux(&ctx.paths, &test_script(parts), &[], &ctx.workdir)?;
    let boot = LinuxBoot {
        hv_image: ctx.paths.images().join("syshyper.bin"),
        kernel: g.kernel_image,
        initrd,
        cells: cells.iter().map(|c| c.to_string()).collect(),
    };
    qemu_args(&ctx.paths, &boot, &ctx.workdir)
}

fn args_boot(ctx: &Ctx) -> Result<Vec<String>> {
    systest_args(ctx, &[TEST_BOOT], &[])
}

fn args_cells(ctx: &Ctx) -> Result<Vec<String>> {
    systest_args(ctx, &[TEST_CELLS], &["gic-demo"])
}

fn args_cell_tool(ctx: &Ctx) -> Result<Vec<String>> {
    systest_args(ctx, &[TEST_CELLS, TEST_CELL_TOOL], &["gic-demo"])
}

fn some_passed(caps: &[String]) -> Result<(), String> {
    match caps.get(1).map(|n| n.parse::<u32>()) {
        Some(Ok(n)) if n > 0 => Ok(()),
        _ => Err(format!(
            "expected at least one passed check, got {:?}",
            caps.first()
        )),
    }
}

const fn expect(regex: &'static str) -> Expect {
    Expect { regex, check: None }
}

const SUMMARY: Expect = Expect {
    regex: r"bootfirst-test: (\d+) passed, 0 failed, kernel log: clean",
    check: Some(some_passed),
};
const EXITED: Expect = expect(r"syshyper-guest: exit status 0");
/// Signs of a broken kernel, whatever the test.
const LINUX_FORBIDDEN: &[&str] = crate::systests_linux::LINUX_TROUBLE;

/// Linux boots as the root cell with every root CPU, in its own RAM only.
pub const TEST_LINUX: SysTest = SysTest {
    name: "bootfirst-linux",
    boot: Boot::Custom(args_boot),
    bundle: &[],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"starting the root cell at 0x40200000"),
        expect(r"smp: Brought up 1 node, 4 CPUs"),
        expect(r"CPU: All CPU\(s\) started at EL1"),
        expect(guest::READY_MARKER),
        SUMMARY,
        EXITED,
    ],
    forbid: &[
        "Kernel panic",
        "Unable to handle kernel",
        "Internal error:",
        "Call trace:",
        "WARNING:",
        "Oops",
        "BUG:",
        "Unexpected interrupt",
        "self-detected stall",
        "rcu: INFO",
        "failed to boot",
    ],
    exit_status: 0,
    timeout_s: 60,
};

/// gic-demo, started by the hypervisor at boot, ticks before Linux reaches
/// user space (the first timer line precedes the kernel's "Run /init"; the
/// ready marker stands in for it should the inmate's output split that line).
pub const TEST_LINUX_CELLS: SysTest = SysTest {
    name: "bootfirst-linux-cells",
    boot: Boot::Custom(args_cells),
    bundle: &[],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r#"boot cell "gic-demo" started as cell \d+"#),
        expect(r"starting the root cell at 0x40200000"),
        expect(r"Timer fired, jitter"),
        expect(r"Run /init as init process|syshyper-guest: ready"),
        SUMMARY,
        EXITED,
    ],
    forbid: LINUX_FORBIDDEN,
    exit_status: 0,
    timeout_s: 60,
};

/// The root's tool destroys the boot cell and creates, loads and starts it
/// again, with no `enable` (needs the driver's boot-first support).
pub const TEST_LINUX_CELL_TOOL: SysTest = SysTest {
    name: "bootfirst-linux-cell-tool",
    boot: Boot::Custom(args_cell_tool),
    expect: &[
        expect(r#"boot cell "gic-demo" started as cell \d+"#),
        expect(r"Timer fired, jitter"),
        expect(r"Run /init as init process|syshyper-guest: ready"),
        expect(r"bootfirst-test: starting gic-demo again"),
        expect(r"Initializing the timer\.\.\."),
        expect(r"Timer fired, jitter"),
        SUMMARY,
        EXITED,
    ],
    ..TEST_LINUX_CELLS
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_scripts_define_their_helpers_first_and_end_with_the_summary() {
        let s = test_script(&[TEST_CELLS, TEST_CELL_TOOL]);
        assert!(s.find("check() {").unwrap() < s.find("check \"insmod\"").unwrap());
        assert!(s.find("cpus_online 0,2-3").unwrap() < s.find("check \"insmod\"").unwrap());
        assert!(s.trim_end().ends_with("summary"));
    }

    #[test]
    fn guest_scripts_are_valid_shell() {
        // `sh -n` parses without running: catches a broken edit of a script.
        for s in [
            test_script(&[TEST_BOOT]),
            test_script(&[TEST_CELLS, TEST_CELL_TOOL]),
            DEMO_SCRIPT.to_string(),
        ] {
            let out = std::process::Command::new("sh")
                .args(["-n", "-c", &s])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }

    #[test]
    fn the_summary_must_count_passes() {
        assert!(some_passed(&["x".into(), "5".into()]).is_ok());
        assert!(some_passed(&["x".into(), "0".into()]).is_err());
        assert!(some_passed(&["x".into()]).is_err());
        let re = regex::Regex::new(SUMMARY.regex).unwrap();
        assert!(re.is_match("bootfirst-test: 5 passed, 0 failed, kernel log: clean"));
        assert!(!re.is_match("bootfirst-test: 4 passed, 1 failed, kernel log: clean"));
        assert!(!re.is_match("bootfirst-test: 5 passed, 1 failed, kernel log: 2 problems"));
        for t in [&TEST_LINUX, &TEST_LINUX_CELLS, &TEST_LINUX_CELL_TOOL] {
            assert!(t.expect.iter().any(|e| e.regex == SUMMARY.regex), "{}", t.name);
        }
    }

    #[test]
    fn the_cell_test_wants_the_timer_before_user_space() {
        let at = |t: &SysTest, re: &str| t.expect.iter().position(|e| e.regex == re).unwrap();
        let t = &TEST_LINUX_CELLS;
        assert!(
            at(t, r"Timer fired, jitter")
                < at(t, r"Run /init as init process|syshyper-guest: ready")
        );
        for t in [&TEST_LINUX, &TEST_LINUX_CELLS, &TEST_LINUX_CELL_TOOL] {
            for e in t.expect {
                regex::Regex::new(e.regex).unwrap();
            }
            assert!(t.timeout_s <= 60);
        }
    }
}

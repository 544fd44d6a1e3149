//! `cargo xtask test`: host unit tests, then the QEMU system tests of
//! `systests::SYSTEM_TESTS`, each timed, with a `N passed, M failed` summary.

use crate::images;
use crate::paths::Paths;
use crate::qemu::{self, BootFirst};
use crate::regdump;
use crate::runner::{self, Options};
use crate::systests::{Boot, SysTest, ALWAYS_FORBIDDEN, SYSTEM_TESTS};
use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Lines of console shown after a failure; the full log is on disk.
const TAIL_LINES: usize = 200;

/// What a test gets to build its QEMU command line.
pub struct Ctx {
    pub paths: Paths,
    /// A scratch folder for this test (boot blob, bundle), under target/test-logs.
    pub workdir: PathBuf,
}

/// Host unit test runs: (name, cargo arguments).
const HOST_TESTS: &[(&str, &[&str])] = &[
    (
        "host:workspace",
        &[
            "test",
            "--workspace",
            "--exclude",
            "syshyper-hv",
            "--exclude",
            "syshyper-inmates",
        ],
    ),
    ("host:hv-lib", &["test", "-p", "syshyper-hv", "--lib"]),
    (
        "host:inmates",
        &["test", "-p", "syshyper-inmates", "--tests"],
    ),
    // The fuzz targets' properties (MMIO/ESR decoding, GIC access policy)
    // as a bounded randomized run on stable; `cargo fuzz` runs them longer.
    (
        "host:fuzz-props",
        &["test", "--release", "--manifest-path", "fuzz/Cargo.toml", "--test", "mmio_decode_random"],
    ),
];

#[derive(Clone, Copy)]
enum Case {
    Host(&'static str, &'static [&'static str]),
    /// The bounded cargo-fuzz run (see `fuzz_ci`).
    Fuzz,
    /// `config create` on real boards' device trees (`config_boards`);
    /// needs the guest cache like the Linux tests, so it runs with them.
    Boards,
    System(&'static SysTest),
    /// `cargo xtask bench --no-linux`: the bare-metal rows under -icount,
    /// which fail when the EL2 latency histogram's median disagrees with
    /// the cell's own interrupt latency (issue 18); after the system tests,
    /// which build the images it uses.
    BenchCore,
}

impl Case {
    fn name(&self) -> &'static str {
        match self {
            Case::Host(name, _) => name,
            Case::Fuzz => "host:cargo-fuzz",
            Case::Boards => "config-create-boards",
            Case::System(t) => t.name,
            Case::BenchCore => "bench-core",
        }
    }
}

/// The tests whose name contains `filter`; only the one named when the
/// filter is a test's whole name (`isolation` runs the bare-metal suite,
/// not linux-isolation as well).
fn cases(filter: Option<&str>, no_host: bool) -> Vec<Case> {
    exact_or_all(cases_on(crate::platform::chosen(), filter, no_host), filter)
}

fn exact_or_all(cases: Vec<Case>, filter: Option<&str>) -> Vec<Case> {
    match filter {
        Some(f) if cases.iter().any(|c| c.name() == f) => cases.into_iter().filter(|c| c.name() == f).collect(),
        _ => cases,
    }
}

/// The tests of `platform`: virt's full list (which has one ZCU102 test),
/// or only the other platform's system tests.
fn cases_on(platform: crate::platform::Platform, filter: Option<&str>, no_host: bool) -> Vec<Case> {
    if platform == crate::platform::Platform::Zcu102 {
        return crate::systests_zcu102::ZCU102_TESTS
            .iter()
            .map(Case::System)
            .filter(|c| filter.is_none_or(|f| c.name().contains(f)))
            .collect();
    }
    let host = HOST_TESTS
        .iter()
        .filter(|_| !no_host)
        .map(|(n, a)| Case::Host(n, a))
        .chain((!no_host).then_some(Case::Fuzz));
    host.chain(std::iter::once(Case::Boards))
        .chain(SYSTEM_TESTS.iter().map(Case::System))
        .chain(std::iter::once(Case::BenchCore))
        .filter(|c| filter.is_none_or(|f| c.name().contains(f)))
        .collect()
}

pub struct TestArgs<'a> {
    pub filter: Option<&'a str>,
    pub no_host: bool,
    pub list: bool,
    /// Echo each QEMU console live.
    pub verbose: bool,
}

/// Runs the selected tests; returns whether all passed.
pub fn run(p: &Paths, args: &TestArgs) -> Result<bool> {
    let selected = cases(args.filter, args.no_host);
    if args.list {
        for c in &selected {
            match c {
                Case::Host(name, a) => println!("{name:24} host: cargo {}", a.join(" ")),
                Case::Fuzz => println!("{:24} host: cargo +nightly fuzz run (bounded)", c.name()),
                Case::Boards => println!("{:24} host: config create on Debian's board dtbs", c.name()),
                Case::System(t) => println!("{:24} qemu: timeout {} s", t.name, t.timeout_s),
                Case::BenchCore => println!("{:24} qemu -icount: bench rows without Linux, EL2 histogram check", c.name()),
            }
        }
        return Ok(true);
    }
    if selected.is_empty() {
        bail!(
            "no test name contains {:?}; see `cargo xtask test --list`",
            args.filter.unwrap_or("")
        );
    }
    let mut built: Option<Result<(), String>> = None;
    let mut results: Vec<(&str, bool, Duration)> = Vec::new();
    for case in &selected {
        if let (Case::System(_) | Case::BenchCore, None) = (case, &built) {
            built = Some(images::build_all(p).map_err(|e| format!("{e:#}")));
        }
        println!("\n==== test {} ====", case.name());
        let start = Instant::now();
        let result = match case {
            Case::Host(_, cargo_args) => {
                crate::cmd::run_shown(p.cargo().args(*cargo_args)).map_err(|e| format!("{e:#}"))
            }
            Case::Fuzz => crate::fuzz_ci::run(p).map_err(|e| format!("{e:#}")),
            Case::Boards => crate::config_boards::run(p).map_err(|e| format!("{e:#}")),
            Case::System(t) => match &built {
                Some(Err(e)) => Err(format!("build failed: {e}")),
                _ => run_system(p, t, args.verbose),
            },
            Case::BenchCore => match &built {
                Some(Err(e)) => Err(format!("build failed: {e}")),
                _ => crate::cmd::run(p.cargo().args([
                    "xtask", "bench", "--no-linux", "--no-readme", "--no-build",
                    "--gic", &qemu::gic().to_string(),
                ]))
                .map_err(|e| format!("{e:#}")),
            },
        };
        let took = start.elapsed();
        match &result {
            Ok(()) => println!(
                "==== test {} ... ok ({:.1} s)",
                case.name(),
                took.as_secs_f64()
            ),
            Err(e) => println!(
                "==== test {} ... FAILED ({:.1} s): {e}",
                case.name(),
                took.as_secs_f64()
            ),
        }
        results.push((case.name(), result.is_ok(), took));
    }
    let failed: Vec<_> = results.iter().filter(|r| !r.1).map(|r| r.0).collect();
    println!();
    if !failed.is_empty() {
        println!("failed: {}", failed.join(", "));
    }
    println!(
        "{} passed, {} failed",
        results.len() - failed.len(),
        failed.len()
    );
    Ok(failed.is_empty())
}

fn qemu_args(ctx: &Ctx, t: &SysTest) -> Result<Vec<String>> {
    let images = ctx.paths.images();
    match t.boot {
        Boot::First { root, config } => {
            let boot = BootFirst {
                hv_image: images.join("syshyper.bin"),
                system_config: images.join(qemu::system_config_for_gic(config)),
                root_program: Some(images.join(root)),
                bundle: t
                    .bundle
                    .iter()
                    .map(|f| (f.name.to_string(), images.join(f.path)))
                    .collect(),
                start_bundle_cells: t.start_bundle_cells,
                ..BootFirst::default()
            };
            // A test written for the GICv2 machine's configuration runs
            // on it whatever `--gic` says.
            let mut args = if config.ends_with(qemu::GICV2_SYSTEM_CONFIG) {
                qemu::machine_args_for(2)
            } else {
                qemu::machine_args()
            };
            if config.ends_with(qemu::SMMU_SYSTEM_CONFIG) {
                qemu::with_smmu(&mut args);
            }
            args.extend(boot.qemu_args(&ctx.workdir)?);
            Ok(args)
        }
        Boot::Custom(f) | Boot::Backports(f) => f(ctx),
    }
}

fn run_system(p: &Paths, t: &SysTest, verbose: bool) -> Result<(), String> {
    let ctx = Ctx {
        paths: p.clone(),
        workdir: p.test_logs().join(t.name),
    };
    let log = p.test_logs().join(format!("{}.log", t.name));
    let mut args = qemu_args(&ctx, t).map_err(|e| format!("{e:#}"))?;
    // Every run can be asked where its CPUs are (regdump.rs).
    let qmp = regdump::socket_path(t.name);
    let _ = std::fs::remove_file(&qmp);
    args.extend(regdump::monitor_args(&qmp));
    let opts = Options {
        log: log.clone(),
        echo: verbose,
        stdin: t.interact.is_some(),
    };
    let cmd = match t.boot {
        Boot::Backports(_) => {
            let bin = crate::qemu_bpo::ensure(p).map_err(|e| format!("{e:#}"))?;
            args.extend(crate::qemu_bpo::EXTRA_ARGS.iter().map(|s| s.to_string()));
            qemu::command_with(&bin, &args)
        }
        _ => qemu::command(&args),
    };
    let mut q = runner::spawn(cmd, &opts).map_err(|e| format!("{e:#}"))?;
    println!("[test] {} (log {})", q.cmdline, log.display());
    let result = judge(&mut q, t);
    if let Err(e) = result {
        // A hang: before QEMU goes, record where every vCPU is.
        let dump = (runner::is_timeout(&e) && q.is_running())
            .then(|| regdump::report(&qmp, &p.images().join("syshyper.elf"), &args));
        // Stop QEMU first so the console shown is final.
        let _ = q.finish(Some(Instant::now()));
        let _ = std::fs::remove_file(&qmp);
        let console = q.console();
        runner::print_failure_console(&console, &log, TAIL_LINES);
        let mut msg = format!("{e:#}");
        if let Some(dump) = dump {
            print!("{dump}");
            if let Err(err) = q.append_to_log(&format!("\n{dump}")) {
                println!("(register dump not logged: {err:#})");
            }
            msg.push_str("; vCPU registers dumped above and in the log");
        }
        // A failed check or a panic usually explains a missing line: name it.
        if let Some(line) = forbidden_line(&console, t).filter(|_| !msg.contains("forbidden")) {
            msg.push_str(&format!("; console has: {}", line.trim()));
        }
        return Err(msg);
    }
    let _ = std::fs::remove_file(&qmp);
    Ok(())
}

fn forbidden_line<'a>(console: &'a str, t: &SysTest) -> Option<&'a str> {
    let bad: Vec<&str> = ALWAYS_FORBIDDEN.iter().chain(t.forbid).copied().collect();
    console.lines().find(|l| bad.iter().any(|b| l.contains(b)))
}

fn judge(q: &mut runner::Running, t: &SysTest) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(t.timeout_s);
    if let Some(interact) = t.interact {
        interact(q, deadline)?;
    }
    let gicv2 = crate::qemu::gic() == 2;
    for e in t.expect.iter().filter(|e| !(gicv2 && crate::systests_passthru::ITS_ONLY.contains(&e.regex))) {
        let re = Regex::new(e.regex).with_context(|| format!("bad regex {:?}", e.regex))?;
        let caps = q.wait_for(&re, deadline)?;
        if let Some(check) = e.check {
            check(&caps).map_err(|msg| anyhow!("{:?}: {msg}", caps.first()))?;
        }
    }
    // Not `finish`: a QEMU still running at the deadline must stay alive
    // for the caller's register dump.
    if !q.wait_exit(Some(deadline)) {
        return Err(runner::TimedOut(format!("QEMU still running after {} s", t.timeout_s)).into());
    }
    let outcome = q.finish(None)?;
    if let Some(line) = forbidden_line(&q.console(), t) {
        bail!("forbidden text in console: {}", line.trim());
    }
    if outcome.status != Some(t.exit_status) {
        bail!(
            "QEMU exit status {:?}, expected {}",
            outcome.status,
            t.exit_status
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Judges what `sh -c script` prints against the boot-first-root table entry.
    fn judge_shell(script: &str) -> Result<()> {
        let t = SYSTEM_TESTS
            .iter()
            .find(|t| t.name == "boot-first-root")
            .unwrap();
        let t = SysTest { timeout_s: 5, ..*t };
        let log = std::env::temp_dir().join(format!(
            "xtask-judge-{}-{}.log",
            std::process::id(),
            script.len()
        ));
        let mut cmd = std::process::Command::new("sh");
        cmd.args(["-c", script]);
        let mut q = runner::spawn(
            cmd,
            &Options {
                log,
                echo: false,
                stdin: false,
            },
        )?;
        judge(&mut q, &t)
    }

    #[test]
    fn a_whole_test_name_selects_only_that_test() {
        let names = |f| {
            exact_or_all(cases_on(crate::platform::Platform::Virt, Some(f), true), Some(f))
                .iter()
                .map(|c| c.name().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(names("isolation"), ["isolation"]);
        assert!(names("isolat").contains(&"linux-isolation".to_string()));
        assert!(names("root-smmu").len() == 1 && names("root-sm").len() > 1);
    }

    #[test]
    fn boot_first_root_judgement() {
        judge_shell("echo '[PASS] a'; echo 'root-test: 4 passed, 0 failed'").unwrap();
        let err = |s| format!("{:#}", judge_shell(s).unwrap_err());
        assert!(
            err("echo '[FAIL] a: x'; echo 'root-test: 4 passed, 0 failed'").contains("forbidden")
        );
        assert!(err("echo 'PANIC on CPU 0'; exit 3").contains("output ended"));
        assert!(err("echo 'root-test: 0 passed, 0 failed'").contains("at least one passed"));
        assert!(err("echo 'root-test: 2 passed, 1 failed'; exit 1").contains("output ended"));
        assert!(err("echo 'root-test: 2 passed, 0 failed'; exit 1").contains("exit status"));
    }

    #[test]
    fn filter_selects_by_substring_and_no_host_drops_host_runs() {
        let names = |f, nh| cases(f, nh).iter().map(Case::name).collect::<Vec<_>>();
        assert_eq!(names(Some("boot-first"), false), vec!["boot-first-root"]);
        assert!(names(None, true).iter().all(|n| !n.starts_with("host:")));
        assert_eq!(names(Some("host:"), false).len(), HOST_TESTS.len() + 1, "host runs and the fuzz run");
        assert!(names(Some("no such test"), false).is_empty());
        assert!(names(None, true).contains(&"zcu102-linux"), "one ZCU102 test in CI");
        let zcu = |f| cases_on(crate::platform::Platform::Zcu102, f, false).iter().map(Case::name).collect::<Vec<_>>();
        assert_eq!(zcu(None), vec!["zcu102-linux"]);
        assert_eq!(zcu(Some("linux")), vec!["zcu102-linux"]);
        assert!(zcu(Some("boot-first")).is_empty());
    }
}

//! The two QEMU runs: bench-inmate natively (no EL2) and under sysHyper
//! (boot-first, root program + bench cell), both with `-icount shift=4`.

use super::artifacts::{Artifacts, HIGH_BASE};
use super::parse::{self, RunOutput};
use anyhow::{bail, Result};
use regex::Regex;
use std::time::{Duration, Instant};
use xtask::qemu::{self, BootFirst};
use xtask::runner::{self, Options};

/// One counter tick = one instruction, and no real time leaks in
/// (platform.md "Deterministic measurement").
pub fn icount_args() -> Vec<String> {
    let mut args: Vec<String> = ["-icount", "shift=4,sleep=off", "-rtc", "clock=vm"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    // Profiling aid (see README, Benchmarks): extra QEMU arguments, e.g. an
    // instruction trace of EL2, for one run of the bench.
    if let Ok(extra) = std::env::var("SYSHYPER_BENCH_QEMU_ARGS") {
        args.extend(extra.split_whitespace().map(str::to_string));
    }
    args
}

/// The sysHyper machine without virtualization: QEMU starts CPU 0 at EL1
/// and its PSCI firmware answers `hvc`.
pub fn native_machine_args() -> Vec<String> {
    qemu::machine_args()
        .into_iter()
        .map(|a| a.replace(",virtualization=on", ""))
        .collect()
}

/// The bare-metal runs take seconds; this bounds a hang.
const TIMEOUT: Duration = Duration::from_secs(120);
/// Console text that ends a run early as failed: a panic, or a cell CPU
/// the hypervisor parked after an access it could not handle.
const FATAL: &str = r"PANIC|CPU \d+ of cell \d+ parked[^\n]*";

/// How long a run may take and what else on its console means failure
/// (a regex, or "").
pub struct Limits {
    pub timeout: Duration,
    pub fatal: &'static str,
}

const BARE: Limits = Limits {
    timeout: TIMEOUT,
    fatal: "",
};

pub fn run(
    name: &str,
    args: Vec<String>,
    done: &str,
    log: std::path::PathBuf,
    limits: &Limits,
) -> Result<RunOutput> {
    let opts = Options {
        log: log.clone(),
        echo: false,
        stdin: false,
    };
    let mut q = runner::spawn(qemu::command(&args), &opts)?;
    println!("[bench] {name}: {}", q.cmdline);
    // A profiling run (instruction trace) is many times slower.
    let slower = if std::env::var_os("SYSHYPER_BENCH_QEMU_ARGS").is_some() { 20 } else { 1 };
    let deadline = Instant::now() + limits.timeout * slower;
    let extra = match limits.fatal {
        "" => String::new(),
        f => format!("|{f}"),
    };
    let re = Regex::new(&format!("{}|{FATAL}{extra}", regex::escape(done)))?;
    let waited = q
        .wait_for(&re, deadline)
        .and_then(|caps| match caps.first() {
            Some(m) if m != done => bail!("fatal console line: {m}"),
            _ => Ok(()),
        });
    let outcome = q.finish(Some(Instant::now() + Duration::from_secs(30)))?;
    let console = q.console();
    if let Err(e) = waited {
        runner::print_failure_console(&console, &log, 60);
        bail!("{name} run: {e:#}");
    }
    println!(
        "[bench] {name}: done in {:.1} s, QEMU status {:?} (log {})",
        outcome.elapsed.as_secs_f64(),
        outcome.status,
        log.display()
    );
    let out = parse::parse(&console);
    if console.contains("PANIC") {
        runner::print_failure_console(&console, &log, 60);
        bail!("{name} run: a panic is in the console");
    }
    Ok(out)
}

pub fn native(a: &Artifacts) -> Result<RunOutput> {
    let mut args = native_machine_args();
    args.extend(icount_args());
    args.extend([
        "-device".to_string(),
        format!(
            "loader,file={},addr={HIGH_BASE:#x},force-raw=on",
            a.high_bin.display()
        ),
        "-device".to_string(),
        format!("loader,addr={HIGH_BASE:#x},cpu-num=0"),
    ]);
    run(
        "native",
        args,
        "BENCH-DONE measure",
        a.dir.join("native.log"),
        &BARE,
    )
}

pub fn syshyper(a: &Artifacts) -> Result<RunOutput> {
    syshyper_with(a, "bench-cell", "syshyper", &[])
}

/// The same run with the bench cell in direct interrupt delivery
/// (configs/bench-cell-direct.toml under the name the root loads).
pub fn syshyper_direct(a: &Artifacts) -> Result<RunOutput> {
    syshyper_with(a, "bench-cell-direct", "syshyper-direct", &[])
}

/// The sysHyper run with cell config `cell` and `extra` QEMU arguments,
/// logged as `<name>.log`.
pub fn syshyper_with(a: &Artifacts, cell: &str, name: &str, extra: &[String]) -> Result<RunOutput> {
    let mut bundle = vec![
        ("bench-cell.cell".to_string(), a.config(cell)),
        ("bench-inmate.bin".to_string(), a.cell_bin.clone()),
        ("ivshmem-demo.cell".to_string(), a.config("ivshmem-demo")),
        ("ivshmem-demo.bin".to_string(), a.ivshmem_bin.clone()),
    ];
    for m in ["64k", "16m", "128m", "512m"] {
        let name = format!("bench-mem-{m}");
        bundle.push((format!("{name}.cell"), a.config(&name)));
    }
    let boot = BootFirst {
        hv_image: a.hv_image.clone(),
        system_config: a.config(qemu::system_config_for_gic("qemu-virt.cell").trim_end_matches(".cell")),
        root_program: Some(a.high_bin.clone()),
        bundle,
        ..BootFirst::default()
    };
    let mut args = qemu::machine_args();
    args.extend(icount_args());
    args.extend(extra.iter().cloned());
    args.extend(boot.qemu_args(&a.dir.join(format!("{name}-run")))?);
    run(
        name,
        args,
        "BENCH-DONE root",
        a.dir.join(format!("{name}.log")),
        &BARE,
    )
}

/// The SMMU run: bench-inmate as the root of configs/qemu-virt-smmu.toml
/// on the machine with QEMU's SMMUv3 and two edu devices
/// (bench-inmate/smmu.rs).
pub fn smmu(a: &Artifacts) -> Result<RunOutput> {
    let boot = BootFirst {
        hv_image: a.hv_image.clone(),
        system_config: a.config("qemu-virt-smmu"),
        root_program: Some(a.high_bin.clone()),
        bundle: vec![
            ("smmu-cell.cell".to_string(), a.config("smmu-cell")),
            ("uart-demo.cell".to_string(), a.config("uart-demo")),
        ],
        ..BootFirst::default()
    };
    let mut args = qemu::machine_args();
    qemu::with_smmu(&mut args);
    args.extend(icount_args());
    args.extend(boot.qemu_args(&a.dir.join("smmu-run"))?);
    run("smmu", args, "BENCH-DONE root", a.dir.join("smmu.log"), &BARE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_machine_drops_only_virtualization() {
        let args = native_machine_args();
        assert!(args.contains(&"virt,gic-version=3,its=off".to_string()));
        assert!(!args.iter().any(|a| a.contains("virtualization")));
        assert_eq!(args.len(), qemu::machine_args().len());
        assert!(icount_args().contains(&"shift=4,sleep=off".to_string()));
    }
}

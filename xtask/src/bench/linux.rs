//! Item 5, root overhead: Debian's kernel boots under QEMU with the same
//! `-icount shift=4` as the other runs, and guest/bench/root-workload.sh
//! runs a static workload program (guest/bench/root-workload.rs) on CPU 1,
//! the other CPUs offline, on bare Linux and after `jailhouse enable` put
//! sysHyper underneath, alternating a few times (`jailhouse disable` in
//! between). The program prints its own counter ticks (instructions) as
//! `BENCH without<cycle>_<part>` and `BENCH with<cycle>_<part>`; `collect`
//! merges the cycles into `without_<part>` and `with_<part>`.

use super::artifacts::Artifacts;
use super::parse::RunOutput;
use super::runs::{self, Limits};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use xtask::paths::Paths;
use xtask::{cmd, guest};

const MUSL_TARGET: &str = "aarch64-unknown-linux-musl";
const WORKLOAD_SRC: &str = "guest/bench/root-workload.rs";
const SCRIPT: &str = "guest/bench/root-workload.sh";
/// Where the script expects the program.
const WORKLOAD_DEST: &str = "/usr/bin/root-workload";
const DONE: &str = "BENCH-DONE linux";
/// A boot and the alternating workload phases: seconds; this bounds a hang.
const LIMITS: Limits = Limits {
    timeout: Duration::from_secs(600),
    // The script stopped (set -e) without its done line, or the kernel died.
    fatal: r"syshyper-guest: exit status \d+|Kernel panic[^\n]*",
};

/// The workload is one file without crates: plain rustc, no Cargo package.
fn rustc_args(src: &Path, out: &Path) -> Vec<String> {
    [
        "--edition",
        "2021",
        "--crate-type",
        "bin",
        "--target",
        MUSL_TARGET,
        "-C",
        "opt-level=2",
        "-C",
        "linker=rust-lld",
        "-C",
        "target-feature=+crt-static",
        "-C",
        "strip=symbols",
        "-o",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([out.display().to_string(), src.display().to_string()])
    .collect()
}

/// A one-file guest program (`src`, relative to the repository) as a
/// static musl binary at `out`.
pub(super) fn build_musl_program(p: &Paths, src: &str, out: &Path) -> Result<PathBuf> {
    // RUSTC if a wrapper set one; otherwise rustup's proxy picks the toolchain.
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    cmd::run(Command::new(rustc).args(rustc_args(&p.root.join(src), out)))?;
    Ok(out.to_path_buf())
}

fn build_workload(p: &Paths, dir: &Path) -> Result<PathBuf> {
    build_musl_program(p, WORKLOAD_SRC, &dir.join("root-workload"))
}

/// Merges every cycle's series into one per side and part
/// (`without3_total` into `without_total`); errors are kept.
pub fn collect(run: RunOutput) -> RunOutput {
    let mut out = RunOutput {
        errors: run.errors,
        ..RunOutput::default()
    };
    for (name, sample) in &run.samples {
        let Some((label, part)) = name.split_once('_') else {
            continue;
        };
        let side = label.trim_end_matches(|c: char| c.is_ascii_digit());
        if !matches!(side, "without" | "with") || side == label {
            continue;
        }
        let key = format!("{side}_{part}");
        let merged = match out.samples.get(&key) {
            Some(prev) => prev.merge(sample),
            None => Some(*sample),
        };
        match merged {
            Some(m) => {
                out.samples.insert(key, m);
            }
            None => out.errors.push(format!("{name}: not a series")),
        }
    }
    out
}

/// Builds the guest (kernel module, musl tool, workload, initramfs) and
/// runs it; the samples are the workload's `BENCH` lines.
pub fn run(p: &Paths, a: &Artifacts) -> Result<RunOutput> {
    let dir = a.dir.join("linux");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let workload = build_workload(p, &dir)?;
    let g = guest::prepare_guest(&p.out.join("guest-cache"))?;
    let ko = guest::build_module(&g, &p.root.join("driver"), &dir.join("driver"))?;
    let tool = xtask::images::build_musl_tool(p)?;
    // The bench's own configs (qemu-virt.cell among them); no inmate is
    // needed, and a small initramfs keeps the boot short.
    let mut files = guest::standard_files(
        &ko,
        &tool,
        &a.hv_image,
        &a.dir.join("configs"),
        &dir.join("no-inmates"),
    )?;
    files.push((workload, WORKLOAD_DEST.to_string()));
    // The Linux cell the last phase boots (row linux_cell_start_to_init).
    files.extend(guest::linux_cell_files(&g, &ko, &dir)?);
    let script_path = p.root.join(SCRIPT);
    let script = std::fs::read_to_string(&script_path)
        .with_context(|| format!("cannot read {}", script_path.display()))?;
    let initrd = guest::build_initramfs(&g, &files, &script, &dir.join("initramfs.cpio.gz"))?;
    let mut args = guest::linux_qemu_args(&g, &initrd, "");
    args.extend(runs::icount_args());
    let run = runs::run("linux", args, DONE, a.dir.join("linux.log"), &LIMITS)?;
    Ok(collect(run))
}

#[cfg(test)]
mod tests {
    use super::super::parse::{parse, Sample};
    use super::*;

    #[test]
    fn workload_is_a_static_optimised_musl_binary() {
        let args = rustc_args(Path::new("/s.rs"), Path::new("/o"));
        let joined = args.join(" ");
        assert!(joined.contains("--target aarch64-unknown-linux-musl"));
        assert!(joined.contains("target-feature=+crt-static"));
        assert!(joined.contains("opt-level=2"));
        assert!(joined.ends_with("-o /o /s.rs"));
    }

    #[test]
    fn script_alternates_without_and_with_the_hypervisor() {
        let script = include_str!("../../../guest/bench/root-workload.sh");
        let at = |s: &str| script.find(s).unwrap_or_else(|| panic!("no {s:?}"));
        let (without, enable) = (at("$W without$i"), at("jailhouse enable $C"));
        let (with, disable) = (at("$W with$i"), at("jailhouse disable"));
        assert!(without < enable && enable < with && with < disable && disable < at(DONE));
        // The other CPUs are offline while the workload runs, online for
        // enable and disable.
        let (off, on) = (at("others 0\n"), at("others 1\n"));
        assert!(off < without && without < on && on < enable);
        assert!(script.contains("/sys/devices/system/cpu/cpu$c/online"));
        assert!(script.contains("C=/etc/syshyper/configs/${SYS_CONFIG:-qemu-virt.cell}"));
        assert!(script.contains(&format!("W={WORKLOAD_DEST}")));
    }

    #[test]
    fn cycles_merge_into_one_series_per_side() {
        let run = parse(
            "BENCH without1_total n=3 min=24 max=25 sum=73\n\
             BENCH with1_total n=3 min=23 max=24 sum=70\n\
             BENCH without2_total n=3 min=22 max=23 sum=68\n\
             BENCH with2_memory n=1 min=5 max=5 sum=5\n\
             BENCH with2_odd value=1\nBENCH withx_total n=1 min=1 max=1 sum=1\n\
             BENCH other_total n=1 min=1 max=1 sum=1\nBENCH irq n=1 min=1 max=1 sum=1\n",
        );
        let out = collect(run);
        let series = |n, min, max, sum| Sample::Series { n, min, max, sum };
        assert_eq!(out.get("without_total"), Some(&series(6, 22, 25, 141)));
        assert_eq!(out.get("with_total"), Some(&series(3, 23, 24, 70)));
        assert_eq!(out.get("with_memory"), Some(&series(1, 5, 5, 5)));
        assert_eq!(out.samples.len(), 4);
        assert!(out.errors.is_empty());
        // A value cannot merge with a later series of the same part.
        let bad = collect(parse(
            "BENCH with1_x value=1\nBENCH with2_x n=1 min=1 max=1 sum=1\n",
        ));
        assert_eq!(bad.errors.len(), 1);
    }
}

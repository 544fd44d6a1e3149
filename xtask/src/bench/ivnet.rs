//! ivshmem-net between the root Linux and a Linux cell
//! (docs/ivshmem-net.md): guest/bench/ivnet.sh boots the cell of
//! configs/linux-cell.toml and runs guest/bench/ivnet-bench.rs's client in
//! the root against its server in the cell (started by
//! guest/linux-cell/cell-net.sh): UDP round trips and 16 MiB over TCP, in
//! counter ticks under the same `-icount shift=4` as the other runs. Two
//! real kernels run, so the figures move a little from run to run.

use super::artifacts::Artifacts;
use super::linux::build_musl_program;
use super::parse::RunOutput;
use super::runs::{self, Limits};
use anyhow::{Context, Result};
use std::time::Duration;
use xtask::paths::Paths;
use xtask::guest;

const BENCH_SRC: &str = "guest/bench/ivnet-bench.rs";
const BENCH_DEST: &str = "/usr/bin/ivnet-bench";
const SCRIPT: &str = "guest/bench/ivnet.sh";
const DONE: &str = "BENCH-DONE ivnet";
const LIMITS: Limits = Limits {
    timeout: Duration::from_secs(900),
    fatal: r"syshyper-guest: exit status \d+|Kernel panic[^\n]*|BENCH-ERROR[^\n]*",
};

/// Builds the root's and the cell's initramfs (both with ivnet-bench) and
/// runs the script; the samples are the client's `BENCH` lines.
pub fn run(p: &Paths, a: &Artifacts) -> Result<RunOutput> {
    let dir = a.dir.join("ivnet");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let bench = build_musl_program(p, BENCH_SRC, &dir.join("ivnet-bench"))?;
    let g = guest::prepare_guest(&p.out.join("guest-cache"))?;
    let ko = guest::build_module(&g, &p.root.join("driver"), &dir.join("driver"))?;
    let tool = xtask::images::build_musl_tool(p)?;
    let mut files = guest::standard_files(
        &ko,
        &tool,
        &a.hv_image,
        &a.dir.join("configs"),
        &dir.join("no-inmates"),
    )?;
    let in_guest = (bench.clone(), BENCH_DEST.to_string());
    files.extend(guest::linux_cell_files_with(&g, &ko, std::slice::from_ref(&in_guest), &dir)?);
    files.push(in_guest);
    let script_path = p.root.join(SCRIPT);
    let script = std::fs::read_to_string(&script_path)
        .with_context(|| format!("cannot read {}", script_path.display()))?;
    let initrd = guest::build_initramfs(&g, &files, &script, &dir.join("initramfs.cpio.gz"))?;
    let mut args = guest::linux_qemu_args(&g, &initrd, "");
    args.extend(runs::icount_args());
    runs::run("ivnet", args, DONE, a.dir.join("ivnet.log"), &LIMITS)
}

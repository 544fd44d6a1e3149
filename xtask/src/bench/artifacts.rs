//! What the benchmark runs need besides `cargo xtask build`: bench-inmate
//! linked twice (at 0 for the cell, in RAM for the root and native runs)
//! and the bench configs, all under target/bench.

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use xtask::paths::{Paths, BARE_TARGET};
use xtask::{cmd, images};

pub const INMATE: &str = "bench-inmate";
/// The cell the root pings over ivshmem (linked at 0 like every cell).
pub const IVSHMEM_INMATE: &str = "ivshmem-demo";
/// Where the root and native copies are linked: the root cell's
/// cpu_reset_address, above QEMU's device tree at 0x4000_0000.
pub const HIGH_BASE: u64 = 0x4020_0000;

/// Configs the runs use (configs/<name>.toml).
pub const CONFIGS: &[&str] = &[
    "qemu-virt",
    "qemu-virt-gicv2",
    "bench-cell",
    "bench-cell-direct",
    "bench-mem-64k",
    "bench-mem-16m",
    "bench-mem-128m",
    "bench-mem-512m",
    "ivshmem-demo",
    "linux-cell",
    "qemu-virt-smmu",
    "smmu-cell",
    "uart-demo",
];

#[derive(Debug, Clone)]
pub struct Artifacts {
    pub dir: PathBuf,
    pub hv_image: PathBuf,
    /// bench-inmate linked at 0 (cell).
    pub cell_bin: PathBuf,
    /// bench-inmate linked at HIGH_BASE (root and native).
    pub high_bin: PathBuf,
    /// ivshmem-demo (cell).
    pub ivshmem_bin: PathBuf,
}

impl Artifacts {
    pub fn new(p: &Paths) -> Self {
        let dir = p.out.join("bench");
        Artifacts {
            hv_image: p.images().join("syshyper.bin"),
            cell_bin: dir.join("bin/bench-inmate-cell.bin"),
            high_bin: dir.join("bin/bench-inmate-high.bin"),
            ivshmem_bin: dir.join("bin/ivshmem-demo.bin"),
            dir,
        }
    }

    pub fn config(&self, name: &str) -> PathBuf {
        self.dir.join("configs").join(format!("{name}.cell"))
    }
}

/// Builds only the inmates the runs use (not every inmate: one unfinished
/// program of someone else must not stop the benchmarks): bench-inmate at
/// both link addresses, ivshmem-demo.
fn build_inmate(
    p: &Paths,
    name: &str,
    target_dir: &Path,
    base: Option<u64>,
    out: &Path,
) -> Result<()> {
    let mut c = p.cargo();
    c.env("CARGO_TARGET_DIR", target_dir).args([
        "build",
        "--release",
        "-p",
        "syshyper-inmates",
        "--bin",
        name,
        "--target",
        BARE_TARGET,
    ]);
    match base {
        Some(b) => c.env("INMATE_BASE", format!("{b:#x}")),
        None => c.env_remove("INMATE_BASE"),
    };
    cmd::run(&mut c)?;
    let elf = target_dir.join(BARE_TARGET).join("release").join(name);
    cmd::run(
        Command::new("llvm-objcopy")
            .args(["-O", "binary"])
            .arg(&elf)
            .arg(out),
    )
}

pub fn build(p: &Paths, a: &Artifacts) -> Result<()> {
    for sub in ["bin", "configs"] {
        let d = a.dir.join(sub);
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
    }
    build_inmate(p, INMATE, &p.cargo_target, None, &a.cell_bin)?;
    build_inmate(p, IVSHMEM_INMATE, &p.cargo_target, None, &a.ivshmem_bin)?;
    // A separate target dir: the link address is a build-script input, and
    // sharing one dir would relink the other copy on every run.
    build_inmate(
        p,
        INMATE,
        &p.cargo_target.join("bench-high"),
        Some(HIGH_BASE),
        &a.high_bin,
    )?;
    cmd::run(p.cargo().args([
        "build",
        "--release",
        "-p",
        "syshyper-tools",
        "--bin",
        "syshyper",
    ]))?;
    for name in CONFIGS {
        let src = p.root.join("configs").join(format!("{name}.toml"));
        cmd::run(
            Command::new(images::host_tool(p))
                .args(["config", "compile"])
                .arg(&src)
                .arg("-o")
                .arg(a.config(name)),
        )
        .with_context(|| format!("compiling {}", src.display()))?;
    }
    if !a.hv_image.is_file() {
        anyhow::bail!(
            "{} is missing: run `cargo xtask build` (or bench without --no-build)",
            a.hv_image.display()
        );
    }
    Ok(())
}

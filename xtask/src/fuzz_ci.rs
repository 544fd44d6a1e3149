//! The bounded `cargo fuzz` run of `cargo xtask test` (host step
//! `host:cargo-fuzz`): both fuzz targets, seeded with the shipped configs,
//! for a fixed time each. cargo-fuzz needs a nightly toolchain; where none
//! is installed the step says so and passes, since the same properties ran
//! on stable in `host:fuzz-props`.

use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use std::process::{Command, Stdio};

/// Seconds each target runs.
const SECONDS_PER_TARGET: u32 = 45;
const TARGETS: &[&str] = &["config_parse", "mmio_decode"];

fn ok(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
}

/// Runs every fuzz target for a bounded time.
pub fn run(p: &Paths) -> Result<()> {
    if std::env::var_os("XTASK_NO_FUZZ").is_some() {
        println!("[fuzz] XTASK_NO_FUZZ is set: skipping the cargo-fuzz run");
        return Ok(());
    }
    if !ok(Command::new("rustup").args(["run", "nightly", "cargo", "--version"])) {
        println!("[fuzz] no nightly toolchain: skipping the cargo-fuzz run (host:fuzz-props ran the same properties on stable)");
        return Ok(());
    }
    if !ok(Command::new("cargo").args(["fuzz", "--version"])) {
        println!("[fuzz] installing cargo-fuzz (cargo install cargo-fuzz --locked) ...");
        crate::cmd::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
            .context("cannot install cargo-fuzz")?;
    }
    let corpus = p.root.join("fuzz/corpus/config_parse");
    std::fs::create_dir_all(&corpus)?;
    let tool = p.release_dir(None).join("syshyper");
    crate::cmd::run(p.cargo().args(["build", "--release", "--bin", "syshyper"]))?;
    for entry in std::fs::read_dir(p.root.join("configs"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = corpus.join(path.with_extension("cell").file_name().unwrap_or_default());
            crate::cmd::run(Command::new(&tool).arg("config").arg("compile").arg(&path).arg("-o").arg(out))?;
        }
    }
    for t in TARGETS {
        println!("[fuzz] {t}: {SECONDS_PER_TARGET} s");
        let dir = p.root.join("fuzz/corpus").join(t);
        std::fs::create_dir_all(&dir)?;
        let status = Command::new("cargo")
            .current_dir(&p.root)
            .env_remove("CARGO_TARGET_DIR")
            .args(["+nightly", "fuzz", "run", t])
            .arg(&dir)
            .arg("--")
            .arg(format!("-max_total_time={SECONDS_PER_TARGET}"))
            .status()
            .with_context(|| format!("cannot run cargo fuzz for {t}"))?;
        if !status.success() {
            bail!("cargo fuzz run {t} found a crash or failed ({status}); see fuzz/artifacts/{t}");
        }
    }
    Ok(())
}

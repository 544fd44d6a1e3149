//! `cargo xtask build`: the EL2 image, the inmates, the host tool and the
//! compiled configs, all under target/images (contracts.md "Build outputs").

use crate::cmd;
use crate::image_header;
use crate::paths::{Paths, BARE_TARGET, HV_TARGET};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The target of the tool that runs in the arm64 Linux (static, musl).
pub const MUSL_TARGET: &str = "aarch64-unknown-linux-musl";

/// Builds the static arm64 `syshyper` tool; returns its path.
pub fn build_musl_tool(p: &Paths) -> Result<PathBuf> {
    println!("[build] syshyper tool ({MUSL_TARGET})");
    cmd::run(p.cargo().args(["build", "--release", "-p", "syshyper-tools", "--bin", "syshyper", "--target", MUSL_TARGET]))?;
    Ok(p.release_dir(Some(MUSL_TARGET)).join("syshyper"))
}

pub fn build_all(p: &Paths) -> Result<()> {
    std::fs::create_dir_all(p.images())
        .with_context(|| format!("cannot create {}", p.images().display()))?;
    build_hypervisor(p)?;
    build_inmates(p)?;
    build_configs(p)?;
    println!("[build] images in {}", p.images().display());
    Ok(())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    Ok(())
}

/// `llvm-objcopy -O binary`, the raw image QEMU's loader and the driver take.
fn objcopy(elf: &Path, bin: &Path) -> Result<()> {
    cmd::run(
        Command::new("llvm-objcopy")
            .args(["-O", "binary"])
            .arg(elf)
            .arg(bin),
    )
}

fn size(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

fn build_hypervisor(p: &Paths) -> Result<()> {
    println!("[build] hypervisor (syshyper-hv, {HV_TARGET})");
    cmd::run(p.cargo().args([
        "build",
        "--release",
        "-p",
        "syshyper-hv",
        "--bin",
        "syshyper",
        "--target",
        HV_TARGET,
    ]))?;
    let elf = p.images().join("syshyper.elf");
    let bin = p.images().join("syshyper.bin");
    copy(&p.release_dir(Some(HV_TARGET)).join("syshyper"), &elf)?;
    objcopy(&elf, &bin)?;
    let raw = std::fs::read(&bin).with_context(|| format!("cannot read {}", bin.display()))?;
    if !raw.starts_with(image_header::SIGNATURE) {
        bail!(
            "{} does not start with \"JAILHOUS\": check the linker script",
            bin.display()
        );
    }
    println!(
        "[build] syshyper.elf {} bytes, syshyper.bin {} bytes",
        size(&elf),
        raw.len()
    );
    Ok(())
}

/// Bin names of the inmates package: `[[bin]]` entries of its Cargo.toml plus
/// cargo's auto-discovered `src/bin/<name>.rs` and `src/bin/<name>/main.rs`.
pub fn inmate_names(root: &Path) -> Result<Vec<String>> {
    let mut names = manifest_bins(
        &std::fs::read_to_string(root.join("inmates/Cargo.toml")).unwrap_or_default(),
    );
    let dir = root.join("inmates/src/bin");
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(names),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    for entry in entries {
        let path = entry?.path();
        let name = if path.is_dir() && path.join("main.rs").is_file() {
            path.file_name()
        } else if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem()
        } else {
            None
        };
        if let Some(name) = name {
            names.push(name.to_string_lossy().into_owned());
        }
    }
    names.sort();
    names.dedup();
    Ok(names)
}

/// `name = "..."` lines inside `[[bin]]` tables of a manifest.
fn manifest_bins(manifest: &str) -> Vec<String> {
    let mut in_bin = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin {
            if let Some(value) = line
                .strip_prefix("name")
                .map(str::trim_start)
                .and_then(|l| l.strip_prefix('='))
            {
                names.push(value.trim().trim_matches('"').to_string());
            }
        }
    }
    names
}

fn build_inmates(p: &Paths) -> Result<()> {
    let names = inmate_names(&p.root)?;
    if names.is_empty() {
        println!("[build] warning: inmates/src/bin has no programs yet, skipping the inmates");
        return Ok(());
    }
    println!("[build] inmates ({BARE_TARGET}): {}", names.join(", "));
    cmd::run(p.cargo().args([
        "build",
        "--release",
        "-p",
        "syshyper-inmates",
        "--bins",
        "--target",
        BARE_TARGET,
    ]))?;
    let out = p.inmate_images();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    remove_stale(&out, &names)?;
    for name in &names {
        let elf = out.join(format!("{name}.elf"));
        let bin = out.join(format!("{name}.bin"));
        copy(&p.release_dir(Some(BARE_TARGET)).join(name), &elf)?;
        objcopy(&elf, &bin)?;
        cmd::detail(format_args!("[build] inmates/{name}.bin {} bytes", size(&bin)));
    }
    Ok(())
}

/// Removes images of programs that no longer exist, so no test boots a stale one.
fn remove_stale(out: &Path, names: &[String]) -> Result<()> {
    for entry in std::fs::read_dir(out).with_context(|| format!("cannot list {}", out.display()))? {
        let path = entry?.path();
        let is_image = path.extension().is_some_and(|e| e == "bin" || e == "elf");
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        if is_image && !names.contains(&stem) {
            println!("[build] removing stale {}", path.display());
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    Ok(())
}

/// The host `syshyper` tool, used here to compile the configs.
pub fn host_tool(p: &Paths) -> PathBuf {
    p.release_dir(None).join("syshyper")
}

fn config_sources(root: &Path) -> Result<Vec<PathBuf>> {
    let dir = root.join("configs");
    let mut list = Vec::new();
    if dir.is_dir() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?
        {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "toml") {
                list.push(path);
            }
        }
    }
    list.sort();
    Ok(list)
}

fn build_configs(p: &Paths) -> Result<()> {
    cmd::detail("[build] host tool (syshyper-tools)");
    cmd::run(p.cargo().args([
        "build",
        "--release",
        "-p",
        "syshyper-tools",
        "--bin",
        "syshyper",
    ]))?;
    let sources = config_sources(&p.root)?;
    if sources.is_empty() {
        println!("[build] warning: configs/ has no .toml files, no .cell files built");
        return Ok(());
    }
    let out = p.config_images();
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    for src in &sources {
        let stem = src
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cell = out.join(format!("{stem}.cell"));
        cmd::run(
            Command::new(host_tool(p))
                .args(["config", "compile"])
                .arg(src)
                .arg("-o")
                .arg(&cell),
        )
        .with_context(|| format!("compiling {}", src.display()))?;
        cmd::detail(format_args!("[build] configs/{stem}.cell {} bytes", size(&cell)));
    }
    println!("[build] configs: {} .cell files", sources.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_inmate_bins_in_both_layouts() {
        let root = std::env::temp_dir().join(format!("xtask-inmates-{}", std::process::id()));
        let bin = root.join("inmates/src/bin");
        std::fs::create_dir_all(bin.join("root-test")).unwrap();
        std::fs::write(bin.join("root-test/main.rs"), "").unwrap();
        std::fs::write(bin.join("gic-demo.rs"), "").unwrap();
        std::fs::write(bin.join("notes.txt"), "").unwrap();
        std::fs::create_dir_all(bin.join("helpers")).unwrap();
        assert_eq!(inmate_names(&root).unwrap(), vec!["gic-demo", "root-test"]);
        std::fs::remove_dir_all(&root).unwrap();
        assert!(inmate_names(&root).unwrap().is_empty());
    }

    #[test]
    fn reads_bin_names_from_the_manifest() {
        let m = "[package]\nname = \"syshyper-inmates\"\n[[bin]]\nname = \"root-test\"\npath = \"x.rs\"\n[lib]\nname = \"l\"\n";
        assert_eq!(manifest_bins(m), vec!["root-test"]);
    }
}

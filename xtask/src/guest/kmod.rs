//! Building the kernel module out of tree against the unpacked Debian headers.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Copies the driver sources to `build_dir` (kbuild writes its objects next to
/// them, and driver/ stays clean) and runs kbuild there; returns the .ko.
pub fn build(headers: &Path, driver_src: &Path, build_dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(build_dir).with_context(|| format!("cannot create {}", build_dir.display()))?;
    for entry in std::fs::read_dir(driver_src).with_context(|| format!("cannot read {}", driver_src.display()))? {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy().into_owned();
        let wanted = name.ends_with(".c") || name.ends_with(".h") || name == "Kbuild" || name == "Makefile";
        if wanted {
            let dest = build_dir.join(&name);
            // Unchanged files keep their time stamps, so kbuild rebuilds only what changed.
            let same = std::fs::read(&dest).ok() == Some(std::fs::read(&path)?);
            if !same {
                std::fs::copy(&path, &dest).with_context(|| format!("cannot copy {}", path.display()))?;
            }
        }
    }
    crate::cmd::detail(format_args!("[guest] building the kernel module against {}", headers.display()));
    crate::cmd::run_quiet(
        Command::new("make")
            .arg("-C")
            .arg(headers)
            .arg(format!("M={}", build_dir.display()))
            .args(["ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-", "modules"]),
        "building the kernel module",
    )?;
    let ko = build_dir.join("syshyper.ko");
    if !ko.exists() {
        bail!("kbuild finished but {} is missing", ko.display());
    }
    Ok(ko)
}

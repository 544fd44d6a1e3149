//! `cargo xtask setup`: installs the prerequisites, idempotently.
//!
//! Facts are gathered first (`Facts`), then a pure function decides what to do
//! (`plan`), so the decision is unit-tested without uninstalling anything. For a
//! manual check, `XTASK_FAKE_MISSING=cpio,aarch64-unknown-none` pretends those
//! are missing and `XTASK_FAKE_NONROOT=1` pretends we are not root; `--dry-run`
//! prints the plan without running it.
//!
//! One prerequisite is not installed here: the QEMU with a stage-2 SMMU
//! that only `root-smmu-s2` runs, fetched privately on first use
//! (`qemu_bpo`).

use crate::cmd;
use anyhow::{bail, Context, Result};
use std::process::Command;

pub const RUST_TARGETS: &[&str] =
    &["aarch64-unknown-none", "aarch64-unknown-none-softfloat", "aarch64-unknown-linux-musl"];
/// qemu-system-arm provides qemu-system-aarch64; llvm provides llvm-objcopy;
/// device-tree-compiler provides dtc (boot-first Linux's device tree);
/// dwarves provides pahole, which the kbuild of Debian's 6.12 headers runs
/// to give the module its BTF (6.1's headers skip that step); dpkg-dev
/// is not needed: `cargo xtask dist` uses dpkg-deb, part of dpkg.
pub const DEB_PACKAGES: &[&str] = &[
    "qemu-system-arm",
    "gcc-aarch64-linux-gnu",
    "cpio",
    "llvm",
    "device-tree-compiler",
    "dwarves",
];

/// What the machine has, as far as setup cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// False when `rustup` is not on PATH.
    pub have_rustup: bool,
    pub missing_targets: Vec<String>,
    pub missing_packages: Vec<String>,
    pub is_root: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    RustupTargetAdd(Vec<String>),
    /// `apt-get update` once, then one install of all missing packages.
    AptInstall(Vec<String>),
}

impl Step {
    /// The shell command this step runs, for `--dry-run`.
    pub fn command_line(&self) -> String {
        match self {
            Step::RustupTargetAdd(t) => format!("rustup target add {}", t.join(" ")),
            Step::AptInstall(p) => {
                format!(
                    "apt-get update && apt-get install -y --no-install-recommends {}",
                    p.join(" ")
                )
            }
        }
    }
}

/// Decides the steps, or returns the message telling the user what to run.
pub fn plan(f: &Facts) -> std::result::Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    let mut problems = Vec::new();
    if !f.missing_targets.is_empty() {
        if f.have_rustup {
            steps.push(Step::RustupTargetAdd(f.missing_targets.clone()));
        } else {
            problems.push(format!(
                "rustup is not on PATH and Rust targets are missing; install rustup \
                 (https://rustup.rs), then run: rustup target add {}",
                f.missing_targets.join(" ")
            ));
        }
    }
    if !f.missing_packages.is_empty() {
        if f.is_root {
            steps.push(Step::AptInstall(f.missing_packages.clone()));
        } else {
            problems.push(format!(
                "Debian packages missing and not running as root; run: \
                 sudo apt-get update && sudo apt-get install -y --no-install-recommends {}",
                f.missing_packages.join(" ")
            ));
        }
    }
    if problems.is_empty() {
        Ok(steps)
    } else {
        Err(problems.join("\n"))
    }
}

fn fake_missing() -> Vec<String> {
    std::env::var("XTASK_FAKE_MISSING")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn installed_targets() -> Result<Option<Vec<String>>> {
    match Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    {
        Ok(out) if out.status.success() => Ok(Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.trim().to_string())
                .collect(),
        )),
        Ok(out) => bail!(
            "`rustup target list --installed` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(_) => Ok(None),
    }
}

/// Without rustup, a target counts as present when the sysroot has its library.
fn target_in_sysroot(target: &str) -> bool {
    let Ok(out) = Command::new("rustc").args(["--print", "sysroot"]).output() else {
        return false;
    };
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    std::path::Path::new(&sysroot)
        .join("lib/rustlib")
        .join(target)
        .is_dir()
}

fn package_installed(pkg: &str) -> Result<bool> {
    let out = Command::new("dpkg")
        .args(["-s", pkg])
        .output()
        .context("setup needs dpkg (Debian or Ubuntu); install the prerequisites by hand")?;
    // `dpkg -s` also succeeds for removed packages whose config files remain.
    Ok(out.status.success()
        && String::from_utf8_lossy(&out.stdout)
            .lines()
            .any(|l| l == "Status: install ok installed"))
}

fn is_root() -> bool {
    if std::env::var_os("XTASK_FAKE_NONROOT").is_some() {
        return false;
    }
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn gather() -> Result<Facts> {
    let fake = fake_missing();
    let faked = |name: &str| fake.iter().any(|f| f == name);
    let targets = installed_targets()?;
    let mut missing_targets = Vec::new();
    for &t in RUST_TARGETS {
        let present = match &targets {
            Some(list) => list.iter().any(|l| l == t),
            None => target_in_sysroot(t),
        };
        if !present || faked(t) {
            missing_targets.push(t.to_string());
        }
    }
    let mut missing_packages = Vec::new();
    for &p in DEB_PACKAGES {
        if faked(p) || !package_installed(p)? {
            missing_packages.push(p.to_string());
        }
    }
    Ok(Facts {
        have_rustup: targets.is_some(),
        missing_targets,
        missing_packages,
        is_root: is_root(),
    })
}

fn execute(step: &Step) -> Result<()> {
    match step {
        Step::RustupTargetAdd(targets) => {
            for t in targets {
                println!("[setup] installing Rust target {t} ...");
            }
            cmd::run(Command::new("rustup").args(["target", "add"]).args(targets))
        }
        Step::AptInstall(pkgs) => {
            println!("[setup] apt-get update ...");
            cmd::run(
                Command::new("apt-get")
                    .arg("update")
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )?;
            for p in pkgs {
                println!("[setup] installing {p} ...");
            }
            cmd::run(
                Command::new("apt-get")
                    .args(["install", "-y", "--no-install-recommends"])
                    .args(pkgs)
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )
        }
    }
}

/// Checks and installs everything; `dry_run` only prints what it would do.
pub fn setup(dry_run: bool) -> Result<()> {
    cmd::detail("[setup] checking Rust targets and Debian packages ...");
    let facts = gather()?;
    let steps = match plan(&facts) {
        Ok(steps) => steps,
        Err(msg) => bail!("cannot install the prerequisites: {}", msg.replace('\n', "; ")),
    };
    if steps.is_empty() {
        cmd::detail(format_args!(
            "[setup] all present: targets {}; packages {}",
            RUST_TARGETS.join(", "),
            DEB_PACKAGES.join(", ")
        ));
        return Ok(());
    }
    for step in &steps {
        if dry_run {
            println!("[setup] would run: {}", step.command_line());
        } else {
            execute(step)?;
        }
    }
    if !dry_run {
        println!("[setup] done");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            have_rustup: true,
            missing_targets: vec![],
            missing_packages: vec![],
            is_root: true,
        }
    }

    #[test]
    fn nothing_missing_means_nothing_to_do() {
        assert_eq!(plan(&facts()), Ok(vec![]));
    }

    #[test]
    fn missing_target_is_added_with_rustup_even_without_root() {
        let f = Facts {
            missing_targets: vec!["aarch64-unknown-none".into()],
            is_root: false,
            ..facts()
        };
        assert_eq!(
            plan(&f),
            Ok(vec![Step::RustupTargetAdd(vec![
                "aarch64-unknown-none".into()
            ])])
        );
    }

    #[test]
    fn missing_packages_as_root_are_installed_in_one_step() {
        let f = Facts {
            missing_packages: vec!["cpio".into(), "llvm".into()],
            ..facts()
        };
        assert_eq!(
            plan(&f),
            Ok(vec![Step::AptInstall(vec!["cpio".into(), "llvm".into()])])
        );
    }

    #[test]
    fn missing_packages_without_root_print_the_exact_command() {
        let f = Facts {
            missing_packages: vec!["cpio".into()],
            is_root: false,
            ..facts()
        };
        let msg = plan(&f).unwrap_err();
        assert!(
            msg.contains(
                "sudo apt-get update && sudo apt-get install -y --no-install-recommends cpio"
            ),
            "{msg}"
        );
    }

    #[test]
    fn missing_rustup_is_reported_not_attempted() {
        let f = Facts {
            have_rustup: false,
            missing_targets: vec!["aarch64-unknown-none".into()],
            ..facts()
        };
        assert!(plan(&f)
            .unwrap_err()
            .contains("rustup target add aarch64-unknown-none"));
    }
}

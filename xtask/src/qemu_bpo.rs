//! A second, private QEMU for the SMMUv3 stage-2 test only: Debian
//! bookworm's QEMU 7.2 emulates stage 1 of the SMMUv3 and nothing else;
//! stage 2 came with QEMU 8.1. bookworm-backports carries QEMU 10, built
//! against bookworm's libraries, so its `qemu-system-arm` package is
//! fetched (with apt, the archive's signature checked by the system's
//! keyring) and unpacked under `target/qemu-bpo/` — never installed:
//! every other test keeps the system's 7.2 (the bench figures and the
//! GICv2 model's quirks are measured on it).
//!
//! Idempotent: a complete unpack is marked by `target/qemu-bpo/ok`, and
//! a second call returns at once. Only `qemu-system-arm` is fetched: the
//! tests load their programs with `-device loader` and use no firmware,
//! option ROM or keymap (`qemu-system-data`), and no module
//! (`qemu-system-common`'s; `-audio none` keeps QEMU from looking for
//! one, as 7.2's modules in the system's module folder do not load into
//! 10).

use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The archive and suite (Debian's backports of trixie's QEMU to bookworm).
pub const SOURCE: &str = "deb http://deb.debian.org/debian bookworm-backports main";
/// The package, pinned to the suite (backports' versions win no ties
/// against the installed 7.2 by default).
pub const PACKAGE: &str = "qemu-system-arm/bookworm-backports";
/// The first QEMU whose SMMUv3 has stage 2.
pub const MIN_VERSION: (u32, u32) = (8, 1);

/// Where it is unpacked.
pub fn dir(p: &Paths) -> PathBuf {
    p.out.join("qemu-bpo")
}

/// The unpacked emulator.
pub fn binary(p: &Paths) -> PathBuf {
    dir(p).join("usr/bin/qemu-system-aarch64")
}

/// Arguments every run of this QEMU adds (see the module comment).
pub const EXTRA_ARGS: &[&str] = &["-audio", "none"];

/// The (major, minor) of a `--version` line ("QEMU emulator version 10.0.2 ...").
pub fn parse_version(out: &str) -> Option<(u32, u32)> {
    let v = out.split("version ").nth(1)?.split_whitespace().next()?;
    let mut it = v.split('.');
    Some((it.next()?.parse().ok()?, it.next()?.parse().ok()?))
}

/// Shared-library lines of `ldd` that did not resolve.
pub fn unresolved(ldd: &str) -> Vec<String> {
    ldd.lines().filter(|l| l.contains("not found")).map(|l| l.trim().to_string()).collect()
}

fn run(what: &str, cmd: &mut Command) -> Result<String> {
    let out = cmd.output().with_context(|| format!("{what}: cannot start {}", crate::cmd::display(cmd)))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            crate::cmd::display(cmd),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// apt-get with every state and cache folder private to `work`, so the
/// system's sources, lists and caches are neither read nor changed.
fn apt(work: &Path) -> Command {
    let mut c = Command::new("apt-get");
    let o = |k: &str, v: &Path| format!("{k}={}", v.display());
    c.args(["-q", "-o"]).arg(o("Dir::Etc::SourceList", &work.join("sources.list")));
    c.args(["-o", "Dir::Etc::SourceParts=/nonexistent"]);
    c.args(["-o"]).arg(o("Dir::State::Lists", &work.join("lists")));
    c.args(["-o"]).arg(o("Dir::Cache", &work.join("cache")));
    c.args(["-o", "Debug::NoLocking=1"]);
    // As root apt drops to `_apt` to download, which cannot write here.
    c.args(["-o", "APT::Sandbox::User=root"]);
    c.env("DEBIAN_FRONTEND", "noninteractive");
    c
}

/// Makes sure the backports QEMU is unpacked and runs; returns its path.
pub fn ensure(p: &Paths) -> Result<PathBuf> {
    let bin = binary(p);
    let done = dir(p).join("ok");
    if done.is_file() && bin.is_file() {
        return Ok(bin);
    }
    fetch(p).context(
        "cannot provide QEMU >= 8.1 from bookworm-backports (needed only by the SMMUv3 \
         stage-2 test; every other test uses the system's QEMU). It needs apt-get and \
         access to deb.debian.org",
    )?;
    std::fs::write(&done, "").with_context(|| format!("cannot write {}", done.display()))?;
    Ok(bin)
}

fn fetch(p: &Paths) -> Result<()> {
    let target = dir(p);
    let work = p.out.join("qemu-bpo.work");
    let _ = std::fs::remove_dir_all(&target);
    let _ = std::fs::remove_dir_all(&work);
    for d in ["lists/partial", "cache/archives/partial", "deb"] {
        std::fs::create_dir_all(work.join(d)).with_context(|| format!("cannot create {}", work.display()))?;
    }
    std::fs::write(work.join("sources.list"), format!("{SOURCE}\n"))?;
    println!("[setup] QEMU for the SMMU stage-2 test: apt-get update of bookworm-backports (private lists in {}) ...", work.display());
    run("apt-get update", apt(&work).arg("update"))?;
    println!("[setup] downloading {PACKAGE} ...");
    run("apt-get download", apt(&work).args(["download", PACKAGE]).current_dir(work.join("deb")))?;
    let deb = std::fs::read_dir(work.join("deb"))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|f| f.extension().is_some_and(|x| x == "deb"))
        .context("apt-get download left no .deb")?;
    println!("[setup] unpacking {} into {} ...", deb.file_name().unwrap_or_default().to_string_lossy(), target.display());
    run("dpkg-deb -x", Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&target))?;
    let bin = binary(p);
    let ldd = run("ldd", Command::new("ldd").arg(&bin))?;
    let missing = unresolved(&ldd);
    if !missing.is_empty() {
        bail!(
            "{} needs shared libraries this system lacks (install them with apt-get): {}",
            bin.display(),
            missing.join("; ")
        );
    }
    let out = run("qemu --version", Command::new(&bin).arg("--version"))?;
    let v = parse_version(&out).with_context(|| format!("cannot read the version in {out:?}"))?;
    if v < MIN_VERSION {
        bail!("{} is QEMU {}.{}, older than {}.{}: no SMMUv3 stage 2", bin.display(), v.0, v.1, MIN_VERSION.0, MIN_VERSION.1);
    }
    println!("[setup] QEMU {}.{} ready: {}", v.0, v.1, bin.display());
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lines() {
        assert_eq!(parse_version("QEMU emulator version 10.0.2 (Debian 1:10.0.2+ds-2)\n"), Some((10, 0)));
        assert_eq!(parse_version("QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7)"), Some((7, 2)));
        assert_eq!(parse_version("nonsense"), None);
        assert!((7, 2) < MIN_VERSION && (10, 0) >= MIN_VERSION && (8, 1) >= MIN_VERSION);
    }

    #[test]
    fn unresolved_libraries() {
        let l = "\tlibfdt.so.1 => /lib/x86_64-linux-gnu/libfdt.so.1 (0x1)\n\tlibfoo.so.2 => not found\n";
        assert_eq!(unresolved(l), vec!["libfoo.so.2 => not found".to_string()]);
    }
}

//! Fetching the Debian arm64 kernel, its headers and busybox with apt, once:
//! the packages are downloaded (never installed) and unpacked under the cache.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The meta package that names the current kernel ABI (e.g. 6.1.0-56).
const META_PACKAGE: &str = "linux-image-arm64:arm64";
/// Written into an unpacked folder when every package is in it.
const STAMP: &str = "unpacked.ok";

/// Packages of one kernel ABI, as `apt-get download` arguments.
pub fn packages(abi: &str, version: &str) -> Vec<String> {
    let series = kbuild_series(abi);
    vec![
        format!("linux-image-{abi}-arm64:arm64"),
        format!("linux-headers-{abi}-arm64:arm64"),
        format!("linux-headers-{abi}-common"),
        // Host (x86-64) build tools of the same kernel version.
        format!("linux-kbuild-{series}={version}"),
        "busybox-static:arm64".to_string(),
    ]
}

/// "6.1.0-56" -> "6.1".
pub fn kbuild_series(abi: &str) -> String {
    abi.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The ABI from `apt-cache depends linux-image-arm64:arm64` output.
pub fn parse_abi(depends: &str) -> Option<String> {
    depends.lines().find_map(|l| {
        let name = l.trim().strip_prefix("Depends: linux-image-")?;
        let name = name.split(':').next()?;
        Some(name.strip_suffix("-arm64")?.to_string())
    })
}

/// The `Version:` field of `apt-cache show` output (first stanza).
pub fn parse_version(show: &str) -> Option<String> {
    show.lines().find_map(|l| l.strip_prefix("Version: ").map(|v| v.trim().to_string()))
}

fn apt_output(args: &[&str]) -> Result<String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| format!("cannot run {} (Debian's apt is needed to fetch the guest kernel)", args[0]))?;
    if !out.status.success() {
        bail!("`{}` failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn is_root() -> bool {
    apt_output(&["id", "-u"]).map(|s| s.trim() == "0").unwrap_or(false)
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("cannot run {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Makes apt know arm64 packages (adds the architecture and updates once).
fn ensure_arm64_lists() -> Result<()> {
    let archs = apt_output(&["dpkg", "--print-foreign-architectures"])?;
    let have_arch = archs.lines().any(|l| l.trim() == "arm64");
    if have_arch && apt_output(&["apt-cache", "depends", META_PACKAGE]).is_ok() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "apt does not know Debian's arm64 packages; run as root:\n    \
             dpkg --add-architecture arm64 && apt-get update"
        );
    }
    if !have_arch {
        println!("[guest] adding the arm64 architecture to dpkg");
        run(Command::new("dpkg").args(["--add-architecture", "arm64"]))?;
    }
    println!("[guest] apt-get update (arm64 package lists)");
    run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The current kernel ABI and its package version, from apt.
pub fn resolve() -> Result<(String, String)> {
    ensure_arm64_lists()?;
    let depends = apt_output(&["apt-cache", "depends", META_PACKAGE])?;
    let abi = parse_abi(&depends)
        .with_context(|| format!("apt-cache depends {META_PACKAGE} names no kernel package:\n{depends}"))?;
    let image = format!("linux-image-{abi}-arm64:arm64");
    let show = apt_output(&["apt-cache", "show", &image])?;
    let version = parse_version(&show).with_context(|| format!("apt-cache show {image}: no Version"))?;
    Ok((abi, version))
}

/// An ABI already unpacked under `cache`, for working without apt lists.
pub fn cached_abi(cache: &Path) -> Option<String> {
    let mut abis: Vec<String> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STAMP).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    abis.sort();
    abis.pop()
}

/// Downloads and unpacks the packages of `abi` into `dir` unless already there.
pub fn fetch(dir: &Path, abi: &str, version: &str) -> Result<PathBuf> {
    let root = dir.join("root");
    if dir.join(STAMP).exists() {
        return Ok(root);
    }
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).with_context(|| format!("cannot create {}", debs.display()))?;
    let pkgs = packages(abi, version);
    println!("[guest] downloading Debian kernel {abi} ({version}), headers and busybox (about 75 MB):");
    for p in &pkgs {
        println!("[guest]   {p}");
    }
    // apt-get prints its own progress (Get:1 ... [size]).
    let status = Command::new("apt-get")
        .arg("download")
        .args(&pkgs)
        .current_dir(&debs)
        .status()
        .context("cannot run apt-get")?;
    if !status.success() {
        bail!(
            "apt-get download could not fetch the guest packages ({status}); \
             check that `apt-cache policy {}` shows a candidate",
            pkgs.join(" ")
        );
    }
    if root.exists() {
        std::fs::remove_dir_all(&root).with_context(|| format!("cannot clear {}", root.display()))?;
    }
    std::fs::create_dir_all(&root)?;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&debs)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "deb"))
        .collect();
    entries.sort();
    for deb in &entries {
        println!("[guest] unpacking {}", deb.file_name().unwrap_or_default().to_string_lossy());
        run(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root))?;
    }
    fix_headers_makefile(&root, abi)?;
    std::fs::write(dir.join(STAMP), format!("{abi} {version}\n"))?;
    Ok(root)
}

/// The headers' Makefile includes the common part by its installed path;
/// point it into the unpacked tree.
fn fix_headers_makefile(root: &Path, abi: &str) -> Result<()> {
    let makefile = root.join(format!("usr/src/linux-headers-{abi}-arm64/Makefile"));
    let text = std::fs::read_to_string(&makefile).with_context(|| format!("cannot read {}", makefile.display()))?;
    let fixed = rewrite_include(&text, &root.join("usr/src"));
    std::fs::write(&makefile, fixed).with_context(|| format!("cannot write {}", makefile.display()))
}

pub fn rewrite_include(text: &str, src: &Path) -> String {
    text.replace("include /usr/src/", &format!("include {}/", src.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abi_comes_from_the_meta_package_dependency() {
        let out = "linux-image-arm64:arm64\n  Depends: linux-image-6.1.0-56-arm64:arm64\n";
        assert_eq!(parse_abi(out).as_deref(), Some("6.1.0-56"));
        assert_eq!(parse_abi("linux-image-arm64:arm64\n"), None);
    }

    #[test]
    fn kbuild_is_pinned_to_the_kernel_version() {
        let p = packages("6.1.0-56", "6.1.192-2");
        assert!(p.contains(&"linux-kbuild-6.1=6.1.192-2".to_string()));
        assert!(p.contains(&"linux-headers-6.1.0-56-common".to_string()));
    }

    #[test]
    fn version_is_the_first_stanza() {
        assert_eq!(parse_version("Package: x\nVersion: 6.1.192-2\n\nVersion: 1\n").as_deref(), Some("6.1.192-2"));
    }

    #[test]
    fn headers_include_points_into_the_cache() {
        let t = rewrite_include("include /usr/src/linux-headers-6.1.0-56-common/Makefile\n", Path::new("/c/root/usr/src"));
        assert_eq!(t, "include /c/root/usr/src/linux-headers-6.1.0-56-common/Makefile\n");
    }
}

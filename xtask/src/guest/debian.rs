//! Fetching the Debian arm64 kernel, its headers and busybox with apt, once:
//! the packages are downloaded (never installed) and unpacked under the cache.

use super::kernel::{self, Choice};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Written into an unpacked folder when every package is in it.
const STAMP: &str = "unpacked.ok";
/// In the cache folder: the ABI the default meta package named when apt was
/// last asked, for choosing among cached kernels offline.
const DEFAULT_FILE: &str = "default-abi";

/// A kernel apt can fetch: its ABI, its version and the host (x86-64)
/// package of its build tools, pinned to that version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub abi: String,
    pub version: String,
    pub kbuild: String,
}

/// Packages of one kernel, as `apt-get download` arguments.
pub fn packages(k: &Resolved) -> Vec<String> {
    let abi = &k.abi;
    vec![
        format!("linux-image-{abi}-arm64:arm64"),
        format!("linux-headers-{abi}-arm64:arm64"),
        format!("linux-headers-{abi}-common"),
        // Host (x86-64) build tools of the same kernel version.
        format!("{}={}", k.kbuild, k.version),
        "busybox-static:arm64".to_string(),
    ]
}

/// The kbuild package the arm64 headers depend on (`linux-kbuild-6.1` for
/// bookworm's 6.1, `linux-kbuild-6.12.118+deb12` for its 6.12), without
/// an architecture: the host's is wanted.
pub fn parse_kbuild(depends: &str) -> Option<String> {
    depends.lines().find_map(|l| {
        let name = l.trim().strip_prefix("Depends: ")?;
        let name = name.split([':', ' ']).next()?;
        name.starts_with("linux-kbuild-").then(|| name.to_string())
    })
}

/// "6.1.0-56" -> "6.1".
pub fn kbuild_series(abi: &str) -> String {
    abi.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// The ABI from `apt-cache depends <meta package>:arm64` output.
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
    if have_arch && apt_output(&["apt-cache", "depends", &format!("{}:arm64", kernel::DEFAULT_META)]).is_ok() {
        return Ok(());
    }
    if !is_root() {
        bail!("apt does not know Debian's arm64 packages; run as root: dpkg --add-architecture arm64 && apt-get update");
    }
    if !have_arch {
        println!("[guest] adding the arm64 architecture to dpkg");
        run(Command::new("dpkg").args(["--add-architecture", "arm64"]))?;
    }
    println!("[guest] apt-get update (arm64 package lists)");
    run(Command::new("apt-get").arg("update").env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The ABI of an image package's name (`linux-image-<ABI>-arm64`).
fn abi_of_image_package(name: &str) -> Option<String> {
    let abi = name.strip_prefix("linux-image-")?.strip_suffix("-arm64")?;
    abi.starts_with(|c: char| c.is_ascii_digit()).then(|| abi.to_string())
}

/// The kernel `choice` names, from apt; records the default's ABI in
/// `cache` for offline use.
pub fn resolve(choice: &Choice, cache: &Path) -> Result<Resolved> {
    ensure_arm64_lists()?;
    let abi = match choice {
        Choice::Abi(abi) => abi.clone(),
        Choice::Package(pkg) => {
            let depends = apt_output(&["apt-cache", "depends", &format!("{pkg}:arm64")]).map_err(|_| {
                anyhow::anyhow!("apt knows no package {pkg} for arm64; `apt-cache search --names-only 'linux-image-.*-arm64$'` lists the kernels")
            })?;
            match parse_abi(&depends).or_else(|| abi_of_image_package(pkg)) {
                Some(abi) => abi,
                None => bail!("{pkg} depends on no kernel image package; name one with --kernel linux-image-<ABI>-arm64"),
            }
        }
    };
    let image = format!("linux-image-{abi}-arm64:arm64");
    let show = apt_output(&["apt-cache", "show", &image]).map_err(|_| {
        anyhow::anyhow!("apt knows no kernel with ABI {abi} ({image}); `apt-cache search --names-only 'linux-image-.*-arm64$'` lists them")
    })?;
    let version = parse_version(&show).with_context(|| format!("apt-cache show {image}: no Version"))?;
    let headers = format!("linux-headers-{abi}-arm64:arm64");
    let kbuild = parse_kbuild(&apt_output(&["apt-cache", "depends", &headers])?)
        .unwrap_or_else(|| format!("linux-kbuild-{}", kbuild_series(&abi)));
    if *choice == Choice::Package(kernel::DEFAULT_META.to_string()) {
        // Best effort: only the offline fallback reads it.
        let _ = std::fs::create_dir_all(cache).and_then(|()| std::fs::write(cache.join(DEFAULT_FILE), format!("{abi}\n")));
    }
    Ok(Resolved { abi, version, kbuild })
}

/// A kernel already unpacked under `cache` that answers `choice`, for
/// working without apt lists: the ABI asked for; the highest (as versions)
/// of a series asked for; for the default, the one apt named last, else the
/// highest.
pub fn cached_abi(cache: &Path, choice: &Choice) -> Option<String> {
    let abis: Vec<String> = std::fs::read_dir(cache)
        .ok()?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join(STAMP).exists())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    if let Choice::Abi(abi) = choice {
        return abis.iter().find(|a| *a == abi).cloned();
    }
    let prefix = choice.offline_prefix();
    if prefix.is_none() {
        let last = std::fs::read_to_string(cache.join(DEFAULT_FILE)).unwrap_or_default();
        if let Some(abi) = abis.iter().find(|a| **a == last.trim()) {
            return Some(abi.clone());
        }
    }
    kernel::highest(abis.iter().map(String::as_str), prefix.as_deref()).map(str::to_string)
}

/// Downloads and unpacks the packages of `abi` into `dir` unless already there.
pub fn fetch(dir: &Path, k: &Resolved) -> Result<PathBuf> {
    let (abi, version) = (k.abi.as_str(), k.version.as_str());
    let root = dir.join("root");
    if dir.join(STAMP).exists() {
        return Ok(root);
    }
    let debs = dir.join("debs");
    std::fs::create_dir_all(&debs).with_context(|| format!("cannot create {}", debs.display()))?;
    let pkgs = packages(k);
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
        crate::cmd::detail(format_args!("[guest] unpacking {}", deb.file_name().unwrap_or_default().to_string_lossy()));
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
        let k = Resolved { abi: "6.1.0-56".into(), version: "6.1.192-2".into(), kbuild: "linux-kbuild-6.1".into() };
        let p = packages(&k);
        assert!(p.contains(&"linux-kbuild-6.1=6.1.192-2".to_string()));
        assert!(p.contains(&"linux-headers-6.1.0-56-common".to_string()));
    }

    #[test]
    fn kbuild_comes_from_the_headers_dependency() {
        let d61 = "linux-headers-6.1.0-57-arm64:arm64\n  Depends: linux-headers-6.1.0-57-common\n  Depends: linux-kbuild-6.1\n";
        assert_eq!(parse_kbuild(d61).as_deref(), Some("linux-kbuild-6.1"));
        let d612 = "x\n  Depends: linux-base:arm64\n  Depends: linux-kbuild-6.12.118+deb12:arm64\n";
        assert_eq!(parse_kbuild(d612).as_deref(), Some("linux-kbuild-6.12.118+deb12"));
        assert_eq!(parse_kbuild("x\n  Depends: gcc-12\n"), None);
    }

    #[test]
    fn image_package_names_its_abi() {
        assert_eq!(abi_of_image_package("linux-image-6.12.118+deb12-arm64").as_deref(), Some("6.12.118+deb12"));
        assert_eq!(abi_of_image_package("linux-image-arm64"), None);
    }

    #[test]
    fn offline_choice_compares_abis_as_versions() {
        let cache = std::env::temp_dir().join(format!("xtask-cache-{}", std::process::id()));
        for abi in ["6.1.0-9", "6.1.0-57", "6.12.118+deb12", "6.1.0-60"] {
            std::fs::create_dir_all(cache.join(abi)).unwrap();
            if abi != "6.1.0-60" {
                std::fs::write(cache.join(abi).join(STAMP), "").unwrap();
            }
        }
        let default = Choice::Package(kernel::DEFAULT_META.into());
        // No record of the default: the highest complete one.
        assert_eq!(cached_abi(&cache, &default).as_deref(), Some("6.12.118+deb12"));
        std::fs::write(cache.join(DEFAULT_FILE), "6.1.0-57\n").unwrap();
        assert_eq!(cached_abi(&cache, &default).as_deref(), Some("6.1.0-57"));
        assert_eq!(cached_abi(&cache, &Choice::parse("6.12").unwrap()).as_deref(), Some("6.12.118+deb12"));
        assert_eq!(cached_abi(&cache, &Choice::parse("6.1.0-9").unwrap()).as_deref(), Some("6.1.0-9"));
        assert_eq!(cached_abi(&cache, &Choice::parse("6.13").unwrap()), None);
        std::fs::remove_dir_all(&cache).unwrap();
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

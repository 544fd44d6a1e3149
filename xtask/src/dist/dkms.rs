//! The kernel module as DKMS source: `/usr/src/syshyper-VERSION` holds the
//! driver's sources, Kbuild, Makefile and `dkms.conf`, so DKMS builds the
//! module for every kernel the board installs (with its headers).

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// The module's name: DKMS package name, .ko name, Kbuild's `obj-m`.
pub const MODULE: &str = "syshyper";

/// `dkms.conf`. DKMS copies the tree to its build folder and runs MAKE[0]
/// there with `kernel_source_dir` set to the headers of the kernel it builds
/// for; driver/Makefile's `modules` target takes that as KDIR. The module
/// goes to `/lib/modules/<kernel>/updates/dkms/syshyper.ko`, ahead of any
/// in-tree module of the same name.
pub fn conf(version: &str) -> String {
    format!(
        r#"# DKMS configuration of the sysHyper driver (/dev/jailhouse).
PACKAGE_NAME="{MODULE}"
PACKAGE_VERSION="{version}"
BUILT_MODULE_NAME[0]="{MODULE}"
DEST_MODULE_LOCATION[0]="/updates/dkms"
MAKE[0]="make KDIR=${{kernel_source_dir}} modules"
CLEAN="make KDIR=${{kernel_source_dir}} clean"
# The driver enters EL2 through arm64 code: no other architecture builds it.
BUILD_EXCLUSIVE_ARCH="aarch64"
AUTOINSTALL="yes"
"#
    )
}

/// The value of `KEY=` (quotes removed) in a dkms.conf.
pub fn conf_value<'a>(conf: &'a str, key: &str) -> Option<&'a str> {
    conf.lines().find_map(|l| {
        let v = l.trim().strip_prefix(key)?.strip_prefix('=')?;
        Some(v.trim().trim_matches('"'))
    })
}

/// The driver files that go into the DKMS tree.
pub fn is_source(name: &str) -> bool {
    name.ends_with(".c") || name.ends_with(".h") || name == "Kbuild" || name == "Makefile"
}

/// The objects Kbuild links into the module (`<module>-y := a.o b.o`).
pub fn kbuild_objects(kbuild: &str) -> Vec<String> {
    let key = format!("{MODULE}-y");
    kbuild
        .lines()
        .filter_map(|l| {
            let (lhs, rhs) = l.split_once(":=").or_else(|| l.split_once("+="))?;
            (lhs.trim() == key).then_some(rhs)
        })
        .flat_map(|rhs| rhs.split_whitespace().map(str::to_string))
        .collect()
}

/// `postinst`: registers the source with DKMS and builds it for the running
/// kernel when its headers are there; DKMS's kernel hook builds it for
/// kernels installed later (AUTOINSTALL).
pub fn postinst(version: &str) -> String {
    format!(
        r#"#!/bin/sh
set -e
if [ "$1" = configure ]; then
	if ! dkms status -m {MODULE} -v {version} | grep -q .; then
		dkms add -m {MODULE} -v {version}
	fi
	kernel=$(uname -r)
	if [ -d "/lib/modules/$kernel/build" ]; then
		dkms install -m {MODULE} -v {version} -k "$kernel" ||
			echo "syshyper-dkms: building the module for $kernel failed; see /var/lib/dkms/{MODULE}/{version}/build/make.log" >&2
	else
		echo "syshyper-dkms: no headers for $kernel; install linux-headers-$kernel, then: dkms install {MODULE}/{version}" >&2
	fi
fi
exit 0
"#
    )
}

/// `prerm`: takes the module out of DKMS for every kernel.
pub fn prerm(version: &str) -> String {
    format!(
        r#"#!/bin/sh
set -e
case "$1" in
remove|upgrade|deconfigure)
	if dkms status -m {MODULE} -v {version} | grep -q .; then
		dkms remove -m {MODULE} -v {version} --all || true
	fi
	;;
esac
exit 0
"#
    )
}

/// Builds the module from an unpacked DKMS tree the way DKMS does: MAKE[0]
/// of its dkms.conf, run in a copy of the tree (kept between runs) with `kernel_source_dir` the
/// headers (cross-compiled for arm64 here). Returns the .ko.
pub fn build_like_dkms(tree: &Path, headers: &Path, build_dir: &Path) -> Result<std::path::PathBuf> {
    let conf_text = std::fs::read_to_string(tree.join("dkms.conf")).with_context(|| format!("{} has no dkms.conf", tree.display()))?;
    let make = conf_value(&conf_text, "MAKE[0]").context("dkms.conf has no MAKE[0]")?;
    let module = conf_value(&conf_text, "BUILT_MODULE_NAME[0]").context("dkms.conf has no BUILT_MODULE_NAME[0]")?;
    std::fs::create_dir_all(build_dir)?;
    for entry in std::fs::read_dir(tree)? {
        let path = entry?.path();
        if path.is_file() {
            // Unchanged files keep their time stamps, so kbuild rebuilds
            // only what changed (DKMS itself starts from a fresh copy).
            let dest = build_dir.join(path.file_name().unwrap_or_default());
            if std::fs::read(&dest).ok() != Some(std::fs::read(&path)?) {
                std::fs::copy(&path, &dest)?;
            }
        }
    }
    // DKMS expands ${kernel_source_dir} itself; sh does the same from the
    // environment. ARCH and CROSS_COMPILE reach kbuild from the environment.
    let status = crate::cmd::run_quiet(
        Command::new("sh")
            .args(["-c", make])
            .current_dir(build_dir)
            .env("kernel_source_dir", headers)
            .env("ARCH", "arm64")
            .env("CROSS_COMPILE", "aarch64-linux-gnu-"),
        &format!("DKMS build of {module}.ko against {}", headers.display()),
    );
    status?;
    let ko = build_dir.join(format!("{module}.ko"));
    if !ko.exists() {
        bail!("the DKMS MAKE command succeeded but left no {}", ko.display());
    }
    Ok(ko)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conf_names_the_module_and_version() {
        let c = conf("1.2.3");
        assert_eq!(conf_value(&c, "PACKAGE_NAME"), Some("syshyper"));
        assert_eq!(conf_value(&c, "PACKAGE_VERSION"), Some("1.2.3"));
        assert_eq!(conf_value(&c, "BUILT_MODULE_NAME[0]"), Some("syshyper"));
        assert_eq!(conf_value(&c, "MAKE[0]"), Some("make KDIR=${kernel_source_dir} modules"));
        assert_eq!(conf_value(&c, "AUTOINSTALL"), Some("yes"));
        assert_eq!(conf_value(&c, "MISSING"), None);
    }

    #[test]
    fn kbuild_objects_are_read_from_the_driver() {
        let k = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../driver/Kbuild")).unwrap();
        let objs = kbuild_objects(&k);
        assert!(objs.contains(&"main.o".to_string()) && objs.len() > 3, "{objs:?}");
        assert_eq!(kbuild_objects("obj-m := x.o\nsyshyper-y := a.o b.o\nsyshyper-y += c.o\n"), ["a.o", "b.o", "c.o"]);
    }

    #[test]
    fn maintainer_scripts_are_valid_shell() {
        for s in [postinst("0.1.0"), prerm("0.1.0")] {
            let out = Command::new("sh").args(["-n", "-c", &s]).output().unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

//! The guest's initramfs: busybox, an /init that mounts the usual file
//! systems and runs one script, and the files the caller adds.

use super::cpio::{self, Entry};
use anyhow::{bail, Context, Result};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Where /init finds the script it runs.
pub const SCRIPT_PATH: &str = "/etc/syshyper/run.sh";
/// /init prints this, then the script's exit status, before powering off.
pub const EXIT_MARKER: &str = "syshyper-guest: exit status ";
/// Debian's UIO core in the guest; /init loads it before any script runs,
/// as syshyper.ko depends on it (the ivshmem devices).
pub const UIO_MODULE: &str = "/lib/modules/uio.ko";
/// /init prints this once the file systems are mounted.
pub const READY_MARKER: &str = "syshyper-guest: ready";

/// The /init program (busybox sh). `poweroff -f` ends QEMU through PSCI
/// SYSTEM_OFF with status 0, so the script's status travels on the console.
/// It exports `SYS_CONFIG`, the file name of the machine's system
/// configuration (`qemu-virt.cell`, or `qemu-virt-gicv2.cell` with
/// `--gic 2`): the scripts enable with `$C/$SYS_CONFIG`; and
/// `SMMU_CONFIG`, the one with the SMMU (`qemu-virt-smmu.cell` or its
/// GICv2 twin).
pub fn init_script() -> String {
    let sys_config = crate::qemu::system_config_for_gic("qemu-virt.cell");
    let smmu_config = crate::qemu::system_config_for_gic("qemu-virt-smmu.cell");
    format!(
        r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYS_CONFIG={sys_config}
export SMMU_CONFIG={smmu_config}
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /tmp
# syshyper.ko needs the UIO core (a module in Debian's kernel).
[ -f {UIO_MODULE} ] && insmod {UIO_MODULE}
# The tool behaves as Jailhouse's when called by that name.
[ -x /usr/sbin/syshyper ] && ln -sf syshyper /usr/sbin/jailhouse
echo "{READY_MARKER}"
sh {SCRIPT_PATH}
status=$?
echo "{EXIT_MARKER}$status"
poweroff -f
"#
    )
}

/// The script's exit status from the guest console, if /init got that far.
pub fn exit_status(console: &str) -> Option<i32> {
    console.lines().rev().find_map(|l| {
        let at = l.find(EXIT_MARKER)?;
        l[at + EXIT_MARKER.len()..].trim().parse().ok()
    })
}

/// Every parent folder of `path` that is not yet in `dirs`, outermost first.
fn parents(path: &str, dirs: &mut BTreeSet<String>, out: &mut Vec<Entry>) {
    let mut acc = String::new();
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    for part in &parts[..parts.len().saturating_sub(1)] {
        acc.push('/');
        acc.push_str(part);
        if dirs.insert(acc.clone()) {
            out.push(Entry::Dir { path: acc.clone() });
        }
    }
}

/// The archive's members: the base system, then `files` (source, absolute
/// destination in the guest), then the script run by /init.
pub fn entries(busybox: &[u8], files: &[(Vec<u8>, String, bool)], script: &str) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    let mut dirs = BTreeSet::new();
    for d in ["/bin", "/sbin", "/usr/bin", "/usr/sbin", "/dev", "/proc", "/sys", "/tmp", "/etc/syshyper", "/lib/firmware"] {
        parents(&format!("{d}/x"), &mut dirs, &mut out);
    }
    // The kernel opens /dev/console for /init before devtmpfs is mounted.
    out.push(Entry::CharDev { path: "/dev/console".into(), major: 5, minor: 1 });
    out.push(Entry::File { path: "/bin/busybox".into(), data: busybox.to_vec(), executable: true });
    out.push(Entry::Symlink { path: "/bin/sh".into(), target: "busybox".into() });
    out.push(Entry::File { path: "/init".into(), data: init_script().into_bytes(), executable: true });
    for (data, dest, executable) in files {
        if !dest.starts_with('/') || dest.split('/').any(|p| p == "..") {
            bail!("guest destination {dest:?} must be an absolute path without ..");
        }
        parents(dest, &mut dirs, &mut out);
        out.push(Entry::File { path: dest.clone(), data: data.clone(), executable: *executable });
    }
    out.push(Entry::File { path: SCRIPT_PATH.into(), data: script.as_bytes().to_vec(), executable: true });
    Ok(out)
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Writes `out` (cpio newc, gzip).
pub fn build(busybox: &Path, files: &[(PathBuf, String)], script: &str, out: &Path) -> Result<PathBuf> {
    let bb = std::fs::read(busybox).with_context(|| format!("cannot read {}", busybox.display()))?;
    let mut loaded = Vec::new();
    for (src, dest) in files {
        let data = std::fs::read(src).with_context(|| format!("cannot read {} (for {dest} in the guest)", src.display()))?;
        loaded.push((data, dest.clone(), is_executable(src)));
    }
    let archive = cpio::archive(&entries(&bb, &loaded, script)?);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let file = std::fs::File::create(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut gzip = Command::new("gzip")
        .args(["-6", "-n", "-c"])
        .stdin(Stdio::piped())
        .stdout(file)
        .spawn()
        .context("cannot run gzip")?;
    gzip.stdin.take().context("gzip stdin")?.write_all(&archive).context("writing to gzip")?;
    let status = gzip.wait()?;
    if !status.success() {
        bail!("gzip failed with {status}");
    }
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_status_is_read_from_the_last_marker() {
        let log = "x\nsyshyper-guest: exit status 0\r\nmore\nsyshyper-guest: exit status 3\r\n[ 1.0] reboot: Power down\n";
        assert_eq!(exit_status(log), Some(3));
        assert_eq!(exit_status("boot log without it\n"), None);
    }

    #[test]
    fn added_files_get_their_folders_once() {
        let files = vec![
            (b"a".to_vec(), "/opt/x/a".to_string(), false),
            (b"b".to_vec(), "/opt/x/b".to_string(), true),
        ];
        let e = entries(b"bb", &files, "true").unwrap();
        let dirs: Vec<_> = e.iter().filter(|e| matches!(e, Entry::Dir { path } if path.starts_with("/opt"))).collect();
        assert_eq!(dirs.len(), 2, "{dirs:?}");
        let pos = |p: &str| e.iter().position(|x| matches!(x, Entry::Dir { path } | Entry::File { path, .. } if path == p)).unwrap();
        assert!(pos("/opt/x") < pos("/opt/x/a"));
    }

    #[test]
    fn init_loads_uio_before_the_script() {
        let init = init_script();
        let uio = init.find(&format!("insmod {UIO_MODULE}")).unwrap();
        assert!(uio < init.find(&format!("sh {SCRIPT_PATH}")).unwrap());
    }

    #[test]
    fn relative_or_escaping_destinations_are_refused() {
        assert!(entries(b"", &[(vec![], "etc/x".into(), false)], "").is_err());
        assert!(entries(b"", &[(vec![], "/a/../../x".into(), false)], "").is_err());
    }
}

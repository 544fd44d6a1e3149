//! The Linux guest for `cargo xtask run`: Debian's stock arm64 kernel, the
//! sysHyper kernel module built against its headers, and a busybox initramfs.
//!
//! How xtask uses it (all paths absolute; outputs under `<root>/target`):
//!
//! ```ignore
//! let guest = guest::prepare_guest(&root.join("target/guest-cache"))?;  // cached after the first run
//! let ko = guest::build_module(&guest, &root.join("driver"), &root.join("target/guest/driver"))?;
//! let mut files = guest::standard_files(&ko, &tool, &images.join("syshyper.bin"),
//!                                       &images.join("configs"), &images.join("inmates"))?;
//! files.extend(user_with);                         // --with FILE[:DEST], DEST default /root/<name>
//! let script = std::fs::read_to_string(script_file)?;  // --script; or guest::DEMO_SCRIPT / guest::SHELL_SCRIPT
//! let initrd = guest::build_initramfs(&guest, &files, &script, &root.join("target/guest/initramfs.cpio.gz"))?;
//! let args = guest::linux_qemu_args(&guest, &initrd, "");
//! // qemu-system-aarch64 <args>; wait for guest::READY_MARKER on the console
//! // (kernel up, /init running), then for QEMU to exit; the script's status
//! // is guest::exit_status(&console) (None: the guest never finished).
//! ```
//!
//! Guest scripts in guest/: `demo.sh` (the default, `DEMO_SCRIPT`),
//! `smoke.sh` (driver and tool checks without a working hypervisor; add
//! `mem=1024M` to `append` to check the "memory not reserved" error) and
//! `lifecycle.sh` (every command and error case against the hypervisor);
//! both print `[PASS]`/`[FAIL]` lines and exit non-zero on failure.
//!
//! `tool` is the static `syshyper` binary (`cargo build --release --target
//! aarch64-unknown-linux-musl --bin syshyper`). In the guest: the module at
//! /lib/modules/syshyper.ko (loaded by the scripts with `insmod`; /init has
//! loaded Debian's /lib/modules/uio.ko, which it needs, before), the image at
//! /lib/firmware/syshyper.bin, the tool at /usr/sbin/syshyper (and a
//! /usr/sbin/jailhouse link to it), configs in /etc/syshyper/configs, inmates in
//! /etc/syshyper/inmates.

mod cell;
mod cpio;
mod debian;
mod initramfs;
pub mod kernel;
mod kmod;
pub mod vblk;

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

pub use cell::{linux_cell_files, linux_cell_files_with, CELL_INITRD, CELL_KERNEL};
pub use initramfs::{exit_status, EXIT_MARKER, READY_MARKER};

/// Debian's kernel and tools, unpacked in the cache.
#[derive(Debug, Clone)]
pub struct Guest {
    /// e.g. "6.1.0-56"
    pub abi: String,
    /// The arm64 Image QEMU boots (`-kernel`).
    pub kernel_image: PathBuf,
    /// Kbuild tree for out-of-tree modules.
    pub headers_dir: PathBuf,
    /// Static arm64 busybox.
    pub busybox: PathBuf,
    /// Debian's UIO core module (CONFIG_UIO=m): syshyper.ko registers the
    /// ivshmem devices with it, so /init loads it first.
    pub uio_module: PathBuf,
}

/// The default script: the demo (guest/demo.sh).
pub const DEMO_SCRIPT: &str = include_str!("../../../guest/demo.sh");

/// Script for `--ivshmem` (guest/ivshmem-demo.sh): the root and the
/// ivshmem-demo cell exchange messages over ivshmem.
pub const IVSHMEM_SCRIPT: &str = include_str!("../../../guest/ivshmem-demo.sh");

/// Script for `--linux-cell` (guest/linux-cell-demo.sh): the root boots
/// Debian's kernel in a Linux cell, shows its console, then stops it.
pub const LINUX_CELL_SCRIPT: &str = include_str!("../../../guest/linux-cell-demo.sh");

/// Script for `--shell`: a root shell on the console with job control.
pub const SHELL_SCRIPT: &str = "insmod /lib/modules/syshyper.ko\necho 'sysHyper guest shell; exit to power off'\nsetsid cttyhack sh\n";

/// Downloads (once) and unpacks Debian's arm64 kernel, headers and busybox
/// into `cache_dir/<abi>`: the kernel `--kernel` chose (`kernel::select`),
/// else the distribution's default. Needs apt; prints progress; idempotent.
pub fn prepare_guest(cache_dir: &Path) -> Result<Guest> {
    let choice = kernel::selected();
    let k = match debian::resolve(&choice, cache_dir) {
        Ok(found) => found,
        // Offline or without apt lists, a complete earlier download still works.
        Err(e) => match debian::cached_abi(cache_dir, &choice) {
            Some(abi) => {
                println!("[guest] apt cannot resolve the kernel ({e:#}); using cached {abi}");
                debian::Resolved { abi, version: String::new(), kbuild: String::new() }
            }
            None => return Err(e.context("cannot find Debian's arm64 kernel packages")),
        },
    };
    let root = debian::fetch(&cache_dir.join(&k.abi), &k)?;
    let abi = k.abi;
    let guest = Guest {
        kernel_image: root.join(format!("boot/vmlinuz-{abi}-arm64")),
        headers_dir: root.join(format!("usr/src/linux-headers-{abi}-arm64")),
        busybox: root.join("bin/busybox"),
        uio_module: root.join(format!("lib/modules/{abi}-arm64/kernel/drivers/uio/uio.ko")),
        abi,
    };
    decompress_module(&guest.uio_module)?;
    for p in [&guest.kernel_image, &guest.headers_dir, &guest.busybox, &guest.uio_module] {
        if !p.exists() {
            anyhow::bail!("{} is missing from the unpacked packages; delete {} to fetch again", p.display(), cache_dir.join(&guest.abi).display());
        }
    }
    Ok(guest)
}

/// Debian's 6.12 packages ship modules xz-compressed (`uio.ko.xz`), which
/// busybox's insmod does not read: unpack `module` next to it once.
fn decompress_module(module: &Path) -> Result<()> {
    let xz = module.with_extension("ko.xz");
    if module.exists() || !xz.exists() {
        return Ok(());
    }
    let out = crate::cmd::output(std::process::Command::new("xz").args(["-dc"]).arg(&xz))?;
    if !out.status.success() {
        anyhow::bail!("cannot decompress {}: {}", xz.display(), String::from_utf8_lossy(&out.stderr).trim());
    }
    std::fs::write(module, out.stdout).with_context(|| format!("cannot write {}", module.display()))
}

/// Builds `driver_src` (the driver/ folder) in `build_dir`; returns syshyper.ko.
pub fn build_module(guest: &Guest, driver_src: &Path, build_dir: &Path) -> Result<PathBuf> {
    println!("[guest] kernel module for Debian kernel {}-arm64", guest.abi);
    kmod::build(&guest.headers_dir, driver_src, build_dir)
}

/// Files for an initramfs: (host path, path in the guest).
pub type GuestFiles = Vec<(PathBuf, String)>;

/// What every Linux guest of this build starts from: Debian's guest (from
/// the cache), the module built for its kernel in `workdir`/driver, and
/// [`standard_files`] of the build's hypervisor, configs and inmates.
pub fn standard_guest(p: &crate::paths::Paths, workdir: &Path) -> Result<(Guest, PathBuf, GuestFiles)> {
    let g = prepare_guest(&p.out.join("guest-cache"))?;
    let ko = build_module(&g, &p.root.join("driver"), &workdir.join("driver"))?;
    let tool = crate::images::build_musl_tool(p)?;
    let files = standard_files(&ko, &tool, &p.images().join("syshyper.bin"), &p.config_images(), &p.inmate_images())?;
    Ok((g, ko, files))
}

/// The usual guest files: module, tool (/init links `jailhouse` to it), hypervisor
/// image, every `*.cell` of `configs` and every `*.bin` of `inmates`.
pub fn standard_files(module: &Path, tool: &Path, hv_image: &Path, configs: &Path, inmates: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut files = vec![
        (module.to_path_buf(), "/lib/modules/syshyper.ko".to_string()),
        (tool.to_path_buf(), "/usr/sbin/syshyper".to_string()),
        (hv_image.to_path_buf(), "/lib/firmware/syshyper.bin".to_string()),
    ];
    for (dir, ext, dest) in [(configs, "cell", "/etc/syshyper/configs"), (inmates, "bin", "/etc/syshyper/inmates")] {
        let Ok(list) = std::fs::read_dir(dir) else { continue };
        let mut found: Vec<PathBuf> = list.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.extension().is_some_and(|x| x == ext)).collect();
        found.sort();
        for p in found {
            let name = p.file_name().context("file name")?.to_string_lossy().into_owned();
            files.push((p, format!("{dest}/{name}")));
        }
    }
    Ok(files)
}

/// Parses `--with FILE[:DEST]`; DEST defaults to /root/<file name>.
pub fn parse_with(arg: &str) -> Result<(PathBuf, String)> {
    let (src, dest) = match arg.split_once(':') {
        Some((s, d)) => (s, d.to_string()),
        None => {
            let name = Path::new(arg).file_name().with_context(|| format!("--with {arg}: no file name"))?;
            (arg, format!("/root/{}", name.to_string_lossy()))
        }
    };
    if !dest.starts_with('/') {
        anyhow::bail!("--with {arg}: the guest path {dest:?} must be absolute");
    }
    Ok((PathBuf::from(src), dest))
}

/// Writes the initramfs (cpio newc + gzip) to `out`: busybox, /init running
/// `script`, Debian's uio.ko (/init loads it) and `files` (host source,
/// absolute guest destination).
pub fn build_initramfs(guest: &Guest, files: &[(PathBuf, String)], script: &str, out: &Path) -> Result<PathBuf> {
    let mut all = vec![(guest.uio_module.clone(), initramfs::UIO_MODULE.to_string())];
    all.extend_from_slice(files);
    initramfs::build(&guest.busybox, &all, script, out)
}

/// QEMU's arguments for the Linux guest (platform.md "QEMU machine") on
/// QEMU virt. `append` adds kernel parameters.
pub fn linux_qemu_args(guest: &Guest, initramfs: &Path, append: &str) -> Vec<String> {
    linux_qemu_args_for(crate::platform::Platform::Virt, guest, initramfs, append)
}

/// [`linux_qemu_args`] on `platform`.
pub fn linux_qemu_args_for(platform: crate::platform::Platform, guest: &Guest, initramfs: &Path, append: &str) -> Vec<String> {
    let mut cmdline = format!("{} kvm-arm.mode=none nokaslr quiet", platform.kernel_params());
    if !append.is_empty() {
        cmdline.push(' ');
        cmdline.push_str(append);
    }
    let mut args = platform.linux_machine_args();
    args.extend(["-nic", "none"].iter().map(|s| s.to_string()));
    args.extend([
        "-kernel".to_string(),
        guest.kernel_image.display().to_string(),
        "-initrd".to_string(),
        initramfs.display().to_string(),
        "-append".to_string(),
        cmdline,
    ]);
    if let Some(dtb) = platform.dtb(&guest.package_root(), &guest.abi) {
        args.extend(["-dtb".to_string(), dtb.display().to_string()]);
    }
    args
}

/// [`linux_qemu_args_for`], with the device tree made ready for QEMU's
/// model next to `initramfs` (platform::zcu102_dtb) where the platform
/// boots with Debian's.
pub fn linux_qemu_args_prepared(platform: crate::platform::Platform, guest: &Guest, initramfs: &Path, append: &str) -> Result<Vec<String>> {
    let mut args = linux_qemu_args_for(platform, guest, initramfs, append);
    if let Some(i) = args.iter().position(|a| a == "-dtb") {
        let out = initramfs.with_file_name(format!("{}.dtb", platform.name()));
        let dtb = crate::platform::zcu102_dtb(Path::new(&args[i + 1]), &out)?;
        args[i + 1] = dtb.display().to_string();
    }
    Ok(args)
}

impl Guest {
    /// The unpacked kernel package (kernel_image is <root>/boot/vmlinuz-...).
    pub fn package_root(&self) -> PathBuf {
        self.kernel_image
            .parent()
            .and_then(|b| b.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_defaults_to_root_folder() {
        assert_eq!(parse_with("a/b.sh").unwrap(), (PathBuf::from("a/b.sh"), "/root/b.sh".to_string()));
        assert_eq!(parse_with("x:/etc/y").unwrap(), (PathBuf::from("x"), "/etc/y".to_string()));
        assert!(parse_with("x:etc/y").is_err());
    }

    #[test]
    fn qemu_boots_the_image_with_reserved_memory() {
        let g = Guest { abi: "a".into(), kernel_image: "/k".into(), headers_dir: "/h".into(), busybox: "/b".into(), uio_module: "/u".into() };
        let args = linux_qemu_args(&g, Path::new("/i.gz"), "x=1");
        let append = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert!(append.contains("mem=768M") && append.contains("kvm-arm.mode=none") && append.ends_with(" x=1"));
        assert!(args.windows(2).any(|w| w[0] == "-initrd" && w[1] == "/i.gz"));
        assert!(!args.iter().any(|a| a == "-dtb"), "virt: QEMU's own device tree");
    }

    #[test]
    fn zcu102_gets_debians_device_tree() {
        let g = Guest { abi: "6.1.0-57".into(), kernel_image: "/c/boot/vmlinuz".into(), headers_dir: "/h".into(), busybox: "/b".into(), uio_module: "/u".into() };
        let args = linux_qemu_args_for(crate::platform::Platform::Zcu102, &g, Path::new("/i.gz"), "");
        let append = &args[args.iter().position(|a| a == "-append").unwrap() + 1];
        assert!(append.contains("console=ttyPS0") && append.contains("mem=1792M"), "{append}");
        assert!(args.windows(2).any(|w| w[0] == "-dtb" && w[1] == "/c/usr/lib/linux-image-6.1.0-57-arm64/xilinx/zynqmp-zcu102-rev1.0.dtb"));
    }
}

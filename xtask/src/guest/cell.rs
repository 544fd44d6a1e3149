//! The Linux cell's files for the root's initramfs: Debian's kernel (the
//! same Image the root boots) and the cell's own initramfs, whose /init is
//! the root's (xtask/src/guest/initramfs.rs) running guest/linux-cell/run.sh.

use super::Guest;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// What the cell's /init runs.
pub const CELL_SCRIPT: &str = include_str!("../../../guest/linux-cell/run.sh");
/// Where the root finds the cell's kernel and initramfs.
pub const CELL_KERNEL: &str = "/etc/syshyper/linux/Image";
pub const CELL_INITRD: &str = "/etc/syshyper/linux/initramfs.cpio.gz";

/// The cell's side of ivshmem-net (docs/ivshmem-net.md), which run.sh
/// sources from here, and the root's, which the demo script sources.
pub const CELL_NET_SCRIPT: &str = include_str!("../../../guest/linux-cell/cell-net.sh");
pub const CELL_NET_PATH: &str = "/etc/syshyper/cell-net.sh";
pub const ROOT_NET_SCRIPT: &str = include_str!("../../../guest/linux-cell/root-net.sh");
pub const ROOT_NET_PATH: &str = "/etc/syshyper/root-net.sh";

/// Builds the cell's initramfs in `dir` (with the kernel module, for its
/// ivshmem-net device) and returns the files to add to the root's.
pub fn linux_cell_files(guest: &Guest, module: &Path, dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    linux_cell_files_with(guest, module, &[], dir)
}

/// [`linux_cell_files`] with `extra` files (host path, guest path) in the
/// cell's initramfs as well.
pub fn linux_cell_files_with(
    guest: &Guest,
    module: &Path,
    extra: &[(PathBuf, String)],
    dir: &Path,
) -> Result<Vec<(PathBuf, String)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let write = |name: &str, text: &str| -> Result<PathBuf> {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        Ok(path)
    };
    let mut files = vec![
        (module.to_path_buf(), "/lib/modules/syshyper.ko".to_string()),
        (write("cell-net.sh", CELL_NET_SCRIPT)?, CELL_NET_PATH.to_string()),
    ];
    files.extend(extra.iter().cloned());
    let initrd = super::build_initramfs(guest, &files, CELL_SCRIPT, &dir.join("cell-initramfs.cpio.gz"))?;
    Ok(vec![
        (guest.kernel_image.clone(), CELL_KERNEL.to_string()),
        (initrd, CELL_INITRD.to_string()),
        (write("root-net.sh", ROOT_NET_SCRIPT)?, ROOT_NET_PATH.to_string()),
    ])
}

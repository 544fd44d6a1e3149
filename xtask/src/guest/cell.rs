//! The Linux cell's files for the root's initramfs: Debian's kernel (the
//! same Image the root boots) and the cell's own initramfs, whose /init is
//! the root's (xtask/src/guest/initramfs.rs) running guest/linux-cell/run.sh.

use super::Guest;
use anyhow::Result;
use std::path::{Path, PathBuf};

/// What the cell's /init runs.
pub const CELL_SCRIPT: &str = include_str!("../../../guest/linux-cell/run.sh");
/// Where the root finds the cell's kernel and initramfs.
pub const CELL_KERNEL: &str = "/etc/syshyper/linux/Image";
pub const CELL_INITRD: &str = "/etc/syshyper/linux/initramfs.cpio.gz";

/// Builds the cell's initramfs in `dir` (with the kernel module, for its
/// ivshmem-net device) and returns the files to add to the root's.
pub fn linux_cell_files(guest: &Guest, module: &Path, dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let files = [(module.to_path_buf(), "/lib/modules/syshyper.ko".to_string())];
    let initrd = super::build_initramfs(guest, &files, CELL_SCRIPT, &dir.join("cell-initramfs.cpio.gz"))?;
    Ok(vec![(guest.kernel_image.clone(), CELL_KERNEL.to_string()), (initrd, CELL_INITRD.to_string())])
}

//! `config-create-boards`: `syshyper config create` on device trees of real
//! boards (tools/tests/config_create_boards.rs). The .dtb files come from
//! Debian's arm64 kernel package that the Linux tests already download and
//! unpack (target/guest-cache), so they are never part of this repository.

use crate::guest;
use crate::paths::Paths;
use anyhow::{Context, Result};

pub fn run(p: &Paths) -> Result<()> {
    let g = guest::prepare_guest(&p.out.join("guest-cache"))?;
    // kernel_image is <root>/boot/vmlinuz-...; the dtbs are under the same root.
    let root = g
        .kernel_image
        .parent()
        .and_then(|b| b.parent())
        .context("unexpected guest kernel path")?;
    let dtbs = root.join(format!("usr/lib/linux-image-{}-arm64", g.abi));
    anyhow::ensure!(dtbs.is_dir(), "{} is missing from the unpacked kernel package", dtbs.display());
    crate::cmd::run(
        p.cargo()
            .args(["test", "-p", "syshyper-tools", "--test", "config_create_boards", "--", "--ignored"])
            .env("SYSHYPER_DTB_DIR", &dtbs),
    )
}

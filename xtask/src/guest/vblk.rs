//! The virtio-blk disk of linux-cell-boot (docs/passthrough.md "A Linux
//! cell with a virtio-blk disk"): QEMU virt with its SMMUv3, a
//! `virtio-blk-pci` function at 00:05.0 whose disk is a cpio archive
//! holding one file of random bytes (written here at test time, so the
//! SHA-256 the guests must find comes from the data, not from the test),
//! and Debian's virtio modules for the root's and the cell's initramfs.

use super::Guest;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

/// The file in the disk's archive, and its size.
pub const PAYLOAD: &str = "payload.bin";
const PAYLOAD_SIZE: usize = 1 << 20;
/// Where both initramfs images carry the modules, and where the root's
/// carries the expected `sha256sum` line of the payload.
pub const MODULE_DIR: &str = "/etc/syshyper/vblk";
pub const SUM_PATH: &str = "/etc/syshyper/vblk/payload.sha256";
/// Debian's 6.1 builds virtio and virtio_ring in; these four are modules,
/// loaded in this order (virtio_pci needs both transports' helpers).
const MODULES: [&str; 4] = [
    "virtio/virtio_pci_legacy_dev",
    "virtio/virtio_pci_modern_dev",
    "virtio/virtio_pci",
    "block/virtio_blk",
];

/// The device: modern-only (no I/O BAR, which a cell could not get) and
/// without MSI-X vectors (QEMU virt runs with `its=off`: no MSI
/// controller; virtio then uses INTx), so its one BAR is the 16 KiB
/// 64-bit BAR4 of the virtio structures. Slot 5: stream id 0x28, INTA =
/// INTID 36.
const DEVICE: &str = "virtio-blk-pci,drive=vblk,addr=05.0,disable-legacy=on,vectors=0";

/// What the test adds to the root's and the cell's initramfs.
pub struct Disk {
    /// The raw disk image QEMU gets.
    pub image: PathBuf,
    /// Module files (host path, guest path) for both initramfs images.
    pub modules: Vec<(PathBuf, String)>,
    /// The payload's `sha256sum` line (host path, guest path) for the root.
    pub sum: (PathBuf, String),
}

/// Writes the disk and the payload's checksum in `dir`.
pub fn prepare(guest: &Guest, dir: &Path) -> Result<Disk> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut payload = vec![0u8; PAYLOAD_SIZE];
    {
        use std::io::Read;
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut payload))
            .context("cannot read /dev/urandom")?;
    }
    let payload_path = dir.join(PAYLOAD);
    std::fs::write(&payload_path, &payload).with_context(|| format!("cannot write {}", payload_path.display()))?;
    let out = crate::cmd::output(std::process::Command::new("sha256sum").arg(PAYLOAD).current_dir(dir))?;
    if !out.status.success() {
        anyhow::bail!("sha256sum {} failed", payload_path.display());
    }
    let sum = dir.join("payload.sha256");
    std::fs::write(&sum, &out.stdout).with_context(|| format!("cannot write {}", sum.display()))?;
    let mut archive = super::cpio::archive(&[super::cpio::Entry::File {
        path: PAYLOAD.to_string(),
        data: payload,
        executable: false,
    }]);
    // Whole 64 KiB: a disk is made of 512-byte sectors.
    archive.resize(archive.len().next_multiple_of(64 << 10), 0);
    let image = dir.join("vblk.img");
    std::fs::write(&image, &archive).with_context(|| format!("cannot write {}", image.display()))?;
    let drivers = guest
        .package_root()
        .join(format!("lib/modules/{}-arm64/kernel/drivers", guest.abi));
    let modules = MODULES
        .iter()
        .map(|m| {
            let host = drivers.join(format!("{m}.ko"));
            super::decompress_module(&host)?;
            let name = m.rsplit('/').next().unwrap_or(m);
            Ok((host, format!("{MODULE_DIR}/{name}.ko")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Disk { image, modules, sum: (sum, SUM_PATH.to_string()) })
}

/// Adds the SMMU, the disk and the device to the root's QEMU `args`, and
/// boots it with QEMU's own device tree with the SMMU node disabled: the
/// hypervisor drives the unit once enabled (Jailhouse's way with a late
/// launch); before, the unit is off and DMA bypasses it, and Linux treats
/// the `iommu-map` of the PCIe node, which points at a disabled node, as
/// no IOMMU. The host bridge keeps its 64-bit window (512 GiB at
/// 0x80_0000_0000), where Linux puts the 64-bit BAR: the root's and the
/// cell's configurations map it there (configs/qemu-virt*.toml,
/// configs/linux-cell-vblk.toml), and the guest script checks it.
pub fn add_machine(args: &mut Vec<String>, disk: &Disk, dir: &Path) -> Result<()> {
    let qemu_extra = [
        "-M".to_string(),
        "iommu=smmuv3".to_string(),
        "-drive".to_string(),
        format!("file={},if=none,format=raw,id=vblk", disk.image.display()),
        "-device".to_string(),
        DEVICE.to_string(),
    ];
    args.extend(qemu_extra);
    let dtb = dir.join("virt-vblk.dtb");
    let mut dump = std::process::Command::new(crate::qemu::QEMU);
    dump.args(args.iter()).arg("-M").arg(format!("dumpdtb={}", dtb.display()));
    let out = crate::cmd::output(&mut dump)?;
    if !out.status.success() || !dtb.exists() {
        anyhow::bail!("QEMU did not dump its device tree: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let smmu = "/smmuv3@9050000";
    let pcie = "/pcie@10000000";
    // (pci flags, pci address hi, lo, cpu address hi, lo, size hi, lo) per
    // window: the 64-bit one must be where the configurations say.
    let ranges = fdtget(&dtb, pcie, "ranges")?;
    let high = ["0x3000000", "0x80", "0x0", "0x80", "0x0", "0x80", "0x0"];
    if !ranges.chunks(7).any(|w| w == high) {
        anyhow::bail!("{pcie} ranges of QEMU's device tree have no 64-bit window of 512 GiB at 512 GiB: {ranges:?}");
    }
    let mut disable = std::process::Command::new("fdtput");
    disable.arg("-t").arg("s").arg(&dtb).args([smmu, "status", "disabled"]);
    crate::cmd::run(&mut disable).context("fdtput (SMMU status)")?;
    args.extend(["-dtb".to_string(), dtb.display().to_string()]);
    Ok(())
}

/// A property's cells, in hex (`0x...`).
fn fdtget(dtb: &Path, node: &str, prop: &str) -> Result<Vec<String>> {
    let out = crate::cmd::output(std::process::Command::new("fdtget").args(["-t", "x"]).arg(dtb).args([node, prop]))?;
    if !out.status.success() {
        anyhow::bail!("fdtget {node} {prop}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().map(|c| format!("0x{c}")).collect())
}

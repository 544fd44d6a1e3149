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

/// The device: modern-only (no I/O BAR, which a cell could not get), so
/// its BARs are the 16 KiB 64-bit BAR4 of the virtio structures and
/// BAR1, the MSI-X table and PBA (QEMU's default vectors: one per queue
/// and one for configuration changes). Slot 5: stream id 0x28, INTA =
/// INTID 36. The root's Linux uses INTx (its device tree has no MSI
/// controller left, [`add_machine`]); the cell's uses MSI-X through the
/// hypervisor's ITS on GICv3, INTx on GICv2.
const DEVICE: &str = "virtio-blk-pci,drive=vblk,addr=05.0,disable-legacy=on";
/// The GIC node of QEMU virt's device tree and the compatibles of the MSI
/// controllers under it (GICv3's ITS, GICv2's v2m frame).
const GIC_NODE: &str = "/intc@8000000";
const MSI_CONTROLLERS: [&str; 2] = ["arm,gic-v3-its", "arm,gic-v2m-frame"];

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

/// Adds the SMMU, the GICv3 ITS (`its=on`), the disk and the device to
/// the root's QEMU `args`, and boots it with QEMU's own device tree
/// changed so that the root Linux leaves the SMMU and the MSI controller
/// alone:
/// - the SMMU node disabled: the hypervisor drives the unit once enabled
///   (Jailhouse's way with a late launch); before, the unit is off and
///   DMA bypasses it, and Linux treats the `iommu-map` of the PCIe node,
///   which points at a disabled node, as no IOMMU;
/// - the MSI controller under the GIC node disabled (GICv3: the ITS,
///   which the hypervisor owns and refuses to enable over if Linux drove
///   it; GICv2: the v2m frame, so that the root takes INTx on both), and
///   the PCIe node's `msi-map` deleted: with it, pointing at a disabled
///   node, Linux still tries MSI-X and warns (drivers/pci/msi/msi.h, no
///   MSI domain) before it falls back; without, it marks the bus no-MSI
///   and the root's virtio takes INTx at once.
///
/// The host bridge keeps its 64-bit window (512 GiB at 0x80_0000_0000),
/// where Linux puts the 64-bit BAR: the root's and the cell's
/// configurations map it there (configs/qemu-virt*.toml,
/// configs/linux-cell-vblk.toml), and the guest script checks it.
pub fn add_machine(args: &mut Vec<String>, disk: &Disk, dir: &Path) -> Result<()> {
    // The ITS (GICv3 only; QEMU's GICv2 machine has its v2m frame anyway).
    if let Some(i) = args.iter().position(|a| a == "-M") {
        if let Some(m) = args.get_mut(i + 1) {
            *m = m.replace("its=off", "its=on");
        }
    }
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
    let msi = msi_controller(&dtb)?;
    for node in [smmu, msi.as_str()] {
        let mut disable = std::process::Command::new("fdtput");
        disable.arg("-t").arg("s").arg(&dtb).args([node, "status", "disabled"]);
        crate::cmd::run(&mut disable).with_context(|| format!("fdtput ({node} status)"))?;
    }
    for prop in ["msi-map", "msi-parent"] {
        let has = crate::cmd::output(std::process::Command::new("fdtget").arg(&dtb).args([pcie, prop]))?.status.success();
        if has {
            let mut delete = std::process::Command::new("fdtput");
            delete.arg("-d").arg(&dtb).args([pcie, prop]);
            crate::cmd::run(&mut delete).with_context(|| format!("fdtput -d ({pcie} {prop})"))?;
        }
    }
    args.extend(["-dtb".to_string(), dtb.display().to_string()]);
    Ok(())
}

/// The path of the one MSI controller under the GIC node.
fn msi_controller(dtb: &Path) -> Result<String> {
    let out = crate::cmd::output(std::process::Command::new("fdtget").arg("-l").arg(dtb).arg(GIC_NODE))?;
    if !out.status.success() {
        anyhow::bail!("fdtget -l {GIC_NODE}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let mut found = Vec::new();
    for child in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let path = format!("{GIC_NODE}/{child}");
        let c = crate::cmd::output(std::process::Command::new("fdtget").arg(dtb).args([path.as_str(), "compatible"]))?;
        if MSI_CONTROLLERS.iter().any(|m| String::from_utf8_lossy(&c.stdout).trim() == *m) {
            found.push(path);
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        _ => anyhow::bail!("QEMU's device tree has {} MSI controllers under {GIC_NODE} ({found:?}), expected one", found.len()),
    }
}

/// A property's cells, in hex (`0x...`).
fn fdtget(dtb: &Path, node: &str, prop: &str) -> Result<Vec<String>> {
    let out = crate::cmd::output(std::process::Command::new("fdtget").args(["-t", "x"]).arg(dtb).args([node, prop]))?;
    if !out.status.success() {
        anyhow::bail!("fdtget {node} {prop}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).split_whitespace().map(|c| format!("0x{c}")).collect())
}

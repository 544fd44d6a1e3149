//! QEMU command lines: the common machine and the boot-first start
//! (contracts.md "Boot-first start on QEMU").

use crate::boot_blob::{self, BootArgs};
use crate::bundle;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const QEMU: &str = "qemu-system-aarch64";

/// Where QEMU's virt machine puts the device tree it generates when no
/// kernel is loaded (the start of RAM; seen with `-device loader` only:
/// the FDT magic is at 0x40000000). Boot-first passes it to the root as
/// x0, and the hypervisor reads the CPUs to start from it.
pub const VIRT_DTB: u64 = 0x4000_0000;

/// The GIC version of the QEMU machine (`--gic`): 3 unless set once at
/// start from the command line.
static GIC: std::sync::OnceLock<u8> = std::sync::OnceLock::new();

/// Chooses the GIC version for every QEMU run of this process (2 or 3;
/// anything else is refused by the caller's argument parser).
pub fn set_gic(version: u8) {
    let _ = GIC.set(version);
}

/// The GIC version chosen by [`set_gic`] (3 by default).
pub fn gic() -> u8 {
    GIC.get().copied().unwrap_or(3)
}

/// The system configuration of the chosen machine, for one named for
/// the GICv3 machine: `configs/qemu-virt.cell` becomes
/// `configs/qemu-virt-gicv2.cell` with `--gic 2`, and a variant
/// `qemu-virt-X.cell` (smmu, subpage) its GICv2 twin
/// `qemu-virt-gicv2-X.cell` (the cells' configs do not name the GIC and
/// are the same on both).
pub fn system_config_for_gic(config: &str) -> String {
    system_config_for(gic(), config)
}

/// [`system_config_for_gic`] for GIC version `gic`.
pub fn system_config_for(gic: u8, config: &str) -> String {
    if gic != 2 || config.ends_with(GICV2_SYSTEM_CONFIG) {
        return config.to_string();
    }
    let (dir, file) = config.rsplit_once('/').map_or(("", config), |(d, f)| (d, f));
    let sep = if dir.is_empty() { "" } else { "/" };
    match file.strip_prefix("qemu-virt") {
        Some(".cell") => format!("{dir}{sep}{GICV2_SYSTEM_CONFIG}"),
        Some(rest) if rest.starts_with('-') && !rest.starts_with("-gicv2") => {
            format!("{dir}{sep}qemu-virt-gicv2{rest}")
        }
        _ => config.to_string(),
    }
}

/// The system configuration of QEMU virt with `gic-version=2`.
pub const GICV2_SYSTEM_CONFIG: &str = "qemu-virt-gicv2.cell";

/// The system configuration that names QEMU virt's SMMUv3: a boot-first
/// test with it gets [`with_smmu`]'s machine.
pub const SMMU_SYSTEM_CONFIG: &str = "qemu-virt-smmu.cell";

/// Turns [`machine_args`] into the machine with an SMMUv3 in front of the
/// PCIe host bridge (`iommu=smmuv3`, registers at 0x09050000) and two
/// `edu` DMA test devices (which need MSI, so the GICv3 ITS is on) at
/// 00:01.0 and 00:02.0 (stream ids 0x8, 0x10)
/// whose DMA mask (28 bits by default, which would fold addresses above
/// 256 MiB into low memory) is widened to 40 bits.
pub fn with_smmu(args: &mut Vec<String>) {
    if let Some(i) = args.iter().position(|a| a == "-M") {
        if let Some(m) = args.get_mut(i + 1) {
            // edu needs MSI, which QEMU offers only with the ITS.
            *m = m.replace("its=off", "its=on");
            m.push_str(",iommu=smmuv3");
        }
    }
    for addr in ["01.0", "02.0"] {
        args.push("-device".into());
        args.push(format!("edu,addr={addr},dma_mask=0xffffffffff"));
    }
}

/// The `-M` value for GIC version `gic`.
pub fn machine(gic: u8) -> &'static str {
    if gic == 2 {
        "virt,gic-version=2,virtualization=on"
    } else {
        "virt,gic-version=3,virtualization=on,its=off"
    }
}

/// The machine every sysHyper run uses (platform.md "QEMU machine"),
/// with the GIC version chosen by `--gic`.
pub fn machine_args() -> Vec<String> {
    machine_args_for(gic())
}

/// [`machine_args`] with GIC version `gic`.
pub fn machine_args_for(gic: u8) -> Vec<String> {
    [
        "-M",
        machine(gic),
        "-cpu",
        "cortex-a57",
        "-smp",
        "4",
        "-m",
        "1G",
        "-nographic",
        "-nic",
        "none",
        "-semihosting-config",
        "enable=on,target=native",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

pub fn command(args: &[String]) -> Command {
    command_with(Path::new(QEMU), args)
}

/// [`command`] with another QEMU binary (`qemu_bpo`).
pub fn command_with(program: &Path, args: &[String]) -> Command {
    let mut cmd = Command::new(program);
    cmd.args(args);
    cmd
}

/// What to boot in boot-first mode.
#[derive(Debug, Clone, Default)]
pub struct BootFirst {
    pub hv_image: PathBuf,
    pub system_config: PathBuf,
    /// Raw program for the root cell's first CPU.
    pub root_program: Option<PathBuf>,
    /// Where to load it; default: the root cell's cpu_reset_address.
    pub root_addr: Option<u64>,
    /// Files for the bundle at `bundle::LOAD_ADDR` (name in the bundle, file).
    pub bundle: Vec<(String, PathBuf)>,
    /// Also tell the hypervisor to create and start the bundle's `cell:` entries.
    pub start_bundle_cells: bool,
    pub root_boot_arg: Option<u64>,
    /// More raw files to load (file, physical address), e.g. a kernel or a DTB.
    pub extra_loads: Vec<(PathBuf, u64)>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn loader(file: &Path, addr: u64) -> [String; 2] {
    [
        "-device".into(),
        format!("loader,file={},addr={addr:#x},force-raw=on", file.display()),
    ]
}

impl BootFirst {
    /// Writes the boot blob (and bundle) into `workdir` and returns the QEMU
    /// arguments that load them, after `machine_args()`.
    pub fn qemu_args(&self, workdir: &Path) -> Result<Vec<String>> {
        std::fs::create_dir_all(workdir)
            .with_context(|| format!("cannot create {}", workdir.display()))?;
        let image = read(&self.hv_image)?;
        let config = read(&self.system_config)?;
        let args = BootArgs {
            // Without a kernel of its own the root still gets the device
            // tree QEMU generated: the hypervisor starts the CPUs it lists.
            root_boot_arg: self.root_boot_arg.or(Some(VIRT_DTB)),
            boot_bundle: self.start_bundle_cells.then_some(bundle::LOAD_ADDR),
        };
        let blob = boot_blob::build(&image, &config, args).with_context(|| {
            format!(
                "boot blob from {} and {}",
                self.hv_image.display(),
                self.system_config.display()
            )
        })?;
        let blob_path = workdir.join("boot-first.bin");
        std::fs::write(&blob_path, &blob.bytes)
            .with_context(|| format!("cannot write {}", blob_path.display()))?;
        let mut out = Vec::new();
        out.extend(loader(&blob_path, blob.load_addr));
        out.extend([
            "-device".into(),
            format!("loader,addr={:#x},cpu-num=0", blob.entry_addr),
        ]);
        if let Some(root) = &self.root_program {
            if !root.is_file() {
                anyhow::bail!(
                    "root program {} is missing (not built yet?)",
                    root.display()
                );
            }
            let sys = crate::sysconfig::SystemInfo::parse(&config)?;
            out.extend(loader(
                root,
                self.root_addr.unwrap_or(sys.cpu_reset_address),
            ));
        }
        if !self.bundle.is_empty() || self.start_bundle_cells {
            let files = self
                .bundle
                .iter()
                .map(|(name, path)| Ok((name.clone(), read(path)?)))
                .collect::<Result<Vec<_>>>()?;
            let path = workdir.join("bundle.bin");
            std::fs::write(&path, bundle::build(&files)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
            out.extend(loader(&path, bundle::LOAD_ADDR));
        }
        for (file, addr) in &self.extra_loads {
            out.extend(loader(file, *addr));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod gic_tests {
    use super::*;

    #[test]
    fn gicv2_twins_of_the_system_configs() {
        assert_eq!(system_config_for(2, "configs/qemu-virt.cell"), "configs/qemu-virt-gicv2.cell");
        assert_eq!(system_config_for(2, "configs/qemu-virt-smmu.cell"), "configs/qemu-virt-gicv2-smmu.cell");
        assert_eq!(system_config_for(2, "qemu-virt-subpage.cell"), "qemu-virt-gicv2-subpage.cell");
        assert_eq!(system_config_for(2, "configs/qemu-virt-gicv2.cell"), "configs/qemu-virt-gicv2.cell");
        assert_eq!(system_config_for(2, "configs/zcu102.cell"), "configs/zcu102.cell");
        assert_eq!(system_config_for(3, "configs/qemu-virt-smmu.cell"), "configs/qemu-virt-smmu.cell");
    }

    #[test]
    fn machine_per_gic_version() {
        assert_eq!(machine(3), "virt,gic-version=3,virtualization=on,its=off");
        assert_eq!(machine(2), "virt,gic-version=2,virtualization=on");
    }
}

//! `cell linux CELLCONFIG KERNEL [-d DTB] [-i INITRD] [-c CMDLINE]`:
//! creates a cell and boots an arm64 Linux kernel in it (docs/linux-cell.md).
//! Without `-d`, the device tree comes from the cell configuration and
//! the system configuration (`dtb`).

pub mod dtb;
pub mod image;
pub mod layout;
pub mod machine;
pub mod stub;

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use syshyper_config::{CellConfig, SystemConfig, MAX_CELL_CONFIG_SIZE};

/// Where the system configuration is looked for without `--sysconfig`:
/// first the one the running hypervisor was enabled with (`enable` keeps a
/// copy there: the GIC version and addresses of the tree must be the
/// machine's, a GICv3 tree on a GICv2 board parks the cell's kernel at its
/// first distributor read), then the installed defaults.
pub const SYSCONFIG_DEFAULTS: [&str; 3] =
    [crate::driver::ENABLED_SYSCONFIG, "/etc/syshyper/sysconfig.cell", "/etc/syshyper/configs/qemu-virt.cell"];
/// Kernel command line without `-c`: the console, and a panic that
/// reboots (the boot stub then fails the cell, so the root sees it).
pub const DEFAULT_CMDLINE: &str = "console=ttyAMA0 panic=-1";

/// Arguments of `cell linux`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Cell configuration (.cell).
    pub config: PathBuf,
    /// arm64 kernel Image (uncompressed).
    pub kernel: PathBuf,
    /// Device tree to load instead of the generated one.
    #[arg(short = 'd', long = "dtb")]
    pub dtb: Option<PathBuf>,
    /// Initramfs.
    #[arg(short = 'i', long = "initrd")]
    pub initrd: Option<PathBuf>,
    /// Kernel command line.
    #[arg(short = 'c', long = "cmdline")]
    pub cmdline: Option<String>,
    /// Write the device tree to FILE and stop (no cell is created).
    #[arg(long = "dump-dtb", value_name = "FILE")]
    pub dump_dtb: Option<PathBuf>,
    /// System configuration (GIC and PCI host addresses); default: the
    /// first of /run/syshyper/sysconfig.cell (the one `enable` was given),
    /// /etc/syshyper/sysconfig.cell, /etc/syshyper/configs/qemu-virt.cell.
    #[arg(short = 's', long = "sysconfig")]
    pub sysconfig: Option<PathBuf>,
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// What `cell linux` loads: (data, guest address) in load order.
pub struct Plan {
    pub name: String,
    pub images: Vec<(Vec<u8>, u64)>,
    pub dtb: Vec<u8>,
    pub layout: layout::Layout,
}

/// Computes everything to load from the files' contents.
pub fn plan(cell_bytes: &[u8], sys_bytes: &[u8], kernel: Vec<u8>, initrd: Option<Vec<u8>>, dtb: Option<Vec<u8>>, cmdline: &str) -> Result<Plan> {
    let cell = CellConfig::parse_with_limit(cell_bytes, MAX_CELL_CONFIG_SIZE).map_err(|e| anyhow::anyhow!("invalid cell configuration: {e}"))?;
    let sys = SystemConfig::parse(sys_bytes).map_err(|e| anyhow::anyhow!("invalid system configuration: {e}"))?;
    let m = machine::Machine::of(&cell, &sys)?;
    for n in &m.notes {
        eprintln!("note: {n}");
    }
    let header = image::parse(&kernel)?;
    let reset = cell.cpu_reset_address();
    let ram = m
        .ram
        .iter()
        .copied()
        .find(|&(b, s)| reset >= b && reset - b < s)
        .with_context(|| format!("the cell's reset address {reset:#x} is not in its RAM (the boot stub goes there)"))?;
    let initrd_len = initrd.as_ref().map_or(0, |i| i.len() as u64);
    let l = layout::place(ram, reset, &header, initrd_len)?;
    let dtb = match dtb {
        Some(d) => d,
        None => {
            let chosen = dtb::Chosen { bootargs: cmdline.to_string(), initrd: l.initrd };
            dtb::generate(&m, &chosen, &[(l.stub & !0xfff, 0x1000)])?
        }
    };
    if dtb.len() as u64 > layout::MIB2 {
        bail!("the device tree is larger than 2 MiB");
    }
    let mut images = vec![(stub::build(l.dtb, l.kernel), l.stub), (kernel, l.kernel)];
    if let (Some(i), Some((start, _))) = (initrd, l.initrd) {
        images.push((i, start));
    }
    images.push((dtb.clone(), l.dtb));
    Ok(Plan { name: m.name, images, dtb, layout: l })
}

/// Runs `cell linux`.
pub fn run(a: Args) -> Result<()> {
    let cell_bytes = read(&a.config)?;
    let defaulted = a.sysconfig.is_none();
    let sys_path = match a.sysconfig {
        Some(p) => p,
        None => SYSCONFIG_DEFAULTS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .context("no system configuration: give --sysconfig FILE")?,
    };
    if defaulted && sys_path != Path::new(crate::driver::ENABLED_SYSCONFIG) && a.dump_dtb.is_none() {
        // The tree's GIC and PCI host must be the running system's.
        eprintln!("note: describing the machine from {} (check that the hypervisor was enabled with it)", sys_path.display());
    }
    let sys_bytes = read(&sys_path)?;
    let kernel = read(&a.kernel)?;
    let initrd = a.initrd.as_deref().map(read).transpose()?;
    let dtb = a.dtb.as_deref().map(read).transpose()?;
    let cmdline = a.cmdline.as_deref().unwrap_or(DEFAULT_CMDLINE);
    let p = plan(&cell_bytes, &sys_bytes, kernel, initrd, dtb, cmdline)?;
    if let Some(out) = a.dump_dtb {
        return std::fs::write(&out, &p.dtb).with_context(|| format!("cannot write {}", out.display()));
    }
    let l = &p.layout;
    let initrd = l.initrd.map_or(String::new(), |(s, e)| format!(", initramfs {s:#x}-{e:#x}"));
    println!("{}: kernel {:#x}-{:#x}{initrd}, device tree {:#x}, boot stub {:#x}", p.name, l.kernel, l.kernel_end, l.dtb, l.stub);
    crate::driver::create(&a.config, false)?;
    let cell = crate::driver::CellRef::Name(p.name.clone());
    crate::driver::load_data(&cell, &p.images)?;
    crate::driver::start(&cell)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    fn compiled(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs").join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        syshyper_config::source::compile(&text).unwrap()
    }

    fn kernel(image_size: u64) -> Vec<u8> {
        let mut v = vec![0u8; 4096];
        v[16..24].copy_from_slice(&image_size.to_le_bytes());
        v[56..60].copy_from_slice(b"ARM\x64");
        v
    }

    /// The device tree as `dtc` reads it back (and `dtc` must accept it).
    fn dts(dtb: &[u8]) -> String {
        let dir = std::env::temp_dir().join(format!("syshyper-dtb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // One file per call: tests run in parallel in this process.
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let file = dir.join(format!("cell-{}.dtb", N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        std::fs::write(&file, dtb).unwrap();
        let out = Command::new("dtc").args(["-I", "dtb", "-O", "dts", "-W", "no-unique_unit_address"]).arg(&file).output().expect("dtc (device-tree-compiler) is installed");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "dtc refused the device tree: {err}");
        assert!(!err.contains("Warning"), "dtc warns: {err}");
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn generated_device_tree_passes_dtc_and_matches_the_config() {
        let cell = compiled("linux-cell.toml");
        let sys = compiled("qemu-virt.toml");
        let p = plan(&cell, &sys, kernel(0x300_0000), Some(vec![7u8; 0x1234]), None, "console=ttyAMA0 quiet").unwrap();
        let s = dts(&p.dtb);
        // CPUs 2 and 3 of the config, by MPIDR, started through PSCI over SMC.
        assert!(s.contains("cpu@2 {") && s.contains("cpu@3 {") && !s.contains("cpu@1 {") && !s.contains("cpu@0 {"), "{s}");
        assert_eq!(s.matches("enable-method = \"psci\"").count(), 2);
        assert!(s.contains("method = \"smc\""));
        // Its RAM only: 64 + 128 MiB at 0x70000000 (not the comm region nor ivshmem memory).
        assert!(s.contains("memory@70000000 {") && s.contains("reg = <0x00 0x70000000 0x00 0x4000000>"), "{s}");
        assert!(s.contains("memory@74000000 {") && s.contains("reg = <0x00 0x74000000 0x00 0x8000000>"), "{s}");
        assert_eq!(s.matches("device_type = \"memory\"").count(), 2);
        // The GIC frames: distributor, redistributors up to CPU 3's.
        assert!(s.contains("reg = <0x00 0x8000000 0x00 0x10000 0x00 0x80a0000 0x00 0x80000>"), "{s}");
        assert!(s.contains("arm,armv8-timer"));
        // The console of the config; the PCI host at pci_mmconfig_base,
        // INTB of the ivshmem-net function = SPI vpci_irq_base + 1 = 121 (INTID 153).
        assert!(s.contains("pl011@9000000") && s.contains("stdout-path = \"/pl011@9000000\""));
        assert!(s.contains("pcie@8e00000") && s.contains("pci-host-ecam-generic") && s.contains("bus-range = <0x00 0x00>"));
        assert!(s.contains("0x00 0x00 0x00 0x02 0x01 0x00 0x00 0x00 0x79 0x01"), "{s}");
        // Bootargs and the initramfs where it is loaded.
        assert!(s.contains("bootargs = \"console=ttyAMA0 quiet\""));
        let (start, end) = p.layout.initrd.unwrap();
        assert_eq!(end - start, 0x1234);
        assert!(s.contains(&format!("linux,initrd-start = <0x00 {start:#x}>")), "{s}");
        assert!(s.contains(&format!("/memreserve/\t{:#018x} 0x0000000000001000;", p.layout.stub)), "{s}");
        // What is loaded: the stub at the reset address, the kernel 2 MiB up.
        assert_eq!(p.images[0].1, 0x7000_0000);
        assert_eq!(p.images[1].1, 0x7020_0000);
        assert_eq!(p.images.last().unwrap().1, p.layout.dtb);
        assert!(p.layout.kernel_end <= start && end <= p.layout.dtb);
        // Everything loaded lies in the LOADABLE region (the first 64 MiB).
        assert_eq!(p.layout.dtb, 0x73e0_0000);
    }

    /// linux-cell.toml's CPUs and RAM with a passed-through device at
    /// 00:05.0 (BAR at 0x10000000) instead of ivshmem-net.
    const PASSTHRU_CELL: &str = r#"
[cell]
name = "linux-pt"
flags = ["passive_commreg"]
cpus = "2-3"
cpu_reset_address = "0x70000000"
console = { address = "0x09000000", size = "4 KiB", type = "pl011", flags = ["mmio"] }

[[cell.memory]]
phys = "0x70000000"
virt = "0x70000000"
size = "64 MiB"
flags = ["read", "write", "execute", "loadable"]

[[cell.memory]]
phys = "0x10000000"
size = "16 KiB"
flags = ["read", "write", "io"]

[[cell.irqchip]]
address = "0x08000000"
pin_base = 32
irqs = "36"

[[cell.pci_device]]
type = "device"
domain = 0
bdf = "00:05.0"
bar_mask = ["0x0", "0x0", "0x0", "0x0", "0xffffc000", "0xffffffff"]
"#;

    #[test]
    fn a_passed_through_device_gets_its_window_its_spis_and_probe_only() {
        let cell = syshyper_config::source::compile(PASSTHRU_CELL).unwrap();
        let sys = compiled("qemu-virt.toml");
        let p = plan(&cell, &sys, kernel(0x100_0000), None, None, "").unwrap();
        let s = dts(&p.dtb);
        // The BAR's window at its physical address, after the ivshmem window.
        assert!(s.contains("ranges = <0x2000000 0x00 0x8f00000 0x00 0x8f00000 0x00 0x100000 0x2000000 0x00 0x10000000 0x00 0x10000000 0x00 0x4000>"), "{s}");
        // Keyed by device number: device 5's INTA..D = SPIs 4, 5, 6, 3, level.
        assert!(s.contains("interrupt-map-mask = <0xf800 0x00 0x00 0x07>"), "{s}");
        assert!(s.contains("0x2800 0x00 0x00 0x01 0x01 0x00 0x00 0x00 0x04 0x04"), "{s}");
        assert!(s.contains("0x2800 0x00 0x00 0x04 0x01 0x00 0x00 0x00 0x03 0x04"), "{s}");
        assert!(s.contains("linux,pci-probe-only = <0x01>"), "{s}");
        // Without one: pin-only map, no probe-only (linux-cell.toml).
        let plain = dts(&plan(&compiled("linux-cell.toml"), &sys, kernel(0x100_0000), None, None, "").unwrap().dtb);
        assert!(plain.contains("interrupt-map-mask = <0x00 0x00 0x00 0x07>") && !plain.contains("probe-only"), "{plain}");
        // Both kinds in one Linux cell: refused (probe-only would leave
        // ivshmem's BARs unassigned).
        let both = format!("{PASSTHRU_CELL}\n[[cell.pci_device]]\ntype = \"ivshmem\"\ndomain = 1\nbdf = \"00:01.0\"\nbar_mask = [\"0xfffff000\", \"0x0\", \"0x0\", \"0x0\", \"0x0\", \"0x0\"]\nshmem_regions_start = 0\nshmem_dev_id = 1\nshmem_peers = 2\nshmem_protocol = \"0x1\"\n[[cell.memory]]\nphys = \"0x7fb00000\"\nsize = \"4 KiB\"\nflags = [\"read\"]\n[[cell.memory]]\nphys = \"0x7fb01000\"\nsize = \"4 KiB\"\nflags = [\"read\"]\n");
        let both = syshyper_config::source::compile(&both).unwrap();
        let Err(err) = plan(&both, &sys, kernel(0x100_0000), None, None, "") else { panic!("ivshmem next to a passed-through device accepted") };
        assert!(format!("{err:#}").contains("both ivshmem and passed-through"), "{err:#}");
    }

    /// linux-cell-boot's disk: its BAR where QEMU virt's root Linux puts
    /// it, in the 64-bit window at 512 GiB, becomes a 64-bit window of
    /// the cell's virtual host (not prefetchable: Linux accepts any BAR
    /// in such a window).
    #[test]
    fn a_bar_in_the_high_window_gets_a_64_bit_window() {
        let p = plan(&compiled("linux-cell-vblk.toml"), &compiled("qemu-virt-smmu.toml"), kernel(0x100_0000), None, None, "").unwrap();
        let s = dts(&p.dtb);
        assert!(s.contains(" 0x3000000 0x80 0x00 0x80 0x00 0x00 0x4000"), "{s}");
        assert!(s.contains("linux,pci-probe-only = <0x01>"), "{s}");
    }

    /// PASSTHRU_CELL's device with `caps` listed and `irqs` owned.
    fn msi_cell(caps: &str, irqs: &str) -> Vec<u8> {
        let text = PASSTHRU_CELL.replace("irqs = \"36\"", &format!("irqs = \"{irqs}\""));
        let text = text.replace("\"0xffffc000\", \"0xffffffff\"]", &format!("\"0xffffc000\", \"0xffffffff\"]\ncaps_start = 0\nnum_caps = {}\n{caps}", caps.matches("[[cell.pci_cap]]").count()));
        syshyper_config::source::compile(&text).unwrap()
    }
    const MSIX_CAP: &str = "[[cell.pci_cap]]\nid = \"0x11\"\nstart = \"0x98\"\nlen = 12\nflags = [\"write\"]\n";
    const VENDOR_CAP: &str = "[[cell.pci_cap]]\nid = \"0x09\"\nstart = \"0x40\"\nlen = 16\n";

    #[test]
    fn with_an_its_and_a_listed_msix_capability_the_gic_offers_its_free_spis_as_mbis() {
        let sys = compiled("qemu-virt-smmu.toml");
        // The test's cell: INTx 36, MSI SPIs 154-155 and 158-159, the ITS at 0x08080000.
        let p = plan(&compiled("linux-cell-vblk.toml"), &sys, kernel(0x100_0000), None, None, "").unwrap();
        let s = dts(&p.dtb);
        assert!(s.contains("msi-controller;"), "{s}");
        assert!(s.contains("mbi-ranges = <0x9a 0x02 0x9e 0x02>;"), "{s}");
        // The ITS's translation frame: Linux writes to + 0x40 = GITS_TRANSLATER.
        assert!(s.contains("mbi-alias = <0x00 0x8090000>;"), "{s}");
        assert!(s.contains("msi-parent = <0x01>;"), "{s}");
        // BAR1 (MSI-X table) gets its window next to BAR4's.
        assert!(s.contains("0x2000000 0x00 0x10000000 0x00 0x10000000 0x00 0x1000"), "{s}");

        // The SPIs other nodes name are not MBIs: INTx 36 of the device
        // (and INTA-D 35-38 of device 5 in the map), the console's 33, the
        // virtual host's INTx (vpci_irq_base 0: 32-35). Runs split around them.
        let m = machine::Machine::of(&CellConfig::parse(&msi_cell(MSIX_CAP, "32-40,50,52-53")).unwrap(), &SystemConfig::parse(&sys).unwrap()).unwrap();
        let mbi = m.mbi.expect("MBIs");
        assert_eq!(mbi.ranges, vec![(39, 2), (50, 1), (52, 2)]);
        assert_eq!(mbi.alias, 0x0809_0000);
        assert!(m.notes.is_empty(), "{:?}", m.notes);

        // An MSI capability (0x05) counts as well as MSI-X.
        let msi = MSIX_CAP.replace("0x11", "0x05");
        let m = machine::Machine::of(&CellConfig::parse(&msi_cell(&msi, "36,150")).unwrap(), &SystemConfig::parse(&sys).unwrap()).unwrap();
        assert_eq!(m.mbi.map(|b| b.ranges), Some(vec![(150, 1)]));
    }

    #[test]
    fn without_an_its_a_listed_msi_capability_or_a_free_spi_there_is_no_mbi() {
        let smmu = compiled("qemu-virt-smmu.toml");
        let no_msi = |cell: &[u8], sys: &[u8]| {
            let s = dts(&plan(cell, sys, kernel(0x100_0000), None, None, "").unwrap().dtb);
            assert!(!s.contains("msi-controller") && !s.contains("mbi-") && !s.contains("msi-parent"), "{s}");
        };
        // No ITS unit in the system configuration.
        no_msi(&compiled("linux-cell-vblk.toml"), &compiled("qemu-virt.toml"));
        // A GICv2 system (its twin has no ITS either; the check is on the version too).
        no_msi(&compiled("linux-cell-vblk.toml"), &compiled("qemu-virt-gicv2-smmu.toml"));
        // Capabilities listed, none of them MSI or MSI-X.
        no_msi(&msi_cell(VENDOR_CAP, "36,140-155"), &smmu);
        // MSI-X listed but every owned SPI is named elsewhere: a note says so.
        let cell = msi_cell(MSIX_CAP, "33,36");
        no_msi(&cell, &smmu);
        let m = machine::Machine::of(&CellConfig::parse(&cell).unwrap(), &SystemConfig::parse(&smmu).unwrap()).unwrap();
        assert!(m.notes.iter().any(|n| n.contains("no MSI")), "{:?}", m.notes);
        // ivshmem alone (linux-cell.toml) on the ITS system: INTx, no MSI.
        no_msi(&compiled("linux-cell.toml"), &smmu);
    }

    #[test]
    fn on_a_gicv2_system_the_device_tree_describes_a_gicv2() {
        let cell = compiled("linux-cell.toml");
        let sys = compiled("qemu-virt-gicv2.toml");
        let p = plan(&cell, &sys, kernel(0x300_0000), None, None, "").unwrap();
        let s = dts(&p.dtb);
        assert!(s.contains("compatible = \"arm,cortex-a15-gic\"") && !s.contains("gic-v3"), "{s}");
        assert!(!s.contains("#redistributor-regions"), "{s}");
        // GICD (4 KiB) and the CPU interface (8 KiB; GICV is mapped there).
        assert!(s.contains("reg = <0x00 0x8000000 0x00 0x1000 0x00 0x8010000 0x00 0x2000>"), "{s}");
        // Timer PPIs name the cell's two CPU interfaces (mask 0b11 in bits 15:8).
        assert!(s.contains("interrupts = <0x01 0x0d 0x304 0x01 0x0e 0x304 0x01 0x0b 0x304 0x01 0x0a 0x304>"), "{s}");
        assert!(s.contains("cpu@2 {") && s.contains("cpu@3 {"), "{s}");
    }

    #[test]
    fn a_given_device_tree_is_loaded_as_is() {
        let cell = compiled("linux-cell.toml");
        let sys = compiled("qemu-virt.toml");
        let p = plan(&cell, &sys, kernel(0x100_0000), None, Some(vec![1, 2, 3]), "").unwrap();
        assert_eq!(p.dtb, vec![1, 2, 3]);
        assert_eq!(p.images.len(), 3, "stub, kernel, device tree");
        assert!(plan(&cell, &sys, vec![0u8; 100], None, None, "").is_err(), "not an Image");
        assert!(plan(&sys, &sys, kernel(0x100_0000), None, None, "").is_err(), "a system config is no cell config");
    }
}

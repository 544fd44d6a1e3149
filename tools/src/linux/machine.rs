//! What a Linux cell sees, taken from its cell configuration and the
//! system configuration: the input of the generated device tree.

use anyhow::{bail, Context, Result};
use syshyper_config::flags::{console, mem};
use syshyper_config::{CellConfig, SystemConfig};

/// Bytes of one CPU's GICv3 redistributor frames (RD_base + SGI_base).
pub const GICR_FRAME: u64 = 0x2_0000;
/// Bytes of the GICv3 distributor.
pub const GICD_SIZE: u64 = 0x1_0000;
/// Bytes of the GICv2 distributor and CPU interface (the cell's is the
/// virtual one the hypervisor maps at the GICC address).
pub const GICD_V2_SIZE: u64 = 0x1000;
pub const GICC_V2_SIZE: u64 = 0x2000;
/// Bytes of the PL011 console.
pub const UART_SIZE: u64 = 0x1000;
/// Bytes of the PCI memory window after the ECAM (where docs/ivshmem.md
/// puts the register BARs).
pub const PCI_MEM_SIZE: u64 = 0x10_0000;

/// One CPU of the cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    /// Index in the system (the cell config's CPU set).
    pub index: u32,
    /// MPIDR affinity fields (GICv3: Aff0 = index % 16, Aff1 = index /
    /// 16; GICv2: 8 per cluster: how QEMU virt numbers the CPUs).
    pub mpidr: u64,
}

/// The cell's virtual PCI host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PciHost {
    pub ecam: u64,
    pub end_bus: u8,
    pub domain: u16,
    /// The 32-bit memory window the guest places BARs in.
    pub mem_base: u64,
    pub mem_size: u64,
    /// SPI number (INTID - 32) of INTA..INTD.
    pub intx_spi: [u32; 4],
    /// Its ivshmem functions (bus/device/function).
    pub bdfs: Vec<u16>,
}

/// Everything the device tree describes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Machine {
    pub name: String,
    pub cpus: Vec<Cpu>,
    /// (guest address, size) of each RAM region.
    pub ram: Vec<(u64, u64)>,
    /// The system configuration's `gic_version` (2 or 3).
    pub gic_version: u8,
    pub gicd: u64,
    pub gicr: u64,
    pub gicr_size: u64,
    /// GICv2's CPU interface address (the cell sees GICV there).
    pub gicc: u64,
    /// The PL011 the cell prints on.
    pub uart: Option<u64>,
    pub pci: Option<PciHost>,
}

/// Regions that are ivshmem sections, by index.
fn section_indices(cell: &CellConfig<'_>) -> Vec<usize> {
    let mut out = Vec::new();
    for d in cell.pci_devices().iter().filter(|d| d.pci_type == syshyper_config::flags::pci::TYPE_IVSHMEM) {
        let start = d.shmem_regions_start.get() as usize;
        let n = 2 + usize::from(d.shmem_peers);
        out.extend(start..start + n);
    }
    out
}

impl Machine {
    /// The machine `cell` describes on the system `sys`.
    pub fn of(cell: &CellConfig<'_>, sys: &SystemConfig<'_>) -> Result<Self> {
        let gic_version = sys.gic_version();
        if !matches!(gic_version, 2 | 3) {
            bail!("only GICv2 and GICv3 systems are supported (the system config says GICv{gic_version})");
        }
        let per_cluster = if gic_version == 2 { 8 } else { 16 };
        let cpus: Vec<Cpu> = cell
            .cpus()
            .map(|i| Cpu { index: i, mpidr: u64::from(i % per_cluster) | (u64::from(i / per_cluster) << 8) })
            .collect();
        let last = cpus.iter().map(|c| c.index).max().context("the cell has no CPUs")?;
        let sections = section_indices(cell);
        let ram: Vec<(u64, u64)> = cell
            .memory_regions()
            .iter()
            .enumerate()
            .filter(|(i, r)| {
                let f = r.flags.get();
                r.size.get() != 0 && f & (mem::IO | mem::COMM_REGION) == 0 && f & mem::WRITE != 0 && !sections.contains(i)
            })
            .map(|(_, r)| (r.virt_start.get(), r.size.get()))
            .collect();
        if ram.is_empty() {
            bail!("the cell has no RAM (a writable region that is not IO, the comm region or ivshmem memory)");
        }
        let c = cell.console();
        let uart = (c.console_type.get() == console::TYPE_PL011 && c.address.get() != 0).then(|| c.address.get());
        let pci = match syshyper_config::ivshmem::virtual_host(sys) {
            Some(host) if !cell.pci_devices().is_empty() => {
                let base = cell.vpci_irq_base();
                let domain = cell.pci_devices().first().map_or(0, |d| d.domain.get());
                Some(PciHost {
                    ecam: host.mmconfig_base,
                    end_bus: host.end_bus,
                    domain,
                    mem_base: host.mmconfig_base + host.ecam_size(),
                    mem_size: PCI_MEM_SIZE,
                    intx_spi: [base, base + 1, base + 2, base + 3],
                    bdfs: cell.pci_devices().iter().map(|d| d.bdf.get()).collect(),
                })
            }
            _ => None,
        };
        Ok(Self {
            name: cell.name().to_string(),
            cpus,
            ram,
            gic_version,
            gicd: sys.gicd_base(),
            gicr: sys.gicr_base(),
            gicr_size: (u64::from(last) + 1) * GICR_FRAME,
            gicc: sys.gicc_base(),
            uart,
            pci,
        })
    }
}

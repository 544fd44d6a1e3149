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
/// The SPI number the tree gives the console (its interrupt never comes:
/// the console is output only; Linux's driver still wants one to name).
pub const UART_SPI: u32 = 1;
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
    /// Passed-through PCI devices (type "device", docs/passthrough.md).
    pub passthru: Vec<Passthru>,
    /// (address, size) of the passed-through devices' BARs: the cell's
    /// I/O memory regions other than its console, identity-mapped
    /// PCI memory windows whose BARs Linux must keep where they are.
    pub bar_windows: Vec<(u64, u64)>,
}

/// A real PCI function the cell owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Passthru {
    pub bdf: u16,
    /// SPI number (INTID - 32) of its INTA..INTD on the real host bridge.
    pub intx_spi: [u32; 4],
}

/// QEMU virt's INTx routing of its PCIe host bridge: pin p (1 = INTA) of
/// device d raises SPI 3 + (d + p - 1) % 4 (INTIDs 35-38), level
/// triggered; the hypervisor's pci::passthru says the same.
pub fn qemu_virt_intx_spis(bdf: u16) -> [u32; 4] {
    let d = u32::from((bdf >> 3) & 0x1f);
    [1u32, 2, 3, 4].map(|p| 3 + (d + p - 1) % 4)
}

/// Offset of the ITS's translation frame (GITS_TRANSLATER at +0x40 in
/// it) from the ITS's base.
pub const ITS_TRANSLATION_FRAME: u64 = 0x1_0000;
/// PCI capability ids of MSI and MSI-X.
const CAP_MSI: u16 = 0x05;
const CAP_MSIX: u16 = 0x11;

/// Message-based SPIs (GICv3 MBI) for the passed-through devices' MSIs
/// (docs/linux-cell.md "MSI"): Linux allocates an SPI from `ranges` per
/// vector and programs the device to write its INTID to `alias` +
/// GICD_SETSPI_NSR (0x40). `alias` is the ITS's translation frame, so
/// the write lands on GITS_TRANSLATER, which the hypervisor has mapped
/// that INTID (as EventID of the device) to an LPI that makes the SPI
/// pending for the cell.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mbi {
    /// (first INTID, count) of each run of SPIs for MSIs.
    pub ranges: Vec<(u32, u32)>,
    /// Guest-physical base that the MSI address is relative to.
    pub alias: u64,
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
    /// MSI through message-based SPIs, when the system has an ITS and a
    /// passed-through device lists MSI or MSI-X.
    pub mbi: Option<Mbi>,
    /// What the user should know about the tree (printed by `cell linux`).
    pub notes: Vec<String>,
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

/// The cell's I/O memory regions other than its console's page: with a
/// passed-through device, its BARs (at guest = physical address).
fn bar_windows(cell: &CellConfig<'_>) -> Vec<(u64, u64)> {
    let console = cell.console().address.get();
    cell.memory_regions()
        .iter()
        .filter(|r| r.flags.get() & mem::IO != 0 && r.size.get() != 0 && r.phys_start.get() != console)
        .map(|r| (r.virt_start.get(), r.size.get()))
        .collect()
}

/// Whether any passed-through device of the cell lists an MSI or MSI-X
/// capability (only listed capabilities are visible to the cell).
fn passthru_lists_msi(cell: &CellConfig<'_>) -> bool {
    let caps = cell.pci_caps();
    cell.pci_devices().iter().filter(|d| d.pci_type == syshyper_config::flags::pci::TYPE_DEVICE).any(|d| {
        let start = usize::from(d.caps_start.get());
        let end = start.saturating_add(usize::from(d.num_caps.get()));
        caps.get(start..end.min(caps.len())).unwrap_or(&[]).iter().any(|c| matches!(c.id.get(), CAP_MSI | CAP_MSIX))
    })
}

/// INTIDs of the SPIs the cell's irqchip entries for the distributor
/// `gicd` grant it, ascending.
fn owned_spis(cell: &CellConfig<'_>, gicd: u64) -> Vec<u32> {
    use syshyper_config::flags::irq::{END_SPI, FIRST_SPI};
    let mut out: Vec<u32> = cell
        .irqchips()
        .iter()
        .filter(|c| c.address.get() == gicd)
        .flat_map(|c| {
            let base = c.pin_base.get();
            c.pin_bitmap
                .iter()
                .enumerate()
                .flat_map(move |(w, bits)| (0u32..32).filter(move |b| bits.get() & (1 << b) != 0).map(move |b| base.saturating_add(w as u32 * 32 + b)))
        })
        .filter(|&i| (FIRST_SPI..END_SPI).contains(&i))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Runs of consecutive INTIDs in ascending `ids`: (first, count).
fn runs(ids: &[u32]) -> Vec<(u32, u32)> {
    let mut out: Vec<(u32, u32)> = Vec::new();
    for &i in ids {
        match out.last_mut() {
            Some((first, n)) if *first + *n == i => *n += 1,
            _ => out.push((i, 1)),
        }
    }
    out
}

/// The MBI ranges for `cell`: its SPIs that no other node of the tree
/// names (`used`, INTIDs). None when the system has no ITS, the GIC is
/// not a GICv3 or no passed-through device lists MSI; a note when one
/// does but no SPI is free.
fn mbi_of(cell: &CellConfig<'_>, sys: &SystemConfig<'_>, used: &[u32], notes: &mut Vec<String>) -> Option<Mbi> {
    let its = sys
        .iommu_units()
        .iter()
        .find(|u| u.iommu_type.get() == syshyper_config::flags::iommu::GICV3_ITS && u.base.get() != 0)?;
    if sys.gic_version() != 3 || !passthru_lists_msi(cell) {
        return None;
    }
    let free: Vec<u32> = owned_spis(cell, sys.gicd_base()).into_iter().filter(|i| !used.contains(i)).collect();
    if free.is_empty() {
        notes.push(
            "the cell owns no SPI besides those of its devices' INTx and console: no MSI in its device tree (give it more SPIs in its irqchip entry for MSI)".to_string(),
        );
        return None;
    }
    Some(Mbi { ranges: runs(&free), alias: its.base.get() + ITS_TRANSLATION_FRAME })
}

impl Machine {
    /// The machine `cell` describes on the system `sys`.
    pub fn of(cell: &CellConfig<'_>, sys: &SystemConfig<'_>) -> Result<Self> {
        let gic_version = sys.gic_version();
        if !matches!(gic_version, 2 | 3) {
            bail!("only GICv2 and GICv3 systems are supported (the system config says GICv{gic_version})");
        }
        let passthru: Vec<Passthru> = cell
            .pci_devices()
            .iter()
            .filter(|d| d.pci_type == syshyper_config::flags::pci::TYPE_DEVICE)
            .map(|d| Passthru { bdf: d.bdf.get(), intx_spi: qemu_virt_intx_spis(d.bdf.get()) })
            .collect();
        let ivshmem = cell.pci_devices().iter().any(|d| d.pci_type == syshyper_config::flags::pci::TYPE_IVSHMEM);
        if !passthru.is_empty() && ivshmem {
            // Fixed BARs need linux,pci-probe-only, under which Linux
            // would leave ivshmem's guest-placed BARs unassigned.
            bail!("a Linux cell with both ivshmem and passed-through PCI devices is not supported yet (docs/passthrough.md)");
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
                    bdfs: cell
                        .pci_devices()
                        .iter()
                        .filter(|d| d.pci_type == syshyper_config::flags::pci::TYPE_IVSHMEM)
                        .map(|d| d.bdf.get())
                        .collect(),
                    passthru: passthru.clone(),
                    bar_windows: if passthru.is_empty() { Vec::new() } else { bar_windows(cell) },
                })
            }
            _ => None,
        };
        // SPIs the tree names elsewhere: the console's (dtb.rs gives the
        // PL011 SPI 1), the virtual host's INTx lines, the real INTx of
        // the passed-through devices.
        let mut used = vec![32 + UART_SPI];
        if let Some(p) = &pci {
            used.extend(p.intx_spi.iter().map(|s| s + 32));
            used.extend(p.passthru.iter().flat_map(|d| d.intx_spi.map(|s| s + 32)));
        }
        let mut notes = Vec::new();
        let mbi = if pci.is_some() { mbi_of(cell, sys, &used, &mut notes) } else { None };
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
            mbi,
            notes,
        })
    }
}

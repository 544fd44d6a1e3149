//! The TOML document structure. Every byte of a configuration has a home
//! here so that `show` followed by `compile` reproduces a file exactly;
//! fields at their zero value are left out when printing.

use super::units::{Hex, NameOrNum, Num, Size};
use serde::{Deserialize, Serialize};

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A whole file: a system configuration has `[system]` and `[cell]` (its
/// root cell); a cell configuration only `[cell]`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemToml>,
    pub cell: CellToml,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SystemToml {
    #[serde(default)]
    pub flags: Vec<String>,
    pub hypervisor_memory: MemoryToml,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub debug_console: ConsoleToml,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pci_mmconfig_base: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pci_mmconfig_end_bus: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pci_is_virtual: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pci_domain: u16,
    pub gic_version: u8,
    pub maintenance_irq: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gicd_base: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gicc_base: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gich_base: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gicv_base: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gicr_base: Hex,
    /// Raw padding after gic_version (zero in practice).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub arm_padding: u16,
    /// Jailhouse leaves the root cell's signature empty; true writes a
    /// JHCLL header there.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub root_cell_signed: bool,
    /// IOMMU slots in order, up to the last non-empty one (8 at most).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iommu: Vec<IommuToml>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IommuToml {
    /// amd, intel, smmuv3, pvu, arm_mmu500 (or a number).
    #[serde(rename = "type")]
    pub iommu_type: NameOrNum,
    pub base: Hex,
    pub size: Size,
    /// AMD only: the IOMMU's PCI address ("bus:device.function").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amd_bdf: Option<String>,
    /// AMD only: offset of the IOMMU's base capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amd_base_cap: Option<Hex>,
    /// AMD only: offset of the IOMMU's MSI capability.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amd_msi_cap: Option<Hex>,
    /// AMD only: feature bits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amd_features: Option<Hex>,
    /// PVU only: base of the TLB registers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipvu_tlb_base: Option<Hex>,
    /// PVU only: size of the TLB registers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tipvu_tlb_size: Option<Size>,
    /// GICv2m only: INTID of the frame's first SPI (its MSI_TYPER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gicv2m_spi_base: Option<Num>,
    /// GICv2m only: how many SPIs the frame raises (its MSI_TYPER).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gicv2m_spi_count: Option<Num>,
    /// The 12 type-specific bytes as hex, when the named fields above do
    /// not describe them (other types, or nonzero unused bytes).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data: String,
}

/// One stream id: a plain number (SMMUv3, PVU, or an MMU-500 id without a
/// mask), or an MMU-500 SMR id with the mask of id bits to ignore
/// (`union jailhouse_stream_id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StreamIdToml {
    Plain(Num),
    Mmu500 { id: Hex, mask_out: Hex },
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CellToml {
    pub name: String,
    /// Raw bytes after the name's NUL, hex (zero in practice).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name_padding: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: u32,
    #[serde(default)]
    pub flags: Vec<String>,
    /// CPU list like "1-3" or "0,2".
    pub cpus: String,
    /// Bytes of the cpu_set; by default the smallest multiple of 8 that holds the CPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_set_size: Option<u32>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cpu_reset_address: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub vpci_irq_base: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub msg_reply_timeout: Num,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stream_ids: Vec<StreamIdToml>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub console: ConsoleToml,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory: Vec<MemoryToml>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub irqchip: Vec<IrqchipToml>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cache: Vec<CacheToml>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pio: Vec<PioToml>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pci_device: Vec<PciDeviceToml>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pci_cap: Vec<PciCapToml>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryToml {
    pub phys: Hex,
    /// Guest address; defaults to `phys` (identity mapping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virt: Option<Hex>,
    pub size: Size,
    #[serde(default)]
    pub flags: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleToml {
    pub address: Hex,
    pub size: Size,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub console_type: Option<NameOrNum>,
    #[serde(default)]
    pub flags: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub divider: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gate_nr: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub clock_reg: Hex,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IrqchipToml {
    pub address: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub id: u32,
    pub pin_base: u32,
    /// Granted INTIDs (absolute), like "32-35,144"; each must lie in
    /// pin_base..pin_base+128.
    pub irqs: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheToml {
    pub start: u32,
    pub size: u32,
    /// l3_code, l3_data, l3 (or a number).
    #[serde(rename = "type")]
    pub cache_type: NameOrNum,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub padding: u8,
    #[serde(default)]
    pub flags: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PioToml {
    pub base: Hex,
    pub length: Num,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PciDeviceToml {
    #[serde(rename = "type")]
    pub pci_type: NameOrNum,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub iommu: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub domain: u16,
    /// "bus:device.function" or a number.
    pub bdf: String,
    #[serde(default, skip_serializing_if = "bar_mask_is_zero")]
    pub bar_mask: Vec<Hex>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub caps_start: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_caps: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_msi_vectors: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub msi_64bits: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub msi_maskable: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub num_msix_vectors: u16,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub msix_region_size: Num,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub msix_address: Hex,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shmem_regions_start: u32,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shmem_dev_id: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shmem_peers: u8,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub shmem_protocol: Hex,
}

fn bar_mask_is_zero(v: &[Hex]) -> bool {
    v.iter().all(|h| h.0 == 0)
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PciCapToml {
    pub id: Hex,
    pub start: Hex,
    pub len: Num,
    #[serde(default)]
    pub flags: Vec<String>,
}

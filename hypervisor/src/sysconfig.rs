//! The configuration as the core uses it: thin views over the validated
//! `syshyper-config` parser (one parser for the tools and the hypervisor),
//! with the memory regions and IRQ grants in plain integers.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use syshyper_config::{CellConfig, SystemConfig};

pub use syshyper_config::ConfigError;

/// Cell descriptor size.
pub const CELL_DESC_SIZE: usize = 132;

/// A memory region of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    pub phys_start: u64,
    pub virt_start: u64,
    pub size: u64,
    pub flags: u64,
}

/// Memory region flags.
pub mod mem_flags {
    pub const READ: u64 = 0x1;
    pub const WRITE: u64 = 0x2;
    pub const EXECUTE: u64 = 0x4;
    pub const IO: u64 = 0x10;
    pub const COMM_REGION: u64 = 0x20;
    pub const LOADABLE: u64 = 0x40;
    pub const ROOTSHARED: u64 = 0x80;
}

/// Cell flags.
pub mod cell_flags {
    pub const VCONSOLE_PERMITTED: u32 = 0x4000_0000;
}

/// An interrupt controller grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqChip {
    pub address: u64,
    pub pin_base: u32,
    pub pin_bitmap: [u32; 4],
}

impl IrqChip {
    /// The INTIDs this grant covers.
    pub fn irqs(&self) -> impl Iterator<Item = u32> + '_ {
        (0..128u32)
            .filter(|i| self.pin_bitmap.get((i / 32) as usize).is_some_and(|w| w & (1 << (i % 32)) != 0))
            .map(|i| self.pin_base.wrapping_add(i))
    }
}

/// A validated cell configuration (or nothing, for `empty`).
#[derive(Clone, Copy, Debug)]
pub struct CellView<'a> {
    cfg: Option<CellConfig<'a>>,
}

impl<'a> CellView<'a> {
    /// Parses and fully validates a cell configuration.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        CellConfig::parse_with_limit(bytes, syshyper_config::MAX_CELL_CONFIG_SIZE).map(|c| Self { cfg: Some(c) })
    }

    /// Total size announced by the first 132 bytes of a descriptor.
    pub fn size_from_header(head: &[u8]) -> Result<u64, ConfigError> {
        CellConfig::size_from_header(head)
    }

    /// A view of nothing (no CPUs, no regions).
    pub fn empty() -> Self {
        Self { cfg: None }
    }

    /// Bytes from the descriptor start to the end of its arrays.
    pub fn total_size(&self) -> Option<usize> {
        self.cfg.map(|c| c.total_size())
    }

    /// The name.
    pub fn name(&self) -> &'a str {
        self.cfg.map_or("", |c| c.name())
    }

    /// Cell flags.
    pub fn flags(&self) -> u32 {
        self.cfg.map_or(0, |c| c.flags())
    }

    /// Where the first CPU starts.
    pub fn cpu_reset_address(&self) -> u64 {
        self.cfg.map_or(0, |c| c.cpu_reset_address())
    }

    /// The CPUs of the cell as a bit mask (CPUs 0..63).
    pub fn cpu_mask(&self) -> u64 {
        self.cfg.map_or(0, |c| c.cpus().filter(|&n| n < 64).fold(0, |m, n| m | 1 << n))
    }

    /// Whether `cpu` is in the cell's CPU set.
    pub fn has_cpu(&self, cpu: usize) -> bool {
        cpu < 64 && self.cpu_mask() & (1 << cpu) != 0
    }

    /// Highest CPU number + 1.
    pub fn cpu_limit(&self) -> usize {
        64usize.saturating_sub(self.cpu_mask().leading_zeros() as usize)
    }

    /// The memory regions (placeholders skipped).
    pub fn memory_regions(&self) -> impl Iterator<Item = MemRegion> + 'a {
        self.cfg.map_or(&[][..], |c| c.memory_regions()).iter().filter(|r| !r.is_placeholder()).map(|r| MemRegion {
            phys_start: r.phys_start.get(),
            virt_start: r.virt_start.get(),
            size: r.size.get(),
            flags: r.flags.get(),
        })
    }

    /// The irqchip grants.
    pub fn irqchips(&self) -> impl Iterator<Item = IrqChip> + 'a {
        self.cfg.map_or(&[][..], |c| c.irqchips()).iter().map(|i| IrqChip {
            address: i.address.get(),
            pin_base: i.pin_base.get(),
            pin_bitmap: i.pin_bitmap.map(|w| w.get()),
        })
    }

    /// The cell's console descriptor (32 bytes at offset 100).
    pub fn console_bytes(&self) -> [u8; 32] {
        let mut c = [0u8; 32];
        if let Some(src) = self.cfg.and_then(|c| c.as_bytes().get(100..132)) {
            c.copy_from_slice(src);
        }
        c
    }

    /// vPCI IRQ base.
    pub fn vpci_irq_base(&self) -> u32 {
        self.cfg.map_or(0, |c| c.vpci_irq_base())
    }

    /// The stream ids (SMMUv3: PCI requester ids) of the cell's devices.
    pub fn stream_ids(&self) -> impl Iterator<Item = u32> + 'a {
        self.cfg.map(|c| c.stream_ids()).unwrap_or(&[]).iter().map(|s| s.get())
    }

    /// The parsed configuration (none for `empty`).
    pub fn config(&self) -> Option<&CellConfig<'a>> {
        self.cfg.as_ref()
    }
}

/// The system configuration.
#[derive(Clone, Copy, Debug)]
pub struct SystemView<'a> {
    cfg: SystemConfig<'a>,
}

impl<'a> SystemView<'a> {
    /// Parses and validates the system configuration at the start of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        SystemConfig::parse(bytes).map(|cfg| Self { cfg })
    }

    /// Bytes of the whole system config.
    pub fn total_size(&self) -> usize {
        self.cfg.total_size()
    }

    /// The root cell.
    pub fn root(&self) -> CellView<'a> {
        CellView { cfg: Some(self.cfg.root_cell()) }
    }

    /// Hypervisor memory: (phys_start, size).
    pub fn hypervisor_memory(&self) -> (u64, u64) {
        let m = self.cfg.hypervisor_memory();
        (m.phys_start.get(), m.size.get())
    }

    /// Debug console: (address, type, flags).
    pub fn debug_console(&self) -> (u64, u16, u16) {
        let c = self.cfg.debug_console();
        (c.address.get(), c.console_type.get(), c.flags.get())
    }

    /// The virtual PCI host (ECAM) the system declares, if any.
    pub fn virtual_host(&self) -> Option<syshyper_config::ivshmem::VirtualHost> {
        syshyper_config::ivshmem::virtual_host(&self.cfg)
    }

    /// (gic_version, maintenance_irq, gicd_base, gicr_base).
    pub fn gic(&self) -> (u8, u8, u64, u64) {
        (self.cfg.gic_version(), self.cfg.maintenance_irq(), self.cfg.gicd_base(), self.cfg.gicr_base())
    }

    /// The SMMUv3 units: (base, size).
    pub fn smmuv3_units(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.units_of(syshyper_config::flags::iommu::SMMUV3)
    }

    /// The `iommu` units of type `t`: (base, size).
    fn units_of(&self, t: u32) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.cfg.iommu_units().iter().filter(move |u| u.iommu_type.get() == t).map(|u| (u.base.get(), u64::from(u.size.get())))
    }

    /// The GICv3 ITS units (`gicv3_its`): (base, size).
    pub fn its_units(&self) -> impl Iterator<Item = (u64, u64)> + 'a {
        self.units_of(syshyper_config::flags::iommu::GICV3_ITS)
    }

    /// GICv2's other bases: (gicc_base, gich_base, gicv_base).
    pub fn gic_v2(&self) -> (u64, u64, u64) {
        (self.cfg.gicc_base(), self.cfg.gich_base(), self.cfg.gicv_base())
    }
}

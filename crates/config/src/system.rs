//! Zero-copy view of a system configuration (`jailhouse_system` followed by
//! the root cell's arrays).

use crate::cell::{CellConfig, HeaderRule};
use crate::error::{Array, ConfigError};
use crate::flags::{self, ARCH_ARM64, PAGE_SIZE, REVISION, SYSTEM_SIGNATURE};
use crate::layout::{Console, IommuUnit, MemoryRegion, SystemDesc, ROOT_CELL_OFFSET};
use crate::{check, layout::SYSTEM_DESC_SIZE};
use zerocopy::FromBytes;

/// A validated system configuration borrowed from a byte buffer.
#[derive(Clone, Copy, Debug)]
pub struct SystemConfig<'a> {
    desc: &'a SystemDesc,
    root: CellConfig<'a>,
}

impl<'a> SystemConfig<'a> {
    /// Parses and validates a system configuration at the start of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        // A wrong file type is a better message than "truncated".
        crate::cell::check_signature(bytes, SYSTEM_SIGNATURE)?;
        let (desc, _) = SystemDesc::ref_from_prefix(bytes).map_err(|_| ConfigError::Truncated {
            array: Array::Header,
            needed: SYSTEM_DESC_SIZE as u64,
            available: bytes.len(),
        })?;
        check_header(desc)?;
        let root = CellConfig::parse_desc(
            bytes.get(ROOT_CELL_OFFSET..).unwrap_or_default(),
            HeaderRule::RootCell,
            usize::MAX,
        )?;
        Ok(Self { desc, root })
    }

    /// Parses a file that must hold exactly one system configuration.
    pub fn parse_exact(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        let sys = Self::parse(bytes)?;
        if sys.total_size() != bytes.len() {
            return Err(ConfigError::TrailingBytes {
                size: sys.total_size() as u64,
                available: bytes.len(),
            });
        }
        Ok(sys)
    }

    pub fn desc(&self) -> &'a SystemDesc {
        self.desc
    }
    /// Bytes the configuration occupies, root cell arrays included.
    pub fn total_size(&self) -> usize {
        ROOT_CELL_OFFSET.saturating_add(self.root.total_size())
    }
    pub fn flags(&self) -> u32 {
        self.desc.flags.get()
    }
    pub fn hypervisor_memory(&self) -> &'a MemoryRegion {
        &self.desc.hypervisor_memory
    }
    pub fn debug_console(&self) -> &'a Console {
        &self.desc.debug_console
    }
    pub fn root_cell(&self) -> CellConfig<'a> {
        self.root
    }
    pub fn iommu_units(&self) -> &'a [IommuUnit] {
        &self.desc.iommu_units
    }
    pub fn maintenance_irq(&self) -> u8 {
        self.desc.maintenance_irq
    }
    pub fn gic_version(&self) -> u8 {
        self.desc.gic_version
    }
    pub fn gicd_base(&self) -> u64 {
        self.desc.gicd_base.get()
    }
    pub fn gicc_base(&self) -> u64 {
        self.desc.gicc_base.get()
    }
    pub fn gich_base(&self) -> u64 {
        self.desc.gich_base.get()
    }
    pub fn gicv_base(&self) -> u64 {
        self.desc.gicv_base.get()
    }
    pub fn gicr_base(&self) -> u64 {
        self.desc.gicr_base.get()
    }
    pub fn pci_mmconfig_base(&self) -> u64 {
        self.desc.pci_mmconfig_base.get()
    }
}

fn check_header(desc: &SystemDesc) -> Result<(), ConfigError> {
    if desc.signature != SYSTEM_SIGNATURE {
        return Err(ConfigError::Signature {
            found: desc.signature,
            expected: SYSTEM_SIGNATURE,
        });
    }
    if desc.architecture != ARCH_ARM64 {
        return Err(ConfigError::Architecture {
            found: desc.architecture,
        });
    }
    if desc.revision.get() != REVISION {
        return Err(ConfigError::Revision {
            found: desc.revision.get(),
        });
    }
    let unknown = desc.flags.get() & !flags::system::KNOWN;
    if unknown != 0 {
        return Err(ConfigError::UnknownFlags {
            array: Array::Header,
            index: 0,
            bits: unknown.into(),
        });
    }
    if !matches!(desc.gic_version, 2 | 3) {
        return Err(ConfigError::GicVersion {
            found: desc.gic_version,
        });
    }
    let hv = &desc.hypervisor_memory;
    check::region(hv, Array::HypervisorMemory, 0)?;
    // The hypervisor is mapped with pages, never trapped: all of it aligned.
    if hv.is_subpage() || !hv.phys_start.get().is_multiple_of(PAGE_SIZE) {
        return Err(ConfigError::UnalignedRegion {
            array: Array::HypervisorMemory,
            index: 0,
            phys: hv.phys_start.get(),
            virt: hv.virt_start.get(),
            size: hv.size.get(),
        });
    }
    Ok(())
}

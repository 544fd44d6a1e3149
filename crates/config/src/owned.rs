//! Owned configurations and the writer that lays them out as bytes.
//!
//! The writer derives every `num_*` count and `cpu_set_size` from the
//! vectors; everything else is written as stored, so that reading a file and
//! writing it back yields the same bytes.

use crate::layout::{
    CacheRegion, CellDesc, Irqchip, MemoryRegion, PciCap, PciDevice, PioRegion, SystemDesc,
    ROOT_CELL_OFFSET,
};
use crate::{CellConfig, ConfigError, SystemConfig};
use alloc::vec::Vec;
use zerocopy::little_endian::U32;
use zerocopy::IntoBytes;

/// A cell descriptor with its arrays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CellBuf {
    /// Descriptor; its counts and `cpu_set_size` are ignored by the writer.
    pub desc: CellDesc,
    pub cpu_set: Vec<u8>,
    pub memory_regions: Vec<MemoryRegion>,
    pub cache_regions: Vec<CacheRegion>,
    pub irqchips: Vec<Irqchip>,
    pub pio_regions: Vec<PioRegion>,
    pub pci_devices: Vec<PciDevice>,
    pub pci_caps: Vec<PciCap>,
    pub stream_ids: Vec<U32>,
}

/// A system descriptor with the root cell's arrays.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SystemBuf {
    /// Descriptor; its `root_cell` is replaced by `root.desc` when written.
    pub desc: SystemDesc,
    pub root: CellBuf,
}

fn count(len: usize) -> Result<U32, ConfigError> {
    u32::try_from(len)
        .map(U32::new)
        .map_err(|_| ConfigError::TooLarge {
            size: len as u64,
            limit: u32::MAX as usize,
        })
}

impl CellBuf {
    /// Copies a parsed configuration.
    pub fn from_config(cell: &CellConfig<'_>) -> Self {
        Self {
            desc: *cell.desc(),
            cpu_set: cell.cpu_set().to_vec(),
            memory_regions: cell.memory_regions().to_vec(),
            cache_regions: cell.cache_regions().to_vec(),
            irqchips: cell.irqchips().to_vec(),
            pio_regions: cell.pio_regions().to_vec(),
            pci_devices: cell.pci_devices().to_vec(),
            pci_caps: cell.pci_caps().to_vec(),
            stream_ids: cell.stream_ids().to_vec(),
        }
    }

    /// The descriptor with counts matching the vectors.
    pub fn finished_desc(&self) -> Result<CellDesc, ConfigError> {
        let mut d = self.desc;
        d.cpu_set_size = count(self.cpu_set.len())?;
        d.num_memory_regions = count(self.memory_regions.len())?;
        d.num_cache_regions = count(self.cache_regions.len())?;
        d.num_irqchips = count(self.irqchips.len())?;
        d.num_pio_regions = count(self.pio_regions.len())?;
        d.num_pci_devices = count(self.pci_devices.len())?;
        d.num_pci_caps = count(self.pci_caps.len())?;
        d.num_stream_ids = count(self.stream_ids.len())?;
        Ok(d)
    }

    fn write_arrays(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cpu_set);
        out.extend_from_slice(self.memory_regions.as_bytes());
        out.extend_from_slice(self.cache_regions.as_bytes());
        out.extend_from_slice(self.irqchips.as_bytes());
        out.extend_from_slice(self.pio_regions.as_bytes());
        out.extend_from_slice(self.pci_devices.as_bytes());
        out.extend_from_slice(self.pci_caps.as_bytes());
        out.extend_from_slice(self.stream_ids.as_bytes());
    }

    /// Lays out the cell configuration. The result is not validated; parse
    /// it to check it.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ConfigError> {
        let mut out = Vec::new();
        out.extend_from_slice(self.finished_desc()?.as_bytes());
        self.write_arrays(&mut out);
        Ok(out)
    }
}

impl SystemBuf {
    /// Copies a parsed configuration.
    pub fn from_config(sys: &SystemConfig<'_>) -> Self {
        Self {
            desc: *sys.desc(),
            root: CellBuf::from_config(&sys.root_cell()),
        }
    }

    /// Lays out the system configuration (not validated).
    pub fn to_bytes(&self) -> Result<Vec<u8>, ConfigError> {
        let mut desc = self.desc;
        desc.root_cell = self.root.finished_desc()?;
        let mut out = Vec::new();
        out.extend_from_slice(desc.as_bytes());
        debug_assert_eq!(
            out.len(),
            ROOT_CELL_OFFSET + core::mem::size_of::<CellDesc>()
        );
        self.root.write_arrays(&mut out);
        Ok(out)
    }
}

//! Zero-copy view of a cell configuration (`jailhouse_cell_desc` + arrays).

use crate::error::{Array, ConfigError};
use crate::flags::{self, ARCH_ARM64, CELL_SIGNATURE, REVISION};
use crate::layout::{
    CacheRegion, CellDesc, Console, Irqchip, MemoryRegion, PciCap, PciDevice, PioRegion,
    CELL_DESC_SIZE,
};
use crate::{check, cpuset::Cpus};
use core::mem::size_of;
use zerocopy::little_endian::U32;
use zerocopy::FromBytes;

/// A validated cell configuration borrowed from a byte buffer.
#[derive(Clone, Copy, Debug)]
pub struct CellConfig<'a> {
    desc: &'a CellDesc,
    bytes: &'a [u8],
    cpu_set: &'a [u8],
    memory_regions: &'a [MemoryRegion],
    cache_regions: &'a [CacheRegion],
    irqchips: &'a [Irqchip],
    pio_regions: &'a [PioRegion],
    pci_devices: &'a [PciDevice],
    pci_caps: &'a [PciCap],
    stream_ids: &'a [U32],
}

/// How the 8-byte header of a descriptor is checked: Jailhouse leaves the
/// root cell's header empty inside a system configuration.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HeaderRule {
    Cell,
    RootCell,
}

/// Bytes a descriptor announces for itself and its arrays.
pub(crate) fn announced_size(desc: &CellDesc) -> Result<u64, ConfigError> {
    let parts = [
        (desc.num_memory_regions, size_of::<MemoryRegion>()),
        (desc.num_cache_regions, size_of::<CacheRegion>()),
        (desc.num_irqchips, size_of::<Irqchip>()),
        (desc.num_pio_regions, size_of::<PioRegion>()),
        (desc.num_pci_devices, size_of::<PciDevice>()),
        (desc.num_pci_caps, size_of::<PciCap>()),
        (desc.num_stream_ids, size_of::<U32>()),
    ];
    // Counts are u32 and element sizes small, so u64 cannot overflow here.
    Ok(parts.iter().fold(
        (CELL_DESC_SIZE as u64).saturating_add(u64::from(desc.cpu_set_size.get())),
        |sum, (n, sz)| sum.saturating_add(u64::from(n.get()).saturating_mul(*sz as u64)),
    ))
}

/// Splits `count` elements of `T` off the front of `rest`.
fn take<'a, T: FromBytes + zerocopy::Immutable + zerocopy::KnownLayout + zerocopy::Unaligned>(
    rest: &mut &'a [u8],
    count: u32,
    array: Array,
) -> Result<&'a [T], ConfigError> {
    let available = rest.len();
    let truncated = || ConfigError::Truncated {
        array,
        needed: u64::from(count).saturating_mul(size_of::<T>() as u64),
        available,
    };
    let n = usize::try_from(count).map_err(|_| truncated())?;
    let (items, tail) = <[T]>::ref_from_prefix_with_elems(rest, n).map_err(|_| truncated())?;
    *rest = tail;
    Ok(items)
}

impl<'a> CellConfig<'a> {
    /// Parses and validates a cell configuration at the start of `bytes`;
    /// bytes after it are ignored.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        Self::parse_with_limit(bytes, usize::MAX)
    }

    /// Like [`parse`](Self::parse) but refuses configurations larger than
    /// `limit` bytes (the hypervisor copies at most 16 pages).
    pub fn parse_with_limit(bytes: &'a [u8], limit: usize) -> Result<Self, ConfigError> {
        let cell = Self::parse_desc(bytes, HeaderRule::Cell, limit)?;
        Ok(cell)
    }

    /// Parses a file that must hold exactly one configuration.
    pub fn parse_exact(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        let cell = Self::parse(bytes)?;
        if cell.bytes.len() != bytes.len() {
            return Err(ConfigError::TrailingBytes {
                size: cell.bytes.len() as u64,
                available: bytes.len(),
            });
        }
        Ok(cell)
    }

    /// Total size announced by a descriptor, from its first 132 bytes only:
    /// what a hypervisor needs to know before copying the rest.
    pub fn size_from_header(header: &[u8]) -> Result<u64, ConfigError> {
        let (desc, _) = CellDesc::ref_from_prefix(header).map_err(|_| ConfigError::Truncated {
            array: Array::Header,
            needed: CELL_DESC_SIZE as u64,
            available: header.len(),
        })?;
        announced_size(desc)
    }

    pub(crate) fn parse_desc(
        bytes: &'a [u8],
        rule: HeaderRule,
        limit: usize,
    ) -> Result<Self, ConfigError> {
        if rule == HeaderRule::Cell {
            // A wrong file type is a better message than "truncated".
            check_signature(bytes, CELL_SIGNATURE)?;
        }
        let (desc, _) = CellDesc::ref_from_prefix(bytes).map_err(|_| ConfigError::Truncated {
            array: Array::Header,
            needed: CELL_DESC_SIZE as u64,
            available: bytes.len(),
        })?;
        check_header(desc, rule)?;
        let size = announced_size(desc)?;
        if size > limit as u64 {
            return Err(ConfigError::TooLarge { size, limit });
        }
        let cpu_set_size = desc.cpu_set_size.get();
        if !cpu_set_size.is_multiple_of(8) {
            return Err(ConfigError::CpuSetSize { size: cpu_set_size });
        }
        let mut rest = bytes.get(CELL_DESC_SIZE..).unwrap_or_default();
        let cpu_set: &[u8] = take(&mut rest, cpu_set_size, Array::CpuSet)?;
        let memory_regions = take(
            &mut rest,
            desc.num_memory_regions.get(),
            Array::MemoryRegions,
        )?;
        let cache_regions = take(&mut rest, desc.num_cache_regions.get(), Array::CacheRegions)?;
        let irqchips = take(&mut rest, desc.num_irqchips.get(), Array::Irqchips)?;
        let pio_regions = take(&mut rest, desc.num_pio_regions.get(), Array::PioRegions)?;
        let pci_devices = take(&mut rest, desc.num_pci_devices.get(), Array::PciDevices)?;
        let pci_caps = take(&mut rest, desc.num_pci_caps.get(), Array::PciCaps)?;
        let stream_ids = take(&mut rest, desc.num_stream_ids.get(), Array::StreamIds)?;
        // `rest` is a tail of `bytes`.
        let used = bytes.len().saturating_sub(rest.len());
        let cell = CellConfig {
            desc,
            bytes: bytes.get(..used).unwrap_or_default(),
            cpu_set,
            memory_regions,
            cache_regions,
            irqchips,
            pio_regions,
            pci_devices,
            pci_caps,
            stream_ids,
        };
        cell.validate()?;
        Ok(cell)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.cpus().next().is_none() {
            return Err(ConfigError::EmptyCpuSet);
        }
        check::memory_regions(self.memory_regions)?;
        check::cache_regions(self.cache_regions)?;
        check::irqchips(self.irqchips)?;
        check::pci_devices(
            self.pci_devices,
            self.pci_caps.len(),
            self.memory_regions.len(),
        )?;
        check::pci_caps(self.pci_caps)
    }

    /// Checks that interrupts are only granted on the system's distributor.
    pub fn check_irqchips_against(&self, gicd_base: u64) -> Result<(), ConfigError> {
        check::irqchip_addresses(self.irqchips, gicd_base)
    }

    /// The fixed descriptor.
    pub fn desc(&self) -> &'a CellDesc {
        self.desc
    }
    /// Exactly the bytes this configuration occupies.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
    /// Bytes the configuration occupies (to copy it).
    pub fn total_size(&self) -> usize {
        self.bytes.len()
    }
    /// The cell name (validated UTF-8, without the NUL).
    pub fn name(&self) -> &'a str {
        // Validated in check_header; the fallback is never taken.
        name_of(&self.desc.name).unwrap_or("")
    }
    pub fn flags(&self) -> u32 {
        self.desc.flags.get()
    }
    pub fn id(&self) -> u32 {
        self.desc.id.get()
    }
    pub fn cpu_set(&self) -> &'a [u8] {
        self.cpu_set
    }
    /// CPU numbers in the cpu_set, ascending.
    pub fn cpus(&self) -> Cpus<'a> {
        Cpus::new(self.cpu_set)
    }
    pub fn memory_regions(&self) -> &'a [MemoryRegion] {
        self.memory_regions
    }
    pub fn cache_regions(&self) -> &'a [CacheRegion] {
        self.cache_regions
    }
    pub fn irqchips(&self) -> &'a [Irqchip] {
        self.irqchips
    }
    pub fn pio_regions(&self) -> &'a [PioRegion] {
        self.pio_regions
    }
    pub fn pci_devices(&self) -> &'a [PciDevice] {
        self.pci_devices
    }
    pub fn pci_caps(&self) -> &'a [PciCap] {
        self.pci_caps
    }
    pub fn stream_ids(&self) -> &'a [U32] {
        self.stream_ids
    }
    pub fn console(&self) -> &'a Console {
        &self.desc.console
    }
    pub fn vpci_irq_base(&self) -> u32 {
        self.desc.vpci_irq_base.get()
    }
    pub fn cpu_reset_address(&self) -> u64 {
        self.desc.cpu_reset_address.get()
    }
    pub fn msg_reply_timeout(&self) -> u64 {
        self.desc.msg_reply_timeout.get()
    }
}

/// Checks the signature of a buffer that holds at least five bytes.
pub(crate) fn check_signature(bytes: &[u8], expected: [u8; 5]) -> Result<(), ConfigError> {
    match bytes.first_chunk::<5>() {
        Some(found) if *found != expected => Err(ConfigError::Signature {
            found: *found,
            expected,
        }),
        _ => Ok(()),
    }
}

/// The name before its NUL, if it is terminated and UTF-8.
pub(crate) fn name_of(raw: &[u8; 32]) -> Result<&str, ConfigError> {
    let len = raw
        .iter()
        .position(|&b| b == 0)
        .ok_or(ConfigError::NameNotTerminated)?;
    core::str::from_utf8(raw.get(..len).unwrap_or_default()).map_err(|_| ConfigError::NameNotUtf8)
}

fn check_header(desc: &CellDesc, rule: HeaderRule) -> Result<(), ConfigError> {
    let empty = desc.signature == [0; 5] && desc.architecture == 0 && desc.revision.get() == 0;
    match rule {
        HeaderRule::RootCell if empty => {}
        HeaderRule::RootCell => {
            if desc.signature != CELL_SIGNATURE
                || desc.architecture != ARCH_ARM64
                || desc.revision.get() != REVISION
            {
                return Err(ConfigError::RootCellHeader);
            }
        }
        HeaderRule::Cell => {
            if desc.signature != CELL_SIGNATURE {
                return Err(ConfigError::Signature {
                    found: desc.signature,
                    expected: CELL_SIGNATURE,
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
        }
    }
    name_of(&desc.name)?;
    let unknown = desc.flags.get() & !flags::cell::KNOWN;
    if unknown != 0 {
        return Err(ConfigError::UnknownFlags {
            array: Array::Header,
            index: 0,
            bits: unknown.into(),
        });
    }
    Ok(())
}

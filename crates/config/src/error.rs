//! Why a single configuration was refused. Plain data, no allocation, so the
//! hypervisor can log it as well as the tools.

use core::fmt;

/// The part of a configuration an error points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Array {
    /// The system or cell descriptor itself.
    Header,
    HypervisorMemory,
    DebugConsole,
    Console,
    CpuSet,
    MemoryRegions,
    CacheRegions,
    Irqchips,
    PioRegions,
    PciDevices,
    PciCaps,
    StreamIds,
}

impl Array {
    /// The name used in messages and in the TOML format's documentation.
    pub fn name(self) -> &'static str {
        match self {
            Array::Header => "header",
            Array::HypervisorMemory => "hypervisor_memory",
            Array::DebugConsole => "debug_console",
            Array::Console => "console",
            Array::CpuSet => "cpu_set",
            Array::MemoryRegions => "memory_regions",
            Array::CacheRegions => "cache_regions",
            Array::Irqchips => "irqchips",
            Array::PioRegions => "pio_regions",
            Array::PciDevices => "pci_devices",
            Array::PciCaps => "pci_caps",
            Array::StreamIds => "stream_ids",
        }
    }
}

/// Which address space a range lies in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Phys,
    Virt,
}

/// A rejected configuration. Variants carry the index and the values that
/// made the check fail so that the message can be acted upon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The buffer ends before the descriptor or an array announced by it.
    Truncated {
        array: Array,
        needed: u64,
        available: usize,
    },
    /// The configuration is larger than the caller accepts.
    TooLarge {
        size: u64,
        limit: usize,
    },
    /// Bytes follow the configuration (files must hold exactly one).
    TrailingBytes {
        size: u64,
        available: usize,
    },
    Signature {
        found: [u8; 5],
        expected: [u8; 5],
    },
    Architecture {
        found: u8,
    },
    Revision {
        found: u16,
    },
    /// The root cell descriptor has neither an empty nor a cell header.
    RootCellHeader,
    CpuSetSize {
        size: u32,
    },
    EmptyCpuSet,
    NameNotTerminated,
    NameNotUtf8,
    UnknownFlags {
        array: Array,
        index: u32,
        bits: u64,
    },
    ConsoleType {
        array: Array,
        found: u16,
    },
    GicVersion {
        found: u8,
    },
    ZeroSizedRegion {
        array: Array,
        index: u32,
        phys: u64,
        virt: u64,
    },
    RegionOverflow {
        array: Array,
        index: u32,
        space: Space,
        start: u64,
        size: u64,
    },
    UnalignedRegion {
        array: Array,
        index: u32,
        phys: u64,
        virt: u64,
        size: u64,
    },
    OverlappingRegions {
        first: u32,
        second: u32,
        start: u64,
        end: u64,
    },
    HypervisorOverlap {
        index: u32,
        phys: u64,
        size: u64,
    },
    IrqchipPinBase {
        index: u32,
        pin_base: u32,
    },
    /// A granted bit names an interrupt that is not an SPI.
    IrqchipIntid {
        index: u32,
        intid: u32,
    },
    /// Interrupts are granted on a chip that is not the system's GICD.
    IrqchipUnknownChip {
        index: u32,
        address: u64,
        gicd_base: u64,
    },
    PciType {
        index: u32,
        found: u8,
    },
    PciCapsRange {
        index: u32,
        start: u16,
        count: u16,
        available: u32,
    },
    ShmemRange {
        index: u32,
        start: u32,
        needed: u32,
        available: u32,
    },
    ShmemDevId {
        index: u32,
        dev_id: u8,
        peers: u8,
    },
}

fn at(f: &mut fmt::Formatter<'_>, array: Array, index: u32) -> fmt::Result {
    write!(f, "{}[{index}]: ", array.name())
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ConfigError::*;
        match *self {
            Truncated { array, needed, available } => write!(
                f,
                "{}: truncated: needs {needed} bytes, only {available} present",
                array.name()
            ),
            TooLarge { size, limit } => {
                write!(f, "header: configuration is {size} bytes, limit is {limit}")
            }
            TrailingBytes { size, available } => write!(
                f,
                "header: configuration is {size} bytes but the file has {available}"
            ),
            Signature { found, expected } => write!(
                f,
                "header: signature {} found, {} expected",
                found.escape_ascii(),
                expected.escape_ascii()
            ),
            Architecture { found } => write!(
                f,
                "header: architecture {found} found, only {} (arm64) is supported",
                crate::flags::ARCH_ARM64
            ),
            Revision { found } => write!(
                f,
                "header: revision {found} found, only revision {} is supported",
                crate::flags::REVISION
            ),
            RootCellHeader => f.write_str(
                "root_cell: header must be all zero or a JHCLL/arm64/revision-14 header",
            ),
            CpuSetSize { size } => write!(f, "cpu_set: size {size} is not a multiple of 8"),
            EmptyCpuSet => f.write_str("cpu_set: no CPU assigned"),
            NameNotTerminated => f.write_str("header: name has no NUL within 32 bytes"),
            NameNotUtf8 => f.write_str("header: name is not UTF-8"),
            UnknownFlags { array, index, bits } => match array {
                Array::Header | Array::HypervisorMemory | Array::DebugConsole | Array::Console => {
                    write!(f, "{}: unknown flag bits {bits:#x}", array.name())
                }
                _ => {
                    at(f, array, index)?;
                    write!(f, "unknown flag bits {bits:#x}")
                }
            },
            ConsoleType { array, found } => {
                write!(f, "{}: unknown console type {found}", array.name())
            }
            GicVersion { found } => {
                write!(f, "header: gic_version {found} found, 2 or 3 supported")
            }
            ZeroSizedRegion { array, index, phys, virt } => {
                at(f, array, index)?;
                write!(f, "zero-sized region (phys {phys:#x}, virt {virt:#x})")
            }
            RegionOverflow { array, index, space, start, size } => {
                at(f, array, index)?;
                let s = if space == Space::Phys { "phys" } else { "virt" };
                write!(f, "{s} range {start:#x} + size {size:#x} overflows 64 bits")
            }
            UnalignedRegion { array, index, phys, virt, size } => {
                at(f, array, index)?;
                write!(
                    f,
                    "page-granular region has unaligned phys_start \
                     (phys {phys:#x}, virt {virt:#x}, size {size:#x})"
                )
            }
            OverlappingRegions { first, second, start, end } => write!(
                f,
                "memory_regions[{second}]: guest range {start:#x}-{end:#x} overlaps memory_regions[{first}]"
            ),
            HypervisorOverlap { index, phys, size } => write!(
                f,
                "memory_regions[{index}]: phys {phys:#x} size {size:#x} overlaps the hypervisor memory"
            ),
            IrqchipPinBase { index, pin_base } => {
                at(f, Array::Irqchips, index)?;
                write!(f, "pin_base {pin_base} is not a multiple of 32")
            }
            IrqchipIntid { index, intid } => {
                at(f, Array::Irqchips, index)?;
                write!(f, "grants INTID {intid}, which is not an SPI (32..1019)")
            }
            IrqchipUnknownChip { index, address, gicd_base } => {
                at(f, Array::Irqchips, index)?;
                write!(
                    f,
                    "grants interrupts on chip {address:#x}, which does not exist \
                     (the GIC distributor is at {gicd_base:#x})"
                )
            }
            PciType { index, found } => {
                at(f, Array::PciDevices, index)?;
                write!(f, "unknown device type {found}")
            }
            PciCapsRange { index, start, count, available } => {
                at(f, Array::PciDevices, index)?;
                write!(f, "caps {start}+{count} exceed the {available} pci_caps")
            }
            ShmemRange { index, start, needed, available } => {
                at(f, Array::PciDevices, index)?;
                write!(
                    f,
                    "shared memory regions {start}+{needed} exceed the {available} memory_regions"
                )
            }
            ShmemDevId { index, dev_id, peers } => {
                at(f, Array::PciDevices, index)?;
                write!(f, "shmem_dev_id {dev_id} is not below shmem_peers {peers}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ConfigError {}

//! Why an ivshmem device or link is refused (docs/ivshmem.md), with the
//! message `config check` prints and the hypervisor logs.

use super::{MAX_PEERS, MIN_PEERS};
use core::fmt;

/// Why an ivshmem device or link is refused. Each names the device by its
/// index in `pci_devices`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IvshmemError {
    /// Devices exist but the system has no virtual PCI host.
    NoVirtualHost { index: u32 },
    /// The function's bus lies beyond the ECAM.
    BusBeyondEcam { index: u32, bdf: u16, end_bus: u8 },
    Peers { index: u32, peers: u8 },
    DevId { index: u32, dev_id: u8, peers: u8 },
    /// `shmem_regions_start` + 2 + peers reaches past the regions.
    RegionsStart { index: u32, start: u32, needed: u32, available: u32 },
    /// The state table is missing, too small for the peers or writable.
    StateTable { index: u32, region: u32 },
    /// An output section is missing or not the size of the first one.
    OutputSize { index: u32, region: u32 },
    /// The own output section is not writable, or another peer's is.
    OutputAccess { index: u32, region: u32, peer: u8, own: u8 },
    /// The sections do not follow each other in guest-physical memory
    /// (state table, read/write section, outputs 0..peers).
    NotContiguous { index: u32, region: u32 },
    /// `bar_mask[0]` is not a 32-bit memory BAR of 4 KiB or more.
    BarMask { index: u32, mask: u32 },
    /// Two devices of the cell have the same bdf (one ECAM, whatever the
    /// domain field says).
    BdfClash { index: u32, other: u32, bdf: u16 },
    /// A section is not plain memory: COMM_REGION, IO or LOADABLE would
    /// take it past the memory checks (or remap it) while the hypervisor
    /// writes its state table.
    SectionKind { index: u32, region: u32 },
    /// The INTx INTID is no SPI the cell's irqchip entries grant.
    IntxNotGranted { index: u32, intid: u32 },
    /// A non-root cell's section lacks ROOTSHARED: the create would take
    /// it from the root and the other peers.
    NotRootShared { index: u32, section: LinkField },
    /// Two peers of a link disagree: on `what` (peers, ID, a section).
    LinkMismatch { index: u32, bdf: u16, what: LinkField },
}

/// What two peers of a link disagree on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkField {
    Peers,
    /// Both claim the same ID.
    Id,
    StateTable,
    RwSection,
    Output(u8),
}

impl fmt::Display for LinkField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkField::Peers => write!(f, "shmem_peers differs"),
            LinkField::Id => write!(f, "both peers have the same shmem_dev_id"),
            LinkField::StateTable => write!(f, "the state table differs in physical address or size"),
            LinkField::RwSection => write!(f, "the read/write section differs in physical address or size"),
            LinkField::Output(p) => write!(f, "the output section of peer {p} differs in physical address or size"),
        }
    }
}

impl fmt::Display for IvshmemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use IvshmemError::*;
        match *self {
            NoVirtualHost { index } => write!(
                f,
                "pci_devices[{index}]: ivshmem needs pci_mmconfig_base and pci_is_virtual in the system configuration"
            ),
            BusBeyondEcam { index, bdf, end_bus } => {
                write!(f, "pci_devices[{index}]: bus {} of bdf {bdf:#x} is beyond pci_mmconfig_end_bus {end_bus}", bdf >> 8)
            }
            Peers { index, peers } => {
                write!(f, "pci_devices[{index}]: shmem_peers {peers} is not in {MIN_PEERS}..={MAX_PEERS}")
            }
            DevId { index, dev_id, peers } => {
                write!(f, "pci_devices[{index}]: shmem_dev_id {dev_id} is not below shmem_peers {peers}")
            }
            RegionsStart { index, start, needed, available } => write!(
                f,
                "pci_devices[{index}]: shmem_regions_start {start} + {needed} regions exceed the {available} memory_regions"
            ),
            StateTable { index, region } => write!(
                f,
                "pci_devices[{index}]: state table memory_regions[{region}] must be read-only and hold 4 bytes per peer"
            ),
            OutputSize { index, region } => write!(
                f,
                "pci_devices[{index}]: output section memory_regions[{region}] is empty or not the size of the first"
            ),
            OutputAccess { index, region, peer, own } => write!(
                f,
                "pci_devices[{index}]: output section of peer {peer} (memory_regions[{region}]) must be {} for shmem_dev_id {own}",
                if peer == own { "writable" } else { "read-only" }
            ),
            SectionKind { index, region } => write!(
                f,
                "pci_devices[{index}]: section memory_regions[{region}] must be plain memory (no comm_region, io or loadable flag)"
            ),
            NotContiguous { index, region } => write!(
                f,
                "pci_devices[{index}]: memory_regions[{region}] does not follow the previous section in guest-physical memory"
            ),
            BarMask { index, mask } => {
                write!(f, "pci_devices[{index}]: bar_mask[0] {mask:#x} is not a memory BAR of 4 KiB or more")
            }
            BdfClash { index, other, bdf } => {
                write!(f, "pci_devices[{index}]: bdf {bdf:#x} is also pci_devices[{other}]'s")
            }
            IntxNotGranted { index, intid } => write!(
                f,
                "pci_devices[{index}]: INTx INTID {intid} (32 + vpci_irq_base + pin - 1) is not an SPI granted by an irqchip entry"
            ),
            NotRootShared { index, section } => {
                write!(f, "pci_devices[{index}]: ")?;
                match section {
                    LinkField::StateTable => write!(f, "the state table")?,
                    LinkField::RwSection => write!(f, "the read/write section")?,
                    LinkField::Output(p) => write!(f, "the output section of peer {p}")?,
                    LinkField::Peers | LinkField::Id => write!(f, "a section")?,
                }
                write!(f, " must be flagged rootshared in a non-root cell")
            }
            LinkMismatch { index, bdf, what } => {
                write!(f, "pci_devices[{index}]: link {bdf:#x} disagrees with another peer: {what}")
            }
        }
    }
}

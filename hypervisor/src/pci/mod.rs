//! The virtual PCI host: an ECAM at the system configuration's
//! `pci_mmconfig_base` that every cell with ivshmem functions or
//! passed-through devices sees trapped (`mmio::Handler::PciEcam`), and
//! the config space of those functions: ivshmem (docs/ivshmem.md; the
//! devices' state lives in `ivshmem`) and real devices of the physical
//! host bridge passed through (`passthru`, docs/passthrough.md).

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

pub mod config_space;
pub mod ecam;
pub mod passthru;

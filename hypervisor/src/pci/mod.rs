//! The virtual PCI host: an ECAM at the system configuration's
//! `pci_mmconfig_base` that every cell with ivshmem functions sees
//! trapped (`mmio::Handler::PciEcam`), and the config space of those
//! functions (docs/ivshmem.md). Only ivshmem functions exist on it; the
//! devices' state lives in `ivshmem`.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

pub mod config_space;
pub mod ecam;

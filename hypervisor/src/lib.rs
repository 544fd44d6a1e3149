//! sysHyper: a static-partitioning hypervisor for AArch64 (EL2), a drop-in
//! replacement for the Jailhouse hypervisor core.
//!
//! Generic logic (page tables, page pool, syndrome decoding, PSCI decoding,
//! layouts) builds for the host as well and is unit-tested there; the
//! modules that need EL2 exist only for `target_os = "none"`.
#![cfg_attr(not(test), no_std)]
// `unsafe` is for touching hardware only: registers, page-table memory,
// MMIO and the world switch. Modules doing that opt in below.
#![deny(unsafe_code)]
// Nothing a guest, the root or a configuration controls may panic the
// hypervisor: no unwrap/expect, no unchecked indexing or slicing (use
// `get`), no explicit panic outside the two places that report a
// hypervisor bug. Tests may use all of them.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::panic))]

extern crate alloc;

#[allow(unsafe_code)]
pub mod arch;
pub mod errno;
pub mod error;
pub mod fdt_cpus;
#[allow(unsafe_code)]
pub mod iommu;
pub mod irqchip;
pub mod ivshmem;
pub mod layout;
pub mod mm;
pub mod mmio;
pub mod pci;
#[allow(unsafe_code)]
pub mod percpu;
pub mod rendezvous;
#[allow(unsafe_code)]
pub mod stack;
pub mod sync;
pub mod sysconfig;
pub mod trace;
pub mod trap;

pub mod cell;
pub mod console;
#[cfg(target_os = "none")]
mod boot_cells;
#[cfg(target_os = "none")]
mod boot_cpus;
#[cfg(target_os = "none")]
mod disable;
#[cfg(target_os = "none")]
mod guestmem;
#[cfg(target_os = "none")]
pub mod hv;
#[cfg(target_os = "none")]
pub mod hypercall;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod init;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod memmap;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod psci;

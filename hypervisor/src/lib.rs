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

extern crate alloc;

#[allow(unsafe_code)]
pub mod arch;
pub mod errno;
pub mod error;
pub mod irqchip;
/// The former path of GICv3, kept only for `mmio.rs` (`gic::mmio`) until
/// the per-cell MMIO table replaces it; everything else goes through
/// [`irqchip`], which names no version.
pub use irqchip::gicv3 as gic;
pub mod layout;
pub mod mm;
#[allow(unsafe_code)]
pub mod percpu;
pub mod sync;
pub mod sysconfig;
pub mod trap;

pub mod cell;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
mod boot_cells;
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
mod mmio;
#[cfg(target_os = "none")]
mod panic;
#[cfg(target_os = "none")]
mod psci;

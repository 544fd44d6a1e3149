//! DMA isolation: the SMMUv3 the system configuration names, and which
//! cell each stream (PCI requester id) translates for.
//!
//! Policy: a stream listed in the root's configuration translates
//! through the root's stage 2 (so the root's devices cannot reach
//! hypervisor memory or cells); a stream a cell's configuration lists
//! translates through that cell's stage 2 while the cell exists
//! (`cell::owner` hands it over); every other stream is aborted.
//!
//! Which table a stream walks: on an SMMU with stage 2 (IDR0.S2P) the
//! CPUs' own stage-2 table of the cell, tagged with the cell's VMID, so
//! every change of a cell's memory is seen by its devices with no copy;
//! the walker's break-before-make invalidations reach the SMMU's TLB
//! through [`tlbi_stage2`] (called by the pool's `invalidate`). On an
//! SMMU with stage 1 only (QEMU 7.2, which CI runs) each cell has a
//! *DMA mirror*: a stage-1 table in the EL2 descriptor format, built and
//! edited by the ownership module alongside the stage 2 with the same
//! regions; its invalidations go to the SMMU by [`tlbi_dma`].
//!
//! Faults are drained from the event queue by polling ([`poll`]: on every
//! hypercall but the console's, and when cell state is read), not in the
//! SMMU's interrupt: the hypervisor handles no SPI of its own, and a
//! device's fault needs no prompt answer (the transaction is already
//! aborted). Each is printed with stream, address and owner and counted
//! for the owning cell ([`faults`]).

extern crate alloc;

pub mod smmuv3;

/// What a stream translates through: the owning cell's stage 2 (root
/// `s2_root`, VMID) or, on a stage-1-only SMMU, its DMA mirror.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaDomain {
    pub cell: u32,
    pub vmid: u16,
    pub s2_root: u64,
    pub mirror: Option<u64>,
}

#[cfg(target_os = "none")]
mod unit;
#[cfg(target_os = "none")]
pub use unit::*;

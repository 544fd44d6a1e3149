//! The SMMUv3 driver: one unit from the system configuration, owned by
//! the hypervisor for its lifetime (the root never maps its registers).
//!
//! * `regs` — register offsets and fields;
//! * `ste` — stream table entries and context descriptors;
//! * `cmd` — command-queue entries and queue index arithmetic;
//! * `event` — event records.
//!
//! Memory: every table and queue is one pool page (the SMMU must be
//! coherent, IDR0.COHACC, so the CPUs' cacheable writes are what it
//! reads): a two-level stream table (level 1: 512 descriptors, level 2:
//! 64 STEs a page, allocated when a stream in its range is described;
//! streams beyond 2^15 or in a range nobody described are out of range
//! and aborted), a 256-entry command queue, a 128-entry event queue, and
//! (stage-1 mode only) pages of 64 context descriptors indexed by VMID.
//! An SMMU without two-level tables gets one linear page of 64 STEs
//! (streams 0-63: bus 0, devices 0-7).

pub mod cmd;
pub mod event;
pub mod regs;
pub mod ste;

#[cfg(target_os = "none")]
pub mod hw;
#[cfg(target_os = "none")]
pub use hw::Smmu;

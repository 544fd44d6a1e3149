//! Cells: a set of CPUs, a stage-2 address space with its own VMID, and
//! the configuration they were created from. The root cell is cell 0.

pub mod comm;
pub mod desc;
pub mod owner;
pub mod shutdown;
#[cfg(target_os = "none")]
mod cells;
#[cfg(target_os = "none")]
pub mod manage;
#[cfg(target_os = "none")]
pub use cells::*;

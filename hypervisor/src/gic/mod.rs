//! GICv3 virtualisation: distributor and redistributor emulation policy
//! (pure, host-tested) and, on the target, the physical GIC driver, list
//! register injection and SGI routing.

pub mod dist;
pub mod redist;
pub mod snapshot;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod hw;
#[cfg(target_os = "none")]
pub use hw::*;

//! The architecture seam. Generic code calls these functions; on the
//! bare-metal target they touch EL2 state, on the host (unit tests) a fake
//! stands in.

#[cfg(target_os = "none")]
mod aarch64;
#[cfg(target_os = "none")]
pub use aarch64::*;

/// Register values from aarch64-cpu's named fields: pure, so the host
/// tests check them too.
#[path = "aarch64/regval.rs"]
pub mod regval;

#[cfg(not(target_os = "none"))]
mod fake;
#[cfg(not(target_os = "none"))]
pub use fake::*;

//! Jailhouse configuration files (`.cell`, revision 14) for sysHyper.
//!
//! The core ([`SystemConfig`], [`CellConfig`]) validates and reads a
//! configuration in place, without allocation, for use inside the
//! hypervisor. With `alloc`: owned configurations, the binary writer and the
//! checks across several configurations. With `std`: the TOML source format.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
// The core (the modules up to `system`) runs inside the hypervisor on
// bytes the root hands it: no unwrap/expect, unchecked indexing or
// slicing, unchecked arithmetic or panics there (tests may). The host-only modules after it
// (writer, cross-config checks, TOML) are not held to this.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic,
        clippy::arithmetic_side_effects
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod cell;
mod check;
pub mod cpuset;
mod error;
pub mod flags;
pub mod layout;
mod system;
pub mod ivshmem;

#[cfg(feature = "alloc")]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
pub mod cross;
#[cfg(feature = "alloc")]
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
pub mod gicv2m;
#[cfg(feature = "alloc")]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
pub mod owned;
#[cfg(feature = "std")]
#[allow(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]
pub mod source;

pub use cell::CellConfig;
pub use error::{Array, ConfigError, Space};
pub use system::SystemConfig;

/// Largest cell configuration the hypervisor accepts on CELL_CREATE.
pub const MAX_CELL_CONFIG_SIZE: usize = 16 * 4096;

/// Which kind of configuration a file holds, by its signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    System,
    Cell,
}

/// Tells a system from a cell configuration by the first five bytes.
pub fn kind_of(bytes: &[u8]) -> Option<Kind> {
    match bytes.get(..5)? {
        s if s == flags::SYSTEM_SIGNATURE => Some(Kind::System),
        s if s == flags::CELL_SIGNATURE => Some(Kind::Cell),
        _ => None,
    }
}

//! GICv3: distributor and redistributor emulation policy (pure,
//! host-tested), and on the target the physical driver (`phys`), the
//! interrupt path with list-register injection (`inject`), the trapped
//! GICD/GICR accesses (`emulate`) and the `IrqChip` implementation
//! (`chip`). Generic code reaches it only through `crate::irqchip`.

pub mod dist;
pub mod its;
pub mod redist;
pub mod sgi_targets;
pub mod snapshot;
#[cfg(target_os = "none")]
mod chip;
#[cfg(target_os = "none")]
pub mod direct;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod emulate;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod inject;
#[cfg(target_os = "none")]
pub use inject::kick_wakes_this_cpu;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod phys;
#[cfg(target_os = "none")]
pub mod safe_spi;
#[cfg(target_os = "none")]
pub use chip::GicV3;
/// The trapped-access entry points the MMIO table's GICD and GICR entries
/// call by name; the version-neutral form is `irqchip::access`.
#[cfg(target_os = "none")]
pub use emulate::{gicd_access, gicr_access};

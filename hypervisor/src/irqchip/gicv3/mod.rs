//! GICv3: distributor and redistributor emulation policy (pure,
//! host-tested), and on the target the physical driver (`phys`), the
//! interrupt path with list-register injection (`inject`) and the trapped
//! GICD/GICR accesses (`emulate`).

pub mod dist;
pub mod redist;
pub mod snapshot;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod emulate;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod inject;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod phys;
#[cfg(target_os = "none")]
pub use emulate::{gicd_access, gicr_access};
#[cfg(target_os = "none")]
pub use inject::{emulate_sgi, hand_back, handle_irq, inject, kick, IrqOutcome};
#[cfg(target_os = "none")]
pub use phys::{
    assign_spi, disable_and_route, gicr_size, init_cpu, init_global, owner, release_spi, reset_cpu, set_owner,
};

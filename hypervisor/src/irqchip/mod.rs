//! The interrupt controller behind one interface. Only GICv3 exists so
//! far; `init` refuses any other version. A second implementation (GICv2)
//! implements the same functions in its own directory and the functions
//! below dispatch on the version recorded at init. The interrupt fast path
//! (`handle_irq`) is a direct call into the implementation, so that
//! dispatch, once there are two, is one predictable branch at most.

pub mod gicv3;

#[cfg(target_os = "none")]
pub use gicv3::{
    assign_spi, disable_and_route, emulate_sgi, gicd_access, gicr_access, gicr_size, hand_back, handle_irq,
    init_cpu, init_global, inject, kick, owner, release_spi, reset_cpu, set_owner, IrqOutcome,
};

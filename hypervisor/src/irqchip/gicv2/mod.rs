//! GICv2 (GIC-400 and QEMU's `virt,gic-version=2`), the pure parts so far:
//! the distributor emulation policy with per-cell filtering (`dist`:
//! ITARGETSR instead of IROUTER, GICD_SGIR with target filtering) and the
//! GICH list-register encoding (`lr`). Host-tested; not yet joined to
//! [`crate::irqchip::Chip`] — `select(2)` still refuses version 2 (issue
//! 16: the physical driver, the GICV mapping at the cell's GICC address
//! and the interrupt path are the next steps, see docs/platforms.md).

pub mod dist;
pub mod lr;

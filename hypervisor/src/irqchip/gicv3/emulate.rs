//! The trapped GICD and GICR accesses of every cell: the policy of
//! `dist`/`redist` performed on the real distributor and redistributors.

use super::dist::{self, Action, GICD_SIZE};
use super::phys::*;
use super::redist::{self, RAction, FRAME_SIZE};
use crate::percpu::{present_cpus, this_cpu, PerCpu};
use core::sync::atomic::Ordering;

/// A trapped MMIO region of the interrupt controller and its handler
/// (`cell`, offset in the region, access size, value written) returning
/// the value read, or `Err` for an access the architecture does not allow.
#[derive(Clone, Copy)]
pub struct MmioRegion {
    /// Physical (= guest) base of the region.
    pub phys_base: u64,
    /// Size in bytes.
    pub size: u64,
    /// The emulation.
    pub handler: fn(cell: u8, offset: u64, size: u8, write: Option<u64>) -> Result<u64, ()>,
}

/// The GICD and GICR regions every cell traps (bases 0 before init).
pub fn mmio_regions() -> [MmioRegion; 2] {
    let frames = GICR_FRAMES.load(Ordering::Relaxed);
    [
        MmioRegion { phys_base: GICD_PHYS.load(Ordering::Relaxed), size: GICD_SIZE, handler: gicd_access },
        MmioRegion { phys_base: GICR_PHYS.load(Ordering::Relaxed), size: gicr_size(frames), handler: gicr_access },
    ]
}

/// A cell's access at `off` of the GICD frame.
// The MMIO table's handler type: `Err` only means "not allowed".
#[allow(clippy::result_unit_err)]
pub fn gicd_access(cell: u8, off: u64, size: u8, write: Option<u64>) -> Result<u64, ()> {
    let action = dist::classify(off, size, |irq| owner(irq) == Some(cell)).map_err(|_| ())?;
    Ok(perform(action, gicd(off), size, write, cell))
}

/// A cell's access at `off` of the GICR range: its own CPUs' frames only.
#[allow(clippy::result_unit_err)]
pub fn gicr_access(cell: u8, off: u64, size: u8, write: Option<u64>) -> Result<u64, ()> {
    let frame = off / FRAME_SIZE;
    let off = off % FRAME_SIZE;
    let mine = |p: &&PerCpu| p.present.load(Ordering::Acquire) && p.cell.load(Ordering::Relaxed) == u32::from(cell);
    let own_frames = present_cpus().filter(mine).map(|p| u64::from(p.gicr_frame.load(Ordering::Relaxed)));
    let (own, last) = own_frames.fold((false, 0), |(o, l), f| (o || f == frame, l.max(f)));
    let va = gicr(frame, off);
    match redist::classify(off, size, own, own && frame == last) {
        Err(_) => Err(()),
        Ok(RAction::Typer { last }) => {
            let real = mmio_read(gicr(frame, 0x8), 8);
            let v = redist::fix_typer(real, last);
            Ok(if off == 0xc { v >> 32 } else if size == 4 { v & 0xffff_ffff } else { v })
        }
        Ok(RAction::Plain(a)) => Ok(perform(a, va, size, write, cell)),
    }
}

/// Handles a trapped access of this CPU's cell to the GIC; `None` if `ipa`
/// is not the GIC's.
pub fn mmio(ipa: u64, size: u8, write: Option<u64>) -> Option<Result<u64, ()>> {
    let cell = this_cpu().cell.load(Ordering::Relaxed) as u8;
    mmio_regions()
        .into_iter()
        .find(|r| r.phys_base != 0 && (r.phys_base..r.phys_base + r.size).contains(&ipa))
        .map(|r| (r.handler)(cell, ipa - r.phys_base, size, write))
}

fn perform(action: Action, va: u64, size: u8, write: Option<u64>, cell: u8) -> u64 {
    match (action, write) {
        (Action::Hide, _) => 0,
        (Action::Const(v), None) => v,
        (Action::Const(_), Some(_)) => 0,
        (Action::ReadOnly, None) => mmio_read(va, size),
        (Action::ReadOnly, Some(_)) => 0,
        (Action::Masked(m), None) | (Action::Merge(m), None) => mmio_read(va, size) & m,
        (Action::Masked(m), Some(v)) => {
            mmio_write(va, size, v & m);
            0
        }
        (Action::Merge(m), Some(v)) => {
            let _guard = DIST_LOCK.lock();
            let cur = mmio_read(va, size);
            mmio_write(va, size, dist::merge(cur, v, m));
            0
        }
        (Action::Route(_), None) => mmio_read(va, size),
        (Action::Route(_), Some(v)) => {
            let target_ok = size == 8
                && v & (1 << 31) == 0
                && present_cpus().any(|p| {
                    p.present.load(Ordering::Acquire)
                        && p.cell.load(Ordering::Relaxed) == u32::from(cell)
                        && p.mpidr.load(Ordering::Relaxed) & 0xff_00ff_ffff == v & 0xff_00ff_ffff
                });
            if target_ok {
                mmio_write(va, size, v);
            }
            0
        }
    }
}


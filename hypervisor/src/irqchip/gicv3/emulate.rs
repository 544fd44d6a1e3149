//! The trapped GICD and GICR accesses of every cell: the policy of
//! `dist`/`redist` performed on the real distributor and redistributors.

use super::dist::{self, Action};
use super::phys::*;
use super::redist::{self, RAction, FRAME_SIZE};
use crate::percpu::{present_cpus, PerCpu};
use core::sync::atomic::Ordering;

/// A cell's access at `off` of the GICD frame.
// `Err` only means "not allowed": the MMIO table's handler contract.
#[allow(clippy::result_unit_err)]
pub fn gicd_access(cell: u8, off: u64, size: u8, write: Option<u64>) -> Result<u64, ()> {
    let action = dist::classify(off, size, move |irq| owner(irq) == Some(cell)).map_err(|_| ())?;
    // TYPER of a non-root cell: no LPIs, MBIS with ITS MSIs (`its`).
    if off == 0x4 && size == 4 && write.is_none() && cell != 0 {
        return Ok(dist::cell_typer(mmio_read(gicd(off), 4), super::its::is_mbi_cell(cell)));
    }
    // Enables go through the safe-mode bookkeeping (`safe_spi`): the
    // owner's enable state stays authoritative over EL2's temporary
    // disable of an SPI in flight.
    if let (Action::Masked(m), 0x100..=0x1ff, 4) = (action, off, size) {
        return Ok(super::safe_spi::enable_access(off, gicd(off), write, m));
    }
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

/// A priority write of a direct-mode cell, clamped so that none of its
/// interrupts can outrank the hypervisor's Group 0 (`direct`).
#[inline(never)]
fn direct_priorities(v: u64, size: u8) -> u64 {
    if crate::arch::irqs_to_el1() {
        super::direct::clamp_priorities(v, size)
    } else {
        v
    }
}

#[inline(always)]
fn perform(action: Action, va: u64, size: u8, write: Option<u64>, cell: u8) -> u64 {
    match (action, write) {
        (Action::Hide, _) => 0,
        (Action::Const(v), None) => v,
        (Action::Const(_), Some(_)) => 0,
        (Action::ReadOnly, None) => mmio_read(va, size),
        (Action::ReadOnly, Some(_)) => 0,
        (Action::Masked(m), None) | (Action::Merge(m), None) | (Action::Priority(m), None) => {
            mmio_read(va, size) & m
        }
        (Action::Masked(m), Some(v)) => {
            mmio_write(va, size, v & m);
            0
        }
        (Action::Priority(m), Some(v)) => {
            let v = direct_priorities(v, size);
            let _guard = DIST_LOCK.lock();
            let cur = mmio_read(va, size);
            mmio_write(va, size, dist::merge(cur, v, m));
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


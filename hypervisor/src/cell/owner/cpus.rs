//! CPU hand-overs: a CPU moves between the root and a cell only here.
//! Claims make create atomic against the root's PSCI CPU_ON (which takes
//! no lock); parking is bounded, so no root CPU waits forever on a cell
//! CPU that does not stop.

use crate::error::{Error, Result};
use crate::percpu::{percpu, CpuState, PerCpu};
use core::sync::atomic::Ordering;

/// Polls of a CPU's state before it is kicked again, and kicks before a
/// park is given up. Generous: a CPU with interrupts masked in its guest
/// still takes the kick (it is a physical interrupt routed to EL2), so
/// only a CPU stuck in the hypervisor itself can exhaust this.
const POLLS_PER_KICK: u32 = 1_000_000;
const KICKS: u32 = 50;
/// Kicks a CPU gets before its cell's stage 2 is revoked: a direct-mode
/// cell can hold an active priority that no interrupt preempts, so no
/// kick reaches it (docs/direct-delivery.md, "Destroy always stops the
/// CPU"); without a stage 2, its next instruction fetch faults into EL2,
/// which parks it. A CPU that answers kicks parks at the first; on a
/// loaded host a few polls' rounds may pass before it is even scheduled
/// (seen with two: the revocation is harmless then, only not needed).
const KICKS_BEFORE_REVOKE: u32 = 8;

/// The present CPUs of `mask`.
pub fn cpus_of(mask: u64) -> impl Iterator<Item = &'static PerCpu> {
    (0..64).filter(move |c| mask & (1 << c) != 0).filter_map(percpu)
}

/// Stops every CPU in `mask` and holds it for the management path
/// ([`PerCpu::hold`]): running CPUs are asked to park (kicked, and kicked
/// again now and then), parked ones are held as they are found. A CPU
/// only counts as stopped once held: a CPU that parked but is not held
/// could still be started by a sibling's PSCI CPU_ON before that sibling
/// itself stops. Gives up with [`Error::Busy`] (logged) when a CPU does
/// not stop; the CPUs held so far are let go again, so the cell is as
/// before (its CPUs asked to park will park at their next trap).
///
/// For the CPUs of one cell (all of them, or all but the calling one when
/// the cell restarts itself): when a CPU has not stopped after
/// [`KICKS_BEFORE_REVOKE`] kicks, `revoke(true)` takes the cell's stage 2
/// away (every CPU of the cell then faults into
/// EL2 at its next instruction fetch and, asked to park, parks there);
/// `revoke(false)` gives it back once every CPU is held (none of them
/// translates through it any more) or the park is given up. The park
/// requests are withdrawn only after that, so a CPU that faulted on the
/// revoked table always finds its request and parks.
pub fn park_revoking(mask: u64, mut revoke: impl FnMut(bool)) -> Result<()> {
    for cpu in cpus_of(mask) {
        cpu.park_request.store(true, Ordering::Release);
        if cpu.state() == CpuState::Running {
            crate::irqchip::kick(cpu);
        }
    }
    let mut stuck = None;
    let mut revoked = false;
    'cpus: for cpu in cpus_of(mask) {
        for kick in 0..KICKS {
            for _ in 0..POLLS_PER_KICK {
                if cpu.hold() {
                    continue 'cpus;
                }
                crate::arch::cpu_relax();
            }
            if kick + 1 == KICKS_BEFORE_REVOKE && !revoked {
                // Not a warning: a slow host can get here too, and a cell
                // refusing its kicks is what this path is for.
                log::info!(
                    "CPU {} did not stop when kicked: its cell's stage 2 is revoked until it parks",
                    cpu.cpu_id.load(Ordering::Relaxed)
                );
                revoke(true);
                revoked = true;
                crate::arch::send_event();
            }
            crate::irqchip::kick(cpu);
        }
        stuck = Some(cpu.cpu_id.load(Ordering::Relaxed));
        break;
    }
    if revoked {
        revoke(false);
    }
    for cpu in cpus_of(mask) {
        cpu.park_request.store(false, Ordering::Release);
    }
    if let Some(n) = stuck {
        unhold(mask);
        log::error!("CPU {n} did not stop: request refused as busy");
        return Err(Error::Busy);
    }
    Ok(())
}

/// Lets the held CPUs of `mask` go (Off in their cell): after a refused
/// request, or when a cell restarts itself.
pub fn unhold(mask: u64) {
    cpus_of(mask).for_each(PerCpu::unhold);
}

/// CPUs claimed for a cell being created; dropped unused, they go back to
/// Off in their old cell.
#[derive(Debug)]
pub struct Claims(u64);

impl Claims {
    /// Claims every CPU of `mask`: each must be present and off.
    pub fn take(mask: u64) -> Result<Self> {
        let mut claims = Claims(0);
        for (n, cpu) in (0..64).filter(|c| mask & (1 << c) != 0).filter_map(|c| percpu(c).map(|p| (c, p))) {
            if !cpu.present.load(Ordering::Acquire) || !cpu.claim() {
                log::warn!("refused: CPU {n} is not off");
                return Err(Error::Busy); // `claims` drops: earlier claims are released
            }
            claims.0 |= 1 << n;
        }
        if claims.0 != mask {
            return Err(Error::Busy);
        }
        Ok(claims)
    }

    /// Commit: the CPUs now belong to cell `id`, Off there, waiting for
    /// the cell's start, with no statistics of their previous owner.
    pub fn hand_to(mut self, id: u32) {
        for cpu in cpus_of(self.0) {
            cpu.clear_stats();
            cpu.hand_to(id);
        }
        self.0 = 0;
    }
}

impl Drop for Claims {
    fn drop(&mut self) {
        cpus_of(self.0).for_each(PerCpu::release_claim);
    }
}

/// Commit of a destroy: the (parked) CPUs of `mask` return to the root,
/// Off there; the root's PSCI CPU_ON starts them afresh (register reset
/// happens on every entry into a context).
pub fn hand_to_root(mask: u64) {
    for cpu in cpus_of(mask) {
        cpu.clear_stats();
        cpu.hand_to(0);
    }
}

/// The MPIDR of the first CPU of `mask` (where a cell's SPIs are routed).
pub fn first_mpidr(mask: u64) -> u64 {
    cpus_of(mask).next().map_or(0, |c| c.mpidr.load(Ordering::Relaxed))
}

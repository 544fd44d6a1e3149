//! Direct interrupt delivery on GICv3 (docs/direct-delivery.md): on the
//! CPUs of a cell with the `direct_irqs` flag, the cell's interrupts are
//! Group 1 and reach its EL1 without an exit (HCR_EL2.IMO clear), while
//! the hypervisor's own (management SGI, maintenance interrupt) are
//! Group 0 at the highest priority and arrive at EL2 as FIQs
//! (HCR_EL2.FMO set). Beside the trap-and-inject path, not in it: a CPU
//! enters this mode when it starts in such a cell ([`enter`]) and leaves
//! it at its next hand-over ([`leave`], from `reset_cpu`).

use super::phys::*;
use super::redist::{HV_PRIVATE, MAINTENANCE_IRQ, MGMT_SGI};
use super::sgi_targets::sgi_targets;
use crate::arch::gicv3 as cpuif;
use crate::irqchip::IrqOutcome;
use crate::percpu::{present_cpus, PerCpu, Stat};
use core::sync::atomic::{AtomicBool, Ordering};

/// Per CPU (by id): runs a cell in direct mode.
static DIRECT: [AtomicBool; 64] = [const { AtomicBool::new(false) }; 64];

/// Priority of the hypervisor's Group-0 interrupts on a direct CPU: the
/// highest, so no running priority a cell can reach by acknowledging its
/// own interrupts (their priorities are kept at [`CELL_MIN_PRIO`] or
/// below) stops the management FIQ.
const HV_DIRECT_PRIO: u64 = 0x00;
/// The highest priority (lowest value) a direct-mode cell may give its
/// interrupts: one priority step (of the 5 bits every GICv3 implements)
/// below the hypervisor's plus a margin, so that any interrupt of the
/// cell that is active still lets Group 0 preempt.
pub const CELL_MIN_PRIO: u8 = 0x10;

/// Whether `cpu` runs a cell in direct mode.
#[inline(always)]
pub fn is_direct(cpu: &PerCpu) -> bool {
    DIRECT.get(cpu.cpu_id.load(Ordering::Relaxed) as usize).is_some_and(|d| d.load(Ordering::Relaxed))
}

/// Puts this CPU into direct mode for its cell, after `reset_cpu` and the
/// stage-2 activation of a context start: the hypervisor's two banked
/// interrupts become Group 0 at the highest priority, the cell's banked
/// ones stay Group 1 (as `reset_banked` left them: disabled, inactive),
/// the physical interface gets EOImode 0, and HCR_EL2 leaves IRQs to EL1.
pub fn enter(cpu: &PerCpu) {
    let frame = cpu.gicr_frame.load(Ordering::Relaxed);
    let Some(flag) = DIRECT.get(cpu.cpu_id.load(Ordering::Relaxed) as usize) else {
        return;
    };
    if frame == u32::MAX {
        return;
    }
    let frame = u64::from(frame);
    flag.store(true, Ordering::Relaxed);
    mmio_write(gicr(frame, 0x1_0080), 4, !HV_PRIVATE & 0xffff_ffff);
    mmio_write(gicr(frame, 0x1_0400 + u64::from(MGMT_SGI)), 1, HV_DIRECT_PRIO);
    mmio_write(gicr(frame, 0x1_0400 + u64::from(MAINTENANCE_IRQ)), 1, HV_DIRECT_PRIO);
    // The cell's banked interrupts at the default priority `reset_banked`
    // gave them (0xa0), below CELL_MIN_PRIO already.
    cpuif::enter_direct();
    crate::arch::set_hcr_direct();
}

/// Leaves direct mode on this CPU at a hand-over (`reset_cpu`, which then
/// resets the banked interrupts to one group, their priorities and
/// enables): the physical interface back to the hypervisor's settings,
/// the active priorities the cell left (it writes ICC_AP1Rn_EL1
/// physically) cleared, and HCR_EL2 routing IRQs to EL2 again: from
/// here the CPU is a trapped one until [`enter`] (a cell restarting
/// itself enters again through `cell::activate_for_this_cpu`).
pub fn leave(cpu: &PerCpu) {
    if let Some(flag) = DIRECT.get(cpu.cpu_id.load(Ordering::Relaxed) as usize) {
        if flag.swap(false, Ordering::Relaxed) {
            crate::arch::set_hcr_trapped();
            cpuif::leave_direct();
        }
    }
}

/// A FIQ from a direct-mode cell: every pending Group-0 interrupt is
/// acknowledged and ended (EOImode 0: also deactivated). Only the
/// hypervisor's own are Group 0 on this CPU; anything else found there is
/// nobody's and is only ended.
pub fn handle_fiq(cpu: &PerCpu) -> IrqOutcome {
    let mut outcome = IrqOutcome::Resume;
    for _ in 0..32 {
        let intid = cpuif::ack0();
        if intid >= 1020 {
            break;
        }
        cpuif::eoi0(intid);
        match intid {
            MGMT_SGI => {
                cpu.count(Stat::Management);
                if cpu.park_request.load(Ordering::Acquire) {
                    outcome = IrqOutcome::Park;
                }
            }
            MAINTENANCE_IRQ => cpu.count(Stat::Maintenance),
            _ => {}
        }
    }
    outcome
}

/// A trapped WFI of this direct-mode CPU (HCR_EL2.TWI; its park request
/// was checked by the caller): the hypervisor waits in the cell's place,
/// with WFI at EL2, which the cell's own interrupts wake as they would
/// have woken the cell's WFI (the GIC signals them whatever EL runs and
/// PSTATE masks; taken at EL1 right after the return), and so does the
/// management FIQ. Unless the cell holds an active priority that masks
/// the management FIQ (it writes ICC_AP1Rn_EL1 physically): then nothing
/// would ever wake either WFI, so this one completes at once (WFI may
/// complete at any time) and the cell's next WFI, or its next instruction
/// fetch once a park revoked its stage 2, comes back here with the
/// request.
pub fn wait() {
    if cpuif::running_priority() > HV_DIRECT_PRIO {
        crate::arch::wait_for_interrupt();
    }
}

/// The management kick of a direct-mode CPU: SGI 15 as Group 0 (see
/// `send_sgi0`). A kick racing the target's change of mode (it just
/// parked, or just started) may be dropped by the GIC for the wrong
/// group; the park loop of `cell::owner::cpus` kicks again until the CPU
/// stops, and a CPU that starts checks its requests at its next exit.
pub fn kick(target: &PerCpu) {
    let mpidr = target.mpidr.load(Ordering::Relaxed);
    cpuif::send_sgi0(crate::arch::regval::sgi1r::to_cpu(mpidr, MGMT_SGI));
}

/// A trapped ICC_SGI1R_EL1 (or ASGI1R/SGI0R) write of a direct-mode cell:
/// the SGI goes out physically, as Group 1, to each targeted CPU of the
/// sender's cell (all direct, so the target's GIC delivers it to its EL1
/// without an exit), one write per target with that CPU's affinity only.
/// SGI 15 is the hypervisor's on those CPUs and is never sent for a cell;
/// targets outside the cell are dropped.
pub fn emulate_sgi(me: &PerCpu, value: u64) {
    let value = crate::arch::regval::sgi1r::Sgi1r(value);
    let sgi = value.intid();
    if sgi >= MGMT_SGI {
        return;
    }
    for (_, mpidr) in sgi_targets(present_cpus(), me, value) {
        me.count(Stat::Vsgi);
        cpuif::send_sgi(crate::arch::regval::sgi1r::to_cpu(mpidr, sgi));
    }
}

/// A direct-mode cell's priority write (IPRIORITYR, `size` bytes of
/// `v`): each byte clamped to [`CELL_MIN_PRIO`] or lower priority.
pub fn clamp_priorities(v: u64, size: u8) -> u64 {
    super::dist::clamp_priorities(v, size, CELL_MIN_PRIO)
}

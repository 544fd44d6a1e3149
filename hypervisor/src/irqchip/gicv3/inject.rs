//! The interrupt path and list-register injection: acknowledge, inject
//! into a free list register or queue, the management SGI, virtual SGIs
//! between a cell's CPUs, and the hand-back of the interface to Linux.

use super::phys::*;
use super::redist::{HV_PRIVATE, MAINTENANCE_IRQ, MGMT_SGI};
use super::sgi_targets::sgi_targets;
use super::snapshot::bit_reg;
use crate::arch::gicv3 as cpuif;
use crate::arch::regval::ich;
use crate::percpu::{present_cpus, this_cpu, PerCpu, Stat};
use core::sync::atomic::{AtomicU32, Ordering};

/// Per target CPU: senders between deciding to kick it (their `fetch_or`
/// on its `vsgi_pending` found it in EL2) and the kick having reached the
/// redistributor. `hand_back` waits for zero before it clears SGI 15, so
/// no kick can land on a CPU that already runs Linux on its own.
static KICKS_IN_FLIGHT: [AtomicU32; 64] = [const { AtomicU32::new(0) }; 64];

/// Puts `intid` into a free list register; false if none is free.
fn try_inject(intid: u32, hw: bool) -> bool {
    // An SPI delivered in safe mode (`safe_spi`: a direct-mode cell runs)
    // is no longer physically active: virtual, with the EOI maintenance
    // request, and like a virtual one it may be merged.
    let safe = hw && intid >= 32 && super::safe_spi::in_flight(intid);
    // A hardware interrupt stays active until the guest deactivates it, so
    // it cannot be in a list register twice; only virtual ones (SGIs,
    // ivshmem INTx) can. One already pending stays one; one active (the
    // guest is handling it) becomes active and pending, so the edge is
    // taken again after its EOI rather than lost.
    // ELRSR has a bit per implemented list register only.
    let free = cpuif::elrsr();
    if !hw || safe {
        // Only a list register ELRSR does not show empty can hold a valid
        // (state not 0) entry, so only those are read: none at all in the
        // common case of no other interrupt in flight (reading all of
        // them was 87 of the receiver's 277 instructions per SGI). One
        // that is not empty with state 0 (an EOI maintenance request) is
        // read and skipped as before.
        let mut used = !free & (1u64 << cpuif::num_lrs()).wrapping_sub(1);
        while used != 0 {
            let i = used.trailing_zeros() as usize;
            used &= used.wrapping_sub(1);
            let lr = cpuif::read_lr(i);
            if ich::lr_state(lr) != 0 && ich::lr_vintid(lr) == u64::from(intid) {
                // Only a virtual entry (HW = 0) may be active and pending;
                // a guest could have made its own INTx physically pending
                // too, and that entry's state belongs to the GIC.
                if lr & ich::LR_PENDING == 0 && lr & ich::LR_HW == 0 {
                    cpuif::write_lr(i, lr | ich::LR_PENDING);
                }
                return true;
            }
        }
    }
    if free == 0 {
        return false;
    }
    let i = free.trailing_zeros() as usize;
    cpuif::write_lr(i, if safe { super::safe_spi::lr(intid) } else { ich::lr_pending(intid, hw) });
    true
}

/// Injects `intid` into this CPU's vCPU, queueing it when the list
/// registers are full (drained on the underflow maintenance interrupt).
pub fn inject(intid: u32, hw: bool) {
    inject_on(this_cpu(), intid, hw)
}

/// [`inject`] with this CPU's block at hand (the interrupt path has it).
fn inject_on(cpu: &PerCpu, intid: u32, hw: bool) {
    cpu.count(Stat::Virq);
    if try_inject(intid, hw) {
        // Delay from this exit's EL2 entry to the list register (one
        // queued for a free list register is not timed).
        cpu.trace.injected(crate::arch::counter());
    } else {
        cpu.irq_pending.post(intid);
        cpuif::set_ich_hcr(cpuif::ich_hcr() | ICH_HCR_UIE);
    }
}

fn drain_pending(cpu: &PerCpu) {
    let mut sgis = cpu.vsgi_pending.swap(0, Ordering::AcqRel);
    // Only the set bits, lowest first.
    while sgis != 0 {
        let sgi = sgis.trailing_zeros();
        sgis &= sgis - 1;
        cpu.count(Stat::Vsgi);
        inject_on(cpu, sgi, false);
    }
    // Interrupts from 16 on are physical (HW = 1) unless marked virtual
    // (ivshmem INTx, posted by other CPUs through `inject_virtual`, which
    // cannot have set the underflow interrupt here: set it now if one
    // stays queued).
    // A virtual INTx posted by another CPU just before this CPU changed
    // cells (a ring racing a hand-over) is not this cell's: dropped.
    let cell = cpu.cell.load(core::sync::atomic::Ordering::Relaxed);
    if cpu.irq_pending.drain(|intid| {
        let virt = intid >= 16 && crate::irqchip::spi::is_virtual(intid);
        if virt && crate::irqchip::spi::owner(intid).map(u32::from) != Some(cell) {
            return true;
        }
        try_inject(intid, intid >= 16 && !virt)
    }) {
        cpuif::set_ich_hcr(cpuif::ich_hcr() & !ICH_HCR_UIE);
    } else {
        cpuif::set_ich_hcr(cpuif::ich_hcr() | ICH_HCR_UIE);
    }
}

/// Injects the virtual interrupt `intid` (HW = 0) into `target`'s vCPU:
/// directly if `target` is this CPU; otherwise queued in its pending
/// queue (an atomic OR, safe against its own drain: a drain that missed
/// the bit is followed by the kick's drain) and `target` kicked, whose
/// management-SGI path drains the queue.
pub fn inject_virtual(target: &PerCpu, intid: u32) {
    let me = this_cpu();
    if core::ptr::eq(target, me) {
        inject_on(me, intid, false);
        return;
    }
    if target.irq_pending.post(intid) {
        kick(target);
        // The kick is at the redistributor before the caller releases the
        // link registry. A disable leaves the root's links under that lock
        // before any root CPU's `hand_back` clears SGI 15 (the others
        // follow the first through DISABLING), and no ring reaches a root
        // CPU after the leave: so no kick of ours lands after that clear,
        // in Linux.
        crate::arch::dsb_ish();
    }
}

/// The interface's answer to the trap handler and its queue of
/// interrupts waiting for a list register (version-neutral).
pub use crate::irqchip::IrqOutcome;

/// The interrupt path: acknowledge everything pending, inject what belongs
/// to this CPU's cell, handle the hypervisor's own SGI. `cpu` is this
/// CPU's block; `acked` the INTID the assembly fast path acknowledged
/// (`arch/aarch64/vectors.rs`, which injects the common case itself and
/// comes here for the rest), or NOT_ACKED. Inlined into the trap handler:
/// the dispatch in `irqchip` plus one frame instead of two.
#[inline(always)]
pub fn handle_irq(cpu: &PerCpu, acked: u32) -> IrqOutcome {
    let intid = if acked == crate::irqchip::NOT_ACKED { cpuif::ack() } else { acked };
    // The common case first, with the fewest tests: one device or timer
    // interrupt (a PPI, or an SPI this cell owns) is injected and the CPU
    // returns at once; another pending one traps again right away.
    if (32..1020).contains(&intid) || (16..32).contains(&intid) && intid != MAINTENANCE_IRQ {
        cpuif::eoi(intid);
        if intid < 32 || owner(intid) == Some(cpu.cell.load(Ordering::Relaxed) as u8) {
            if intid >= 32 && super::safe_spi::active() {
                return safe_spi_irq(cpu, intid);
            }
            cpu.count(Stat::Virq);
            if try_inject(intid, true) {
                // Timed once for both histograms (crate::trace).
                cpu.trace.injected_and_exit(crate::arch::counter());
                return IrqOutcome::Resume;
            }
            cpu.irq_pending.post(intid);
            cpuif::set_ich_hcr(cpuif::ich_hcr() | ICH_HCR_UIE);
        } else {
            // An SPI of another cell (a late one after a hand-over).
            cpuif::deactivate(intid);
        }
        cpu.trace.exit(crate::trace::Exit::Irq, crate::arch::counter());
        return IrqOutcome::Resume;
    }
    let outcome = handle_other_irqs(cpu, intid);
    cpu.trace.exit(crate::trace::Exit::Irq, crate::arch::counter());
    outcome
}

/// An SPI of this trapped cell while a direct-mode cell runs
/// (`safe_spi`): taken out of the active state, then injected (or
/// queued) as a virtual interrupt with the EOI maintenance request.
#[inline(never)]
fn safe_spi_irq(cpu: &PerCpu, intid: u32) -> IrqOutcome {
    super::safe_spi::take(intid);
    inject_on(cpu, intid, true);
    cpu.trace.exit(crate::trace::Exit::Irq, crate::arch::counter());
    IrqOutcome::Resume
}

/// Everything but the common case, starting with the acknowledged
/// `intid`: the management SGI, the maintenance interrupt, SGIs, nothing
/// of group 1; then whatever else is pending until a device interrupt is
/// injected or none is left.
#[inline(never)]
fn handle_other_irqs(cpu: &PerCpu, first: u32) -> IrqOutcome {
    let cell = cpu.cell.load(Ordering::Relaxed) as u8;
    let mut outcome = IrqOutcome::Resume;
    let mut intid = first;
    loop {
        if intid >= 8192 {
            // An LPI: a cell device's MSI through the ITS (`its`). No
            // active state to deactivate: the EOI ends it.
            cpuif::eoi(intid);
            super::its::forward_lpi(intid);
            intid = cpuif::ack();
            continue;
        }
        if intid >= 1020 {
            // Nothing of group 1: an FIQ (or a spurious entry). Whatever
            // sits in group 0 is nobody's; drop it so it cannot re-trap.
            drop_group0(cpu);
            break;
        }
        cpuif::eoi(intid);
        match intid {
            MGMT_SGI => {
                cpuif::deactivate(intid);
                cpu.count(Stat::Management);
                super::safe_spi::adopt(cpu);
                drain_pending(cpu);
                if cpu.park_request.load(Ordering::Acquire) {
                    outcome = IrqOutcome::Park;
                }
            }
            MAINTENANCE_IRQ => {
                // Conditions first (the EOI condition is level), so the
                // interrupt is not pending again once deactivated.
                super::safe_spi::serve_eois();
                cpuif::deactivate(intid);
                cpu.count(Stat::Maintenance);
                drain_pending(cpu);
            }
            // A physical SGI other than ours comes from a Linux CPU that
            // has already left EL2 (disable in progress): it is the root's
            // IPI, forwarded as a virtual one so Linux loses none. Other
            // cells never get physical SGIs (they are trapped); drop those.
            0..=14 if cell == 0 => {
                cpuif::deactivate(intid);
                cpu.count(Stat::Vsgi);
                inject(intid, false);
            }
            0..=15 => cpuif::deactivate(intid),
            16..=31 => {
                inject_on(cpu, intid, true);
                break;
            }
            _ if owner(intid) == Some(cell) => {
                if super::safe_spi::active() {
                    super::safe_spi::take(intid);
                }
                inject_on(cpu, intid, true);
                break;
            }
            _ => cpuif::deactivate(intid),
        }
        intid = cpuif::ack();
    }
    outcome
}

/// Acknowledges, disables and deactivates every pending group-0 interrupt:
/// no guest may use group 0 (the emulation keeps it from cells), and one
/// left there would otherwise trap as an FIQ forever, so this CPU would
/// never take the management SGI again.
#[cold]
fn drop_group0(cpu: &PerCpu) {
    for _ in 0..32 {
        let intid = cpuif::ack0();
        if intid >= 1020 {
            return;
        }
        if intid < 32 {
            let frame = u64::from(cpu.gicr_frame.load(Ordering::Relaxed));
            if HV_PRIVATE & (1 << intid) == 0 {
                mmio_write(gicr(frame, 0x1_0180), 4, 1 << intid);
            }
        } else if intid < 1020 {
            let (reg, bit) = bit_reg(0x180, intid);
            mmio_write(gicd(reg), 4, u64::from(bit));
        }
        cpuif::eoi0(intid);
        cpuif::deactivate(intid);
    }
}

/// ICC_SGI1R_EL1 value sending `sgi` to the CPU with affinity `mpidr`.
fn sgi_value(mpidr: u64, sgi: u32) -> u64 {
    crate::arch::regval::sgi1r::to_cpu(mpidr, sgi)
}

/// Sends the management SGI to `target`.
/// Never a direct-mode CPU: the management path's kick (`GicV3::kick`)
/// tells those apart; the other callers kick CPUs of trapped cells only
/// (a virtual SGI's target shares the trapped sender's cell, ivshmem
/// cells are never direct).
pub fn kick(target: &PerCpu) {
    cpuif::send_sgi(sgi_value(target.mpidr.load(Ordering::Relaxed), MGMT_SGI));
}

/// Whether [`kick`] (or direct mode's Group-0 kick) would wake this CPU
/// from WFI now: SGI 15 is this CPU's hypervisor interrupt in the group
/// its mode gives it (`reset_banked`, `direct::enter`), enabled there;
/// the physical interface must let its priority through. A CPU whose
/// interface does not (e.g. a direct-mode cell left an active priority
/// behind) must not sleep in WFI: its park loop keeps to WFE.
pub fn kick_wakes_this_cpu() -> bool {
    cpuif::would_signal(super::direct::is_direct(this_cpu()), u64::from(HV_PRIO))
}

/// Emulates a write to ICC_SGI1R_EL1 (or ASGI1R/SGI0R): virtual SGIs to
/// the sender's own cell only.
pub fn emulate_sgi(value: u64) {
    let me = this_cpu();
    // A direct-mode CPU runs with HCR_EL2.IMO clear: one register test,
    // no memory access, on the trapped SGI path.
    if crate::arch::irqs_to_el1() {
        super::direct::emulate_sgi(me, value);
        return;
    }
    let value = crate::arch::regval::sgi1r::Sgi1r(value);
    let sgi = value.intid();
    for (t, mpidr) in sgi_targets(present_cpus(), me, value) {
        if core::ptr::eq(t, me) {
            me.count(Stat::Vsgi);
            inject(sgi, false);
        } else {
            // One read-modify-write decides, against `hand_back`'s swap of
            // the same word, whether the target is still in EL2 (it will
            // inject the SGI) or has left (Linux takes the real SGI). The
            // in-flight count is raised before that decision and dropped
            // only once the kick is out, so `hand_back` can wait for it.
            let flight = KICKS_IN_FLIGHT.get(t.cpu_id.load(Ordering::Relaxed) as usize);
            if let Some(f) = flight {
                f.fetch_add(1, Ordering::SeqCst);
            }
            let old = t.vsgi_pending.fetch_or(1 << sgi, Ordering::SeqCst);
            if old & LEFT_EL2 != 0 {
                cpuif::send_sgi(sgi_value(mpidr, sgi));
            } else {
                kick(t);
                // The SGI write is complete (at the redistributor) before
                // the count says so.
                crate::arch::dsb_ish();
            }
            if let Some(f) = flight {
                f.fetch_sub(1, Ordering::Release);
            }
        }
    }
}

/// Handles a trapped access to the GIC; `None` if `ipa` is not the GIC's.
/// Returns `Some(Ok(read value))`, or `Some(Err(()))` for an access the
/// architecture does not allow.
fn set_physically_pending(cpu: &PerCpu, intid: u32) {
    if intid < 32 {
        let frame = u64::from(cpu.gicr_frame.load(Ordering::Relaxed));
        mmio_write(gicr(frame, 0x1_0200), 4, 1 << intid);
    } else {
        mmio_write(gicd(0x200 + u64::from(intid / 32) * 4), 4, 1 << (intid % 32));
    }
}

/// Gives the CPU interface back to Linux (disable): virtual pending
/// interrupts become physically pending again, Linux's priority mask,
/// group enable and EOI mode are restored, the virtual interface is off.
pub fn hand_back() {
    let cpu = this_cpu();
    cpu.irq_fast.store(0, Ordering::Relaxed);
    // Virtual SGIs other CPUs posted for us become real ones. The swap is
    // the point after which `emulate_sgi` sends senders' SGIs physically
    // (it sees LEFT_EL2 in the same word, total order of RMWs on one
    // location); a sender ordered before it left its bit in `posted` and
    // may still have a management kick in flight: SGI 15 and PPI 25 are
    // disabled below before Linux runs, so such a late kick stays masked
    // and never reaches Linux (the "unexpected IRQ 15" of a disable).
    //
    // Closing the late kick by construction: a sender raises
    // KICKS_IN_FLIGHT[us] before its fetch_or, so if that fetch_or came
    // before our swap (it found no LEFT_EL2 and will kick), our swap reads
    // its write and so sees the raised count below; we wait until the kick
    // is out, and only then clear SGI 15's pending state. A sender whose
    // fetch_or comes after the swap sees LEFT_EL2 and sends Linux's own
    // SGI, never SGI 15. The other kick (cell management, cell/manage.rs)
    // targets CPUs of non-root cells, and disable runs only when the root
    // is the last cell. So no SGI 15 is pending or can become pending once
    // this CPU runs Linux, even if Linux later enables all SGIs (it does
    // when a CPU comes online).
    let posted = cpu.vsgi_pending.swap(LEFT_EL2, Ordering::SeqCst);
    if let Some(f) = KICKS_IN_FLIGHT.get(cpu.cpu_id.load(Ordering::Relaxed) as usize) {
        // Bounded: each sender is between two instructions at EL2 with
        // interrupts masked, and never waits for us.
        while f.load(Ordering::Acquire) != 0 {
            core::hint::spin_loop();
        }
    }
    let mpidr = cpu.mpidr.load(Ordering::Relaxed);
    for sgi in (0..16).filter(|s| posted & (1 << s) != 0) {
        cpuif::send_sgi(sgi_value(mpidr, sgi));
    }
    let frame = cpu.gicr_frame.load(Ordering::Relaxed);
    if frame != u32::MAX {
        let frame = u64::from(frame);
        mmio_write(gicr(frame, 0x1_0180), 4, HV_PRIVATE);
        wait_rwp(frame);
        mmio_write(gicr(frame, 0x1_0280), 4, HV_PRIVATE);
    }
    // Safe-mode SPIs (never physically active) enabled again first; the
    // loop below makes a pending one physically pending.
    super::safe_spi::drop_cpu_entries();
    for n in 0..cpuif::num_lrs() {
        let lr = cpuif::read_lr(n);
        let state = lr >> 62;
        let vintid = (lr & 0xffff_ffff) as u32;
        // A virtual INTx has no physical interrupt to make pending.
        if state & 1 != 0 && !(lr & LR_HW == 0 && crate::irqchip::spi::is_virtual(vintid)) {
            if lr & LR_HW != 0 {
                cpuif::deactivate(((lr >> 32) & 0x3ff) as u32);
            }
            set_physically_pending(cpu, vintid);
        }
        cpuif::write_lr(n, 0);
    }
    cpu.irq_pending.drain(|intid| {
        if crate::irqchip::spi::is_virtual(intid) {
            return true;
        }
        if super::safe_spi::in_flight(intid) {
            super::safe_spi::finish(intid);
        } else if intid >= 16 {
            cpuif::deactivate(intid);
        }
        set_physically_pending(cpu, intid);
        true
    });
    let vmcr = cpuif::ich_vmcr();
    let pmr = (vmcr >> 24) & 0xff;
    let igrpen1 = (vmcr >> 1) & 1;
    let eoimode = (vmcr >> 9) & 1;
    let ctlr = (cpu.linux_gic[2].load(Ordering::Relaxed) & !(1 << 1)) | (eoimode << 1);
    cpuif::set_ich_hcr(0);
    cpuif::restore_physical(pmr, igrpen1, ctlr);
}

//! The GICv2 interrupt path: acknowledge through GICC, inject into GICH
//! list registers or queue, the management SGI and cells' SGIs through
//! GICD_SGIR, and the hand-back of the interface to Linux.

use super::lr;
use super::phys::*;
use super::{HV_PRIVATE, MAINTENANCE_IRQ, MGMT_SGI};
use crate::irqchip::gicv3::snapshot::bit_reg;
use crate::irqchip::lr_merge::{merge, Merge};
use crate::irqchip::{spi::owner, IrqOutcome};
use crate::percpu::{present_cpus, this_cpu, PerCpu, Stat};
use core::sync::atomic::Ordering;

/// Set in a CPU's `vsgi_pending` once it has left EL2 (disable).
const LEFT_EL2: u32 = 1 << 31;
/// Priority of injected interrupts (Linux's default).
const PRIO: u8 = 0xa0;
/// GICD_SGIR.
const SGIR: u64 = 0xf00;

fn read_lr(n: usize) -> u32 {
    gich_read(lr::LR0 + 4 * n as u64)
}
fn write_lr(n: usize, v: u32) {
    gich_write(lr::LR0 + 4 * n as u64, v)
}

/// Puts `intid` into a free list register; false if none is free.
fn try_inject(intid: u32, hw: bool) -> bool {
    let n = num_lrs();
    // A second delivery joins the entry a list register already holds
    // for its INTID (`lr_merge`, as on GICv3): a virtual one pending
    // stays one, one active becomes active and pending so the edge is
    // taken again after its EOI; a hardware SPI comes again only after
    // its owner cleared the active state itself (GICD_ICACTIVER).
    // Only list registers ELRSR does not show empty can hold a valid
    // entry: none read in the common case of nothing else in flight.
    let (elrsr0, elrsr1) = (gich_read(lr::ELRSR0), gich_read(lr::ELRSR1));
    let mut used = !(u64::from(elrsr1) << 32 | u64::from(elrsr0)) & lr::implemented(n);
    while used != 0 {
        let i = used.trailing_zeros() as usize;
        used &= used - 1;
        let v = read_lr(i);
        if lr::state(v) != 0 && lr::vintid(v) == intid {
            match merge(lr::entry(v), hw) {
                Merge::Keep => return true,
                Merge::SetPending => {
                    write_lr(i, v | lr::PENDING);
                    return true;
                }
                Merge::Separate => break,
            }
        }
    }
    // A free entry is one ELRSR names that carries no EOI request still
    // to be served (the guest completed it, the maintenance interrupt has
    // not run yet): its physical interrupt awaits our deactivation.
    let busy_eoi = if eoi_quirk() { eoi_done() } else { 0 };
    let free = lr::free_lr(elrsr0 & !(busy_eoi as u32), elrsr1 & !((busy_eoi >> 32) as u32), n);
    match free {
        Some(i) => {
            let entry = if hw && eoi_quirk() { lr::software_deactivated(intid, PRIO) } else { lr::pending(intid, hw, 0, PRIO) };
            write_lr(i, entry);
            true
        }
        None => false,
    }
}

fn set_uie(on: bool) {
    let hcr = gich_read(lr::HCR);
    gich_write(lr::HCR, if on { hcr | lr::HCR_UIE } else { hcr & !lr::HCR_UIE });
}

/// Injects `intid` into this CPU's vCPU.
pub fn inject(intid: u32, hw: bool) {
    inject_on(this_cpu(), intid, hw)
}

fn inject_on(cpu: &PerCpu, intid: u32, hw: bool) {
    cpu.count(Stat::Virq);
    if !try_inject(intid, hw) {
        cpu.irq_pending.post(intid);
        set_uie(true);
    }
}

fn drain_pending(cpu: &PerCpu) {
    let mut sgis = cpu.vsgi_pending.swap(0, Ordering::AcqRel) & !LEFT_EL2;
    while sgis != 0 {
        let sgi = sgis.trailing_zeros();
        sgis &= sgis - 1;
        cpu.count(Stat::Vsgi);
        inject_on(cpu, sgi, false);
    }
    let cell = cpu.cell.load(Ordering::Relaxed);
    let done = cpu.irq_pending.drain(|intid| {
        let virt = intid >= 16 && crate::irqchip::spi::is_virtual(intid);
        if virt && owner(intid).map(u32::from) != Some(cell) {
            return true;
        }
        try_inject(intid, intid >= 16 && !virt)
    });
    set_uie(!done);
}

/// See [`crate::irqchip::IrqChip::inject_virtual`].
pub fn inject_virtual(target: &PerCpu, intid: u32) {
    let me = this_cpu();
    if core::ptr::eq(target, me) {
        inject_on(me, intid, false);
        return;
    }
    if target.irq_pending.post(intid) {
        kick(target);
        crate::arch::dsb_ish();
    }
}

fn deactivate(iar: u32) {
    gicc_write(GICC_DIR, iar);
}

/// The list registers whose EOI-flagged entry the guest completed
/// (GICH_EISR1:EISR0).
fn eoi_done() -> u64 {
    u64::from(gich_read(lr::EISR1)) << 32 | u64::from(gich_read(lr::EISR0))
}

/// Deactivates the physical interrupts of the entries the guest completed
/// (`phys::eoi_quirk`) and frees those entries; at the maintenance
/// interrupt, before the refill.
fn serve_eois() {
    let mut done = eoi_done();
    while done != 0 {
        let n = done.trailing_zeros() as usize;
        done &= done - 1;
        let v = read_lr(n);
        if v & lr::EOI != 0 && lr::state(v) == 0 {
            write_lr(n, 0);
            deactivate(lr::vintid(v));
        }
    }
}

/// The interrupt path: acknowledge, inject what belongs to this CPU's
/// cell, handle the hypervisor's own; until nothing is pending or one
/// device interrupt was injected.
pub fn handle_irq(cpu: &PerCpu) -> IrqOutcome {
    let cell = cpu.cell.load(Ordering::Relaxed) as u8;
    let mut outcome = IrqOutcome::Resume;
    // Whether a device interrupt went into a list register (timed for
    // both EL2-latency histograms at once, as on GICv3: crate::trace).
    let mut injected = false;
    loop {
        let iar = gicc_read(GICC_IAR);
        let intid = iar & 0x3ff;
        if intid >= 1020 {
            break;
        }
        // EOImode 1: priority drop now; deactivation by DIR here, or by
        // the guest's EOI through the list register's HW bit.
        gicc_write(GICC_EOIR, iar);
        match intid {
            MGMT_SGI => {
                deactivate(iar);
                cpu.count(Stat::Management);
                drain_pending(cpu);
                if cpu.park_request.load(Ordering::Acquire) {
                    outcome = IrqOutcome::Park;
                }
            }
            MAINTENANCE_IRQ => {
                cpu.count(Stat::Maintenance);
                // Conditions first, so the (level) maintenance interrupt
                // is not pending again the moment it is deactivated.
                if eoi_quirk() {
                    serve_eois();
                }
                drain_pending(cpu);
                deactivate(iar);
            }
            // A physical SGI other than ours reaches the root only from a
            // CPU that already left EL2 (disable): forwarded as virtual.
            0..=14 if cell == 0 => {
                deactivate(iar);
                cpu.count(Stat::Vsgi);
                inject_on(cpu, intid, false);
            }
            0..=15 => deactivate(iar),
            16..=31 => {
                inject_on(cpu, intid, true);
                injected = true;
                break;
            }
            _ if owner(intid) == Some(cell) => {
                inject_on(cpu, intid, true);
                injected = true;
                break;
            }
            _ => deactivate(iar),
        }
    }
    if injected {
        cpu.trace.injected_and_exit(crate::arch::counter());
    } else {
        cpu.trace.exit(crate::trace::Exit::Irq, crate::arch::counter());
    }
    outcome
}

/// Sends physical SGI `sgi` to the CPU interfaces in `targets`.
fn send_sgi(targets: u8, sgi: u32) {
    crate::arch::dsb_ish();
    gicd_write(SGIR, (u32::from(targets) << 16) | (sgi & 0xf));
}

/// Sends the management SGI to `target`.
pub fn kick(target: &PerCpu) {
    if let Some(i) = iface(target) {
        send_sgi(1 << i, MGMT_SGI);
    }
}

/// A cell's GICD_SGIR write: virtual SGIs to the CPUs of its own cell
/// that the (filtered) target list names.
pub fn emulate_sgir(value: u32) {
    let me = this_cpu();
    let cell = me.cell.load(Ordering::Relaxed);
    let Some(my_if) = iface(me) else { return };
    let (sgi, targets) = super::dist::sgir_targets(value, my_if, cell_ifaces(cell as u8));
    for t in present_cpus() {
        if !t.present.load(Ordering::Acquire) || t.cell.load(Ordering::Relaxed) != cell {
            continue;
        }
        let Some(ti) = iface(t) else { continue };
        if targets & (1 << ti) == 0 {
            continue;
        }
        if core::ptr::eq(t, me) {
            me.count(Stat::Vsgi);
            inject_on(me, sgi, false);
        } else {
            let old = t.vsgi_pending.fetch_or(1 << sgi, Ordering::SeqCst);
            if old & LEFT_EL2 != 0 {
                send_sgi(1 << ti, sgi);
            } else {
                kick(t);
            }
        }
    }
}

fn set_physically_pending(intid: u32, me: u8) {
    if intid < 16 {
        send_sgi(1 << me, intid);
    } else {
        let (reg, b) = bit_reg(0x200, intid);
        gicd_write(reg, b);
    }
}

/// Gives the CPU interface back to Linux: pending virtual interrupts
/// become physically pending, Linux's priority mask and control come
/// back from the virtual interface, the hypervisor's two are disabled.
pub fn hand_back() {
    let cpu = this_cpu();
    let Some(me) = iface(cpu) else { return };
    let posted = cpu.vsgi_pending.swap(LEFT_EL2, Ordering::SeqCst);
    for sgi in (0..16).filter(|s| posted & (1 << s) != 0) {
        send_sgi(1 << me, sgi);
    }
    gicd_write(0x180, HV_PRIVATE);
    for n in 0..num_lrs() {
        let v = read_lr(n);
        let vintid = lr::vintid(v);
        // A HW entry's physical interrupt is active until the guest's EOI,
        // which now goes to the physical interface: deactivate it here
        // whether the entry is pending or (only) active, or it would stay
        // active, and masked, for good.
        if lr::state(v) != 0 && v & lr::HW != 0 {
            deactivate(lr::pintid(v));
        }
        // An EOI-flagged entry's physical interrupt is active until we
        // deactivate it, whatever the entry's state (completed or not).
        if v & lr::HW == 0 && v & lr::EOI != 0 {
            deactivate(vintid);
        }
        if lr::state(v) & 1 != 0 && !(v & lr::HW == 0 && crate::irqchip::spi::is_virtual(vintid)) {
            set_physically_pending(vintid, me);
        }
        write_lr(n, 0);
    }
    cpu.irq_pending.drain(|intid| {
        if crate::irqchip::spi::is_virtual(intid) {
            return true;
        }
        if intid >= 16 {
            deactivate(intid);
        }
        set_physically_pending(intid, me);
        true
    });
    let (pmr, ctlr) = physical_from_vmcr(gich_read(lr::VMCR));
    gich_write(lr::HCR, 0);
    give_back_groups(cpu);
    gicc_write(GICC_PMR, pmr);
    // Linux's enables and EOImode as its virtual interface last had them.
    gicc_write(GICC_CTLR, ctlr);
}

//! The physical GICv3 seen from EL2: where it is, its setup per CPU, the
//! hand-over of SPIs with the saved root configuration of each, and the
//! reset of a CPU's banked interrupts.

use super::redist::{FRAME_SIZE, HV_PRIVATE, MAINTENANCE_IRQ, MGMT_SGI};
use super::snapshot::{bit_reg, cfg_reg, SpiConfig};
use crate::arch::gicv3 as cpuif;
use crate::arch::regval::mpidr;
use crate::percpu::{this_cpu, PerCpu};
use crate::sync::Mutex;
use core::sync::atomic::{AtomicU64, Ordering};
/// The SPI ownership map is version-neutral (`irqchip::spi`).
pub(super) use crate::irqchip::spi::{owner, set_owner, NO_OWNER};
/// List register and ICH_HCR_EL2 bits, from aarch64-cpu's fields.
pub(super) use crate::arch::regval::ich::{HCR_EN as ICH_HCR_EN, HCR_UIE as ICH_HCR_UIE, LR_HW};

pub(super) static GICD_PHYS: AtomicU64 = AtomicU64::new(0);
pub(super) static GICD_VA: AtomicU64 = AtomicU64::new(0);
pub(super) static GICR_PHYS: AtomicU64 = AtomicU64::new(0);
pub(super) static GICR_VA: AtomicU64 = AtomicU64::new(0);
pub(super) static GICR_FRAMES: AtomicU64 = AtomicU64::new(0);
/// The root's configuration of each SPI while a cell owns it (packed by
/// `SpiConfig::pack`, 0: none) and its routing.
pub(super) static SPI_SAVED: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];
pub(super) static SPI_SAVED_ROUTE: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];
/// Default priority of every banked interrupt a CPU hands to a guest (the
/// value Linux gives its own), and of the hypervisor's two (higher).
pub(super) const GUEST_PRIO: u32 = 0xa0;
pub(super) const HV_PRIO: u32 = 0x80;
/// GICR_TYPER.Last: this is the last redistributor of the region.
const TYPER_LAST: u64 = 1 << 4;
/// Set in a CPU's `vsgi_pending` once it has left EL2 (disable).
pub(super) const LEFT_EL2: u32 = 1 << 31;
/// Serialises read-modify-write emulation of distributor registers.
pub(super) static DIST_LOCK: Mutex<()> = Mutex::new(());

pub(super) fn mmio_read(va: u64, size: u8) -> u64 {
    // SAFETY: `va` lies in the GICD/GICR ranges mapped as device memory at
    // EL2 by `init_global`, naturally aligned for `size` (checked by the
    // classifiers); device reads have no memory-safety effects.
    unsafe { crate::arch::device::read(va, size) }
}

pub(super) fn mmio_write(va: u64, size: u8, v: u64) {
    // SAFETY: as in `mmio_read`; the value was filtered by the policy.
    unsafe { crate::arch::device::write(va, size, v) }
}

pub(super) fn gicd(off: u64) -> u64 {
    GICD_VA.load(Ordering::Relaxed) + off
}

pub(super) fn gicr(frame: u64, off: u64) -> u64 {
    GICR_VA.load(Ordering::Relaxed) + frame * FRAME_SIZE + off
}

/// Records where the GIC is and maps it at EL2 (`map(va, pa, size)`).
/// In boot-first mode the distributor is switched on (affinity routing,
/// both groups); after a late launch Linux already did that.
pub fn init_global(gicd_phys: u64, gicr_phys: u64, frames: u64, gicd_va: u64, gicr_va: u64, boot_first: bool) {
    GICD_PHYS.store(gicd_phys, Ordering::Relaxed);
    GICR_PHYS.store(gicr_phys, Ordering::Relaxed);
    GICR_FRAMES.store(frames, Ordering::Relaxed);
    GICD_VA.store(gicd_va, Ordering::Relaxed);
    GICR_VA.store(gicr_va, Ordering::Relaxed);
    if boot_first {
        mmio_write(gicd(0), 4, 0x13);
        while mmio_read(gicd(0), 4) & (1 << 31) != 0 {
            crate::arch::cpu_relax();
        }
        // No firmware or Linux configured the SPIs: make them Group 1, as
        // the emulation tells their owners they are (IGROUPR is RAO/WI
        // for owned SPIs, `dist::classify`); a Group-0 SPI would only ever
        // be dropped by the FIQ path.
        let lines = (mmio_read(gicd(0x4), 4) & 0x1f) + 1;
        for w in 1..lines.min(32) {
            mmio_write(gicd(0x80 + 4 * w), 4, 0xffff_ffff);
        }
    }
}

pub(super) fn bit(base: u64, irq: u32) -> bool {
    let (reg, b) = bit_reg(base, irq);
    mmio_read(gicd(reg), 4) as u32 & b != 0
}

pub(super) fn set_bit_rmw(base: u64, irq: u32, on: bool) {
    let (reg, b) = bit_reg(base, irq);
    let cur = mmio_read(gicd(reg), 4) as u32;
    mmio_write(gicd(reg), 4, u64::from(if on { cur | b } else { cur & !b }));
}

/// Disables SPI `irq` and clears its pending and active state.
pub(super) fn quiesce(irq: u32) {
    let (reg, b) = bit_reg(0x180, irq);
    mmio_write(gicd(reg), 4, u64::from(b));
    wait_dist_rwp();
    let (reg, b) = bit_reg(0x280, irq);
    mmio_write(gicd(reg), 4, u64::from(b));
    let (reg, b) = bit_reg(0x380, irq);
    mmio_write(gicd(reg), 4, u64::from(b));
}

/// Gives SPI `irq` to cell `cell_id`, routed to `target_mpidr`: the root's
/// configuration is kept for `release_spi`, the interrupt is disabled,
/// neither pending nor active, group 1 and owned by the cell.
pub fn assign_spi(irq: u32, cell_id: u8, target_mpidr: u64) {
    let (Some(saved), Some(route)) = (SPI_SAVED.get(irq as usize), SPI_SAVED_ROUTE.get(irq as usize)) else {
        return;
    };
    if irq < 32 {
        return;
    }
    let _guard = DIST_LOCK.lock();
    if saved.load(Ordering::Relaxed) == 0 {
        let (creg, shift) = cfg_reg(irq);
        let c = SpiConfig {
            group: bit(0x80, irq),
            grpmod: bit(0xd00, irq),
            prio: mmio_read(gicd(0x400 + u64::from(irq)), 1) as u8,
            cfg: ((mmio_read(gicd(creg), 4) >> shift) & 3) as u8,
            enabled: bit(0x100, irq),
            route: mmio_read(gicd(0x6000 + u64::from(irq) * 8), 8),
        };
        route.store(c.route, Ordering::Relaxed);
        saved.store(c.pack(), Ordering::Relaxed);
    }
    quiesce(irq);
    super::safe_spi::forget(irq);
    set_bit_rmw(0x80, irq, true);
    set_bit_rmw(0xd00, irq, false);
    mmio_write(gicd(0x6000 + u64::from(irq) * 8), 8, target_mpidr & mpidr::AFFINITY_MASK);
    set_owner(irq, cell_id);
}

/// The affinity SPI `irq` is routed to (GICD_IROUTER); 0 for no SPI.
pub fn spi_route(irq: u32) -> u64 {
    if !(32..1020).contains(&irq) {
        return 0;
    }
    mmio_read(gicd(0x6000 + u64::from(irq) * 8), 8)
}

/// Takes SPI `irq` back for the root: disabled, pending and active
/// cleared, the root's configuration from before `assign_spi` restored
/// (enable last), owner the root.
pub fn release_spi(irq: u32) {
    let (Some(saved), Some(route)) = (SPI_SAVED.get(irq as usize), SPI_SAVED_ROUTE.get(irq as usize)) else {
        return;
    };
    if irq < 32 {
        return;
    }
    // Nobody's first: from here no cell's emulated access reaches the SPI
    // (classify reads the owner), so nothing rewrites it below; the root
    // gets it once it is back in the state it left it in.
    set_owner(irq, NO_OWNER);
    let _guard = DIST_LOCK.lock();
    quiesce(irq);
    super::safe_spi::forget(irq);
    if let Some(c) = SpiConfig::unpack(saved.swap(0, Ordering::Relaxed), route.load(Ordering::Relaxed)) {
        set_bit_rmw(0x80, irq, c.group);
        set_bit_rmw(0xd00, irq, c.grpmod);
        mmio_write(gicd(0x400 + u64::from(irq)), 1, u64::from(c.prio));
        let (creg, shift) = cfg_reg(irq);
        let cur = mmio_read(gicd(creg), 4);
        mmio_write(gicd(creg), 4, (cur & !(3 << shift)) | (u64::from(c.cfg) << shift));
        mmio_write(gicd(0x6000 + u64::from(irq) * 8), 8, c.route);
        if c.enabled {
            let (reg, b) = bit_reg(0x100, irq);
            mmio_write(gicd(reg), 4, u64::from(b));
        }
    }
    set_owner(irq, 0);
}

pub(super) fn affinity(mpidr: u64) -> u64 {
    self::mpidr::packed(mpidr)
}

/// Per-CPU setup: find this CPU's redistributor, wake it (boot-first),
/// enable the management SGI and the maintenance interrupt, take over the
/// physical CPU interface and turn the virtual interface on. A late launch
/// hands Linux's interface settings to the virtual interface.
pub fn init_cpu(cpu: &PerCpu, boot_first: bool) -> bool {
    let aff = affinity(crate::arch::mpidr());
    let frames = GICR_FRAMES.load(Ordering::Relaxed);
    // GICR_TYPER.Last ends the redistributors: a frame after it may be
    // no device at all, and reading it would abort at EL2 (a config whose
    // gicr_base is off by some frames must be refused, not crash).
    let mut found = None;
    for f in 0..frames {
        let typer = mmio_read(gicr(f, 0x8), 8);
        if typer >> 32 == aff {
            found = Some(f);
            break;
        }
        if typer & TYPER_LAST != 0 {
            break;
        }
    }
    let Some(frame) = found else {
        return false;
    };
    cpu.gicr_frame.store(frame as u32, Ordering::Relaxed);
    if boot_first {
        let waker = mmio_read(gicr(frame, 0x14), 4);
        mmio_write(gicr(frame, 0x14), 4, waker & !2);
        while mmio_read(gicr(frame, 0x14), 4) & 4 != 0 {
            crate::arch::cpu_relax();
        }
    }
    if boot_first {
        // Nobody configured this redistributor: give it the state every
        // CPU has before a guest gets it (a late launch keeps Linux's).
        reset_banked(frame);
    } else {
        let group = mmio_read(gicr(frame, 0x1_0080), 4);
        mmio_write(gicr(frame, 0x1_0080), 4, group | HV_PRIVATE);
        mmio_write(gicr(frame, 0x1_0400 + u64::from(MGMT_SGI)), 1, u64::from(HV_PRIO));
        mmio_write(gicr(frame, 0x1_0400 + u64::from(MAINTENANCE_IRQ)), 1, u64::from(HV_PRIO));
        mmio_write(gicr(frame, 0x1_0100), 4, HV_PRIVATE);
    }

    let (pmr, igrpen1, ctlr) = cpuif::physical_state();
    cpu.linux_gic[0].store(pmr, Ordering::Relaxed);
    cpu.linux_gic[1].store(igrpen1, Ordering::Relaxed);
    cpu.linux_gic[2].store(ctlr, Ordering::Relaxed);
    if !boot_first {
        // The IPI that called us into EL2 is still active: deactivate every
        // banked interrupt so none stays stuck once EOIs go virtual.
        mmio_write(gicr(frame, 0x1_0380), 4, 0xffff_ffff);
    }
    cpuif::take_cpu_interface();
    for n in 0..cpuif::num_lrs() {
        cpuif::write_lr(n, 0);
    }
    let vmcr = if boot_first { 0 } else { crate::arch::regval::ich::vmcr_from_physical(pmr, igrpen1, ctlr) };
    cpuif::set_ich_vmcr(vmcr);
    cpuif::set_ich_hcr(ICH_HCR_EN);
    // The IRQ vector may now acknowledge and inject the common interrupts
    // itself (system-register interface, list registers ready); it does
    // while ICH_ELRSR_EL2 shows all of them empty, this mask.
    let all = (1u32 << cpuif::num_lrs().min(16)).wrapping_sub(1);
    cpu.irq_fast.store(all, Ordering::Relaxed);
    true
}

/// Brings this CPU's banked interrupts (SGIs, PPIs) to one state whatever
/// the previous guest or the reset left: all group 1 (no modifier), the
/// default priority, disabled and neither pending nor active, except the
/// hypervisor's two, which stay enabled and keep a pending kick.
pub(super) fn reset_banked(frame: u64) {
    let guest = !HV_PRIVATE & 0xffff_ffff;
    mmio_write(gicr(frame, 0x1_0180), 4, guest);
    wait_rwp(frame);
    mmio_write(gicr(frame, 0x1_0080), 4, 0xffff_ffff);
    mmio_write(gicr(frame, 0x1_0d00), 4, 0);
    let prio = u64::from(GUEST_PRIO) * 0x0101_0101;
    for w in 0..8 {
        mmio_write(gicr(frame, 0x1_0400 + w * 4), 4, prio);
    }
    mmio_write(gicr(frame, 0x1_0400 + u64::from(MGMT_SGI)), 1, u64::from(HV_PRIO));
    mmio_write(gicr(frame, 0x1_0400 + u64::from(MAINTENANCE_IRQ)), 1, u64::from(HV_PRIO));
    mmio_write(gicr(frame, 0x1_0280), 4, guest);
    mmio_write(gicr(frame, 0x1_0380), 4, guest);
    mmio_write(gicr(frame, 0x1_0100), 4, HV_PRIVATE);
}

/// Waits until a redistributor's enable change took effect (GICR_CTLR.RWP).
pub(super) fn wait_rwp(frame: u64) {
    for _ in 0..1_000_000 {
        if mmio_read(gicr(frame, 0), 4) & (1 << 3) == 0 {
            return;
        }
        crate::arch::cpu_relax();
    }
}

/// Waits until a distributor enable change took effect (GICD_CTLR.RWP).
pub(super) fn wait_dist_rwp() {
    for _ in 0..1_000_000 {
        if mmio_read(gicd(0), 4) & (1 << 31) == 0 {
            return;
        }
        crate::arch::cpu_relax();
    }
}

/// Clears the virtual interface and resets the banked interrupts of this
/// CPU's redistributor for a CPU entering a context afresh.
pub fn reset_cpu() {
    // Direct mode ends at every hand-over (the next context enters it
    // again if its cell asks); `reset_banked` below restores the groups
    // and priorities it changed.
    super::direct::leave(this_cpu());
    let frame = this_cpu().gicr_frame.load(Ordering::Relaxed);
    if frame != u32::MAX {
        reset_banked(u64::from(frame));
    }
    // Entries dropped below: a safe-mode SPI among them must not stay
    // disabled (`safe_spi`), queued or in a list register.
    super::safe_spi::drop_cpu_entries();
    this_cpu().irq_pending.drain(|intid| {
        if super::safe_spi::in_flight(intid) {
            super::safe_spi::finish(intid);
        }
        true
    });
    for n in 0..cpuif::num_lrs() {
        cpuif::write_lr(n, 0);
    }
    cpuif::set_ich_vmcr(0);
    cpuif::clear_active_priorities();
    cpuif::set_ich_hcr(ICH_HCR_EN);
    let cpu = this_cpu();
    cpu.vsgi_pending.store(0, Ordering::Relaxed);
    cpu.irq_pending.clear();
}


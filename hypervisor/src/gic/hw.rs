//! The physical GICv3 seen from EL2: setup, the interrupt path (acknowledge,
//! inject into a list register, return), SGI routing, and the trapped
//! GICD/GICR accesses of every cell.

use super::dist::{self, Action, GICD_SIZE};
use super::redist::{self, RAction, FRAME_SIZE, HV_PRIVATE, MAINTENANCE_IRQ, MGMT_SGI};
use super::snapshot::{bit_reg, cfg_reg, SpiConfig};
use crate::arch::gicv3 as cpuif;
use crate::percpu::{present_cpus, this_cpu, PerCpu, Stat};
use crate::sync::Mutex;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

const NO_OWNER: u8 = 0xff;
const LR_PENDING: u64 = 1 << 62;
const LR_HW: u64 = 1 << 61;
const LR_GROUP1: u64 = 1 << 60;
const LR_PRIO: u64 = 0xa0 << 48;
const ICH_HCR_EN: u64 = 1;
const ICH_HCR_UIE: u64 = 1 << 1;

static GICD_PHYS: AtomicU64 = AtomicU64::new(0);
static GICD_VA: AtomicU64 = AtomicU64::new(0);
static GICR_PHYS: AtomicU64 = AtomicU64::new(0);
static GICR_VA: AtomicU64 = AtomicU64::new(0);
static GICR_FRAMES: AtomicU64 = AtomicU64::new(0);
/// Owner cell of each SPI.
static SPI_OWNER: [AtomicU8; 1024] = [const { AtomicU8::new(NO_OWNER) }; 1024];
/// The root's configuration of each SPI while a cell owns it (packed by
/// `SpiConfig::pack`, 0: none) and its routing.
static SPI_SAVED: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];
static SPI_SAVED_ROUTE: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];
/// Default priority of every banked interrupt a CPU hands to a guest (the
/// value Linux gives its own), and of the hypervisor's two (higher).
const GUEST_PRIO: u32 = 0xa0;
const HV_PRIO: u32 = 0x80;
/// Set in a CPU's `vsgi_pending` once it has left EL2 (disable).
const LEFT_EL2: u32 = 1 << 31;
/// Serialises read-modify-write emulation of distributor registers.
static DIST_LOCK: Mutex<()> = Mutex::new(());

fn mmio_read(va: u64, size: u8) -> u64 {
    // SAFETY: `va` lies in the GICD/GICR ranges mapped as device memory at
    // EL2 by `init_global`, naturally aligned for `size` (checked by the
    // classifiers); device reads have no memory-safety effects.
    unsafe {
        match size {
            1 => u64::from((va as *const u8).read_volatile()),
            2 => u64::from((va as *const u16).read_volatile()),
            4 => u64::from((va as *const u32).read_volatile()),
            _ => (va as *const u64).read_volatile(),
        }
    }
}

fn mmio_write(va: u64, size: u8, v: u64) {
    // SAFETY: as in `mmio_read`; the value was filtered by the policy.
    unsafe {
        match size {
            1 => (va as *mut u8).write_volatile(v as u8),
            2 => (va as *mut u16).write_volatile(v as u16),
            4 => (va as *mut u32).write_volatile(v as u32),
            _ => (va as *mut u64).write_volatile(v),
        }
    }
}

fn gicd(off: u64) -> u64 {
    GICD_VA.load(Ordering::Relaxed) + off
}

fn gicr(frame: u64, off: u64) -> u64 {
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
    }
}

/// Size of the GICR range for `frames` CPUs.
pub fn gicr_size(frames: u64) -> u64 {
    frames * FRAME_SIZE
}

/// Gives SPI `irq` to `cell` (u8 ids).
pub fn set_owner(irq: u32, cell: u8) {
    if let Some(o) = SPI_OWNER.get(irq as usize) {
        o.store(cell, Ordering::Release);
    }
}

/// The owner of SPI `irq`.
pub fn owner(irq: u32) -> Option<u8> {
    SPI_OWNER.get(irq as usize).map(|o| o.load(Ordering::Acquire)).filter(|&o| o != NO_OWNER)
}

fn bit(base: u64, irq: u32) -> bool {
    let (reg, b) = bit_reg(base, irq);
    mmio_read(gicd(reg), 4) as u32 & b != 0
}

fn set_bit_rmw(base: u64, irq: u32, on: bool) {
    let (reg, b) = bit_reg(base, irq);
    let cur = mmio_read(gicd(reg), 4) as u32;
    mmio_write(gicd(reg), 4, u64::from(if on { cur | b } else { cur & !b }));
}

/// Disables SPI `irq` and clears its pending and active state.
fn quiesce(irq: u32) {
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
    set_bit_rmw(0x80, irq, true);
    set_bit_rmw(0xd00, irq, false);
    mmio_write(gicd(0x6000 + u64::from(irq) * 8), 8, target_mpidr & 0xff_00ff_ffff);
    set_owner(irq, cell_id);
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

/// Disables SPI `irq` and routes it to the CPU with affinity `mpidr`.
pub fn disable_and_route(irq: u32, mpidr: u64) {
    if !(32..1020).contains(&irq) {
        return;
    }
    mmio_write(gicd(0x180 + u64::from(irq / 32) * 4), 4, 1 << (irq % 32));
    mmio_write(gicd(0x6000 + u64::from(irq) * 8), 8, mpidr & 0xff_00ff_ffff);
}

fn affinity(mpidr: u64) -> u64 {
    (mpidr & 0xff_ffff) | ((mpidr >> 8) & 0xff00_0000)
}

/// Per-CPU setup: find this CPU's redistributor, wake it (boot-first),
/// enable the management SGI and the maintenance interrupt, take over the
/// physical CPU interface and turn the virtual interface on. A late launch
/// hands Linux's interface settings to the virtual interface.
pub fn init_cpu(cpu: &PerCpu, boot_first: bool) -> bool {
    let aff = affinity(crate::arch::mpidr());
    let frames = GICR_FRAMES.load(Ordering::Relaxed);
    let Some(frame) = (0..frames).find(|&f| mmio_read(gicr(f, 0x8), 8) >> 32 == aff) else {
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
    let vmcr = if boot_first {
        0
    } else {
        ((pmr & 0xff) << 24) | ((igrpen1 & 1) << 1) | (((ctlr >> 1) & 1) << 9)
    };
    cpuif::set_ich_vmcr(vmcr);
    cpuif::set_ich_hcr(ICH_HCR_EN);
    true
}

/// Brings this CPU's banked interrupts (SGIs, PPIs) to one state whatever
/// the previous guest or the reset left: all group 1 (no modifier), the
/// default priority, disabled and neither pending nor active, except the
/// hypervisor's two, which stay enabled and keep a pending kick.
fn reset_banked(frame: u64) {
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
fn wait_rwp(frame: u64) {
    for _ in 0..1_000_000 {
        if mmio_read(gicr(frame, 0), 4) & (1 << 3) == 0 {
            return;
        }
        crate::arch::cpu_relax();
    }
}

/// Waits until a distributor enable change took effect (GICD_CTLR.RWP).
fn wait_dist_rwp() {
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
    let frame = this_cpu().gicr_frame.load(Ordering::Relaxed);
    if frame != u32::MAX {
        reset_banked(u64::from(frame));
    }
    for n in 0..cpuif::num_lrs() {
        cpuif::write_lr(n, 0);
    }
    cpuif::set_ich_vmcr(0);
    cpuif::set_ich_hcr(ICH_HCR_EN);
    let cpu = this_cpu();
    cpu.vsgi_pending.store(0, Ordering::Relaxed);
    for p in &cpu.irq_pending {
        p.store(0, Ordering::Relaxed);
    }
}

/// Puts `intid` into a free list register; false if none is free.
fn try_inject(intid: u32, hw: bool) -> bool {
    // A hardware interrupt stays active until the guest deactivates it, so
    // it cannot be in a list register twice; only virtual SGIs can.
    if !hw && (0..cpuif::num_lrs()).any(|i| {
        let lr = cpuif::read_lr(i);
        lr >> 62 != 0 && lr & 0xffff_ffff == u64::from(intid)
    }) {
        return true;
    }
    // ELRSR has a bit per implemented list register only.
    let free = cpuif::elrsr();
    if free == 0 {
        return false;
    }
    let i = free.trailing_zeros() as usize;
    let mut v = LR_PENDING | LR_GROUP1 | LR_PRIO | u64::from(intid);
    if hw {
        v |= LR_HW | (u64::from(intid) << 32);
    }
    cpuif::write_lr(i, v);
    true
}

/// Injects `intid` into this CPU's vCPU, queueing it when the list
/// registers are full (drained on the underflow maintenance interrupt).
pub fn inject(intid: u32, hw: bool) {
    let cpu = this_cpu();
    cpu.count(Stat::Virq);
    if !try_inject(intid, hw) {
        if let Some(w) = cpu.irq_pending.get(intid as usize / 32) {
            w.fetch_or(1 << (intid % 32), Ordering::AcqRel);
        }
        cpuif::set_ich_hcr(cpuif::ich_hcr() | ICH_HCR_UIE);
    }
}

fn drain_pending(cpu: &PerCpu) {
    let sgis = cpu.vsgi_pending.swap(0, Ordering::AcqRel);
    for sgi in (0..16).filter(|s| sgis & (1 << s) != 0) {
        cpu.count(Stat::Vsgi);
        inject(sgi, false);
    }
    let mut all_done = true;
    for (w, word) in cpu.irq_pending.iter().enumerate() {
        let bits = word.swap(0, Ordering::AcqRel);
        for b in (0..32).filter(|b| bits & (1 << b) != 0) {
            let intid = (w * 32 + b) as u32;
            if !try_inject(intid, intid >= 16) {
                word.fetch_or(1 << b, Ordering::AcqRel);
                all_done = false;
            }
        }
    }
    if all_done {
        cpuif::set_ich_hcr(cpuif::ich_hcr() & !ICH_HCR_UIE);
    }
}

/// What an interrupt taken at EL2 asks of the trap handler.
#[derive(Debug, PartialEq, Eq)]
pub enum IrqOutcome {
    /// Return to the guest.
    Resume,
    /// The CPU was asked to park.
    Park,
}

/// The interrupt path: acknowledge everything pending, inject what belongs
/// to this CPU's cell, handle the hypervisor's own SGI.
pub fn handle_irq() -> IrqOutcome {
    let cpu = this_cpu();
    let cell = cpu.cell.load(Ordering::Relaxed) as u8;
    let mut outcome = IrqOutcome::Resume;
    loop {
        let intid = cpuif::ack();
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
                drain_pending(cpu);
                if cpu.park_request.load(Ordering::Acquire) {
                    outcome = IrqOutcome::Park;
                }
            }
            MAINTENANCE_IRQ => {
                cpuif::deactivate(intid);
                cpu.count(Stat::Maintenance);
                drain_pending(cpu);
            }
            0..=15 => cpuif::deactivate(intid),
            // The common case, one device or timer interrupt: inject it and
            // return at once; another pending one traps again right away.
            16..=31 => {
                inject(intid, true);
                break;
            }
            _ if owner(intid) == Some(cell) => {
                inject(intid, true);
                break;
            }
            _ => cpuif::deactivate(intid),
        }
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
    let aff0 = mpidr & 0xf;
    let rs = (mpidr & 0xff) >> 4;
    (1u64 << aff0)
        | (((mpidr >> 8) & 0xff) << 16)
        | (u64::from(sgi & 0xf) << 24)
        | (((mpidr >> 16) & 0xff) << 32)
        | (rs << 44)
        | (((mpidr >> 32) & 0xff) << 48)
}

/// Sends the management SGI to `target`.
pub fn kick(target: &PerCpu) {
    cpuif::send_sgi(sgi_value(target.mpidr.load(Ordering::Relaxed), MGMT_SGI));
}

/// Emulates a write to ICC_SGI1R_EL1 (or ASGI1R/SGI0R): virtual SGIs to
/// the sender's own cell only.
pub fn emulate_sgi(value: u64) {
    let me = this_cpu();
    let cell = me.cell.load(Ordering::Relaxed);
    let sgi = ((value >> 24) & 0xf) as u32;
    let irm = value & (1 << 40) != 0;
    let targets = value & 0xffff;
    let aff1 = (value >> 16) & 0xff;
    let aff2 = (value >> 32) & 0xff;
    let aff3 = (value >> 48) & 0xff;
    let rs = (value >> 44) & 0xf;
    for t in present_cpus() {
        if !t.present.load(Ordering::Acquire) || t.cell.load(Ordering::Relaxed) != cell {
            continue;
        }
        let m = t.mpidr.load(Ordering::Relaxed);
        let hit = if irm {
            !core::ptr::eq(t, me)
        } else {
            let a0 = m & 0xff;
            (m >> 8) & 0xff == aff1
                && (m >> 16) & 0xff == aff2
                && (m >> 32) & 0xff == aff3
                && a0 >> 4 == rs
                && targets & (1 << (a0 & 0xf)) != 0
        };
        if !hit {
            continue;
        }
        if core::ptr::eq(t, me) {
            me.count(Stat::Vsgi);
            inject(sgi, false);
        } else {
            // One read-modify-write decides, against `hand_back`'s swap of
            // the same word, whether the target is still in EL2 (it will
            // inject the SGI) or has left (Linux takes the real SGI).
            let old = t.vsgi_pending.fetch_or(1 << sgi, Ordering::AcqRel);
            if old & LEFT_EL2 != 0 {
                cpuif::send_sgi(sgi_value(t.mpidr.load(Ordering::Relaxed), sgi));
            } else {
                kick(t);
            }
        }
    }
}

/// Handles a trapped access to the GIC; `None` if `ipa` is not the GIC's.
/// Returns `Some(Ok(read value))`, or `Some(Err(()))` for an access the
/// architecture does not allow.
pub fn mmio(ipa: u64, size: u8, write: Option<u64>) -> Option<Result<u64, ()>> {
    let cpu = this_cpu();
    let cell = cpu.cell.load(Ordering::Relaxed) as u8;
    let gicd_phys = GICD_PHYS.load(Ordering::Relaxed);
    let gicr_phys = GICR_PHYS.load(Ordering::Relaxed);
    let frames = GICR_FRAMES.load(Ordering::Relaxed);
    if gicd_phys != 0 && (gicd_phys..gicd_phys + GICD_SIZE).contains(&ipa) {
        let off = ipa - gicd_phys;
        let action = dist::classify(off, size, |irq| owner(irq) == Some(cell)).map_err(|_| ());
        return Some(action.map(|a| perform(a, gicd(off), size, write, cell)));
    }
    if gicr_phys != 0 && (gicr_phys..gicr_phys + gicr_size(frames)).contains(&ipa) {
        let frame = (ipa - gicr_phys) / FRAME_SIZE;
        let off = (ipa - gicr_phys) % FRAME_SIZE;
        let mine = |p: &&PerCpu| p.present.load(Ordering::Acquire) && p.cell.load(Ordering::Relaxed) == u32::from(cell);
        let own_frames = present_cpus().filter(mine).map(|p| u64::from(p.gicr_frame.load(Ordering::Relaxed)));
        let (own, last) = own_frames.fold((false, 0), |(o, l), f| (o || f == frame, l.max(f)));
        let va = gicr(frame, off);
        return Some(match redist::classify(off, size, own, own && frame == last) {
            Err(_) => Err(()),
            Ok(RAction::Typer { last }) => {
                let real = mmio_read(gicr(frame, 0x8), 8);
                let v = redist::fix_typer(real, last);
                Ok(if off == 0xc { v >> 32 } else if size == 4 { v & 0xffff_ffff } else { v })
            }
            Ok(RAction::Plain(a)) => Ok(perform(a, va, size, write, cell)),
        });
    }
    None
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
    // Virtual SGIs other CPUs posted for us become real ones. The swap is
    // the point after which `emulate_sgi` sends senders' SGIs physically
    // (it sees LEFT_EL2 in the same word, total order of RMWs on one
    // location); a sender ordered before it left its bit in `posted` and
    // may still have a management kick in flight: SGI 15 and PPI 25 are
    // disabled below before Linux runs, so such a late kick stays masked
    // and never reaches Linux (the "unexpected IRQ 15" of a disable).
    let posted = cpu.vsgi_pending.swap(LEFT_EL2, Ordering::AcqRel);
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
    for n in 0..cpuif::num_lrs() {
        let lr = cpuif::read_lr(n);
        let state = lr >> 62;
        let vintid = (lr & 0xffff_ffff) as u32;
        if state & 1 != 0 {
            if lr & LR_HW != 0 {
                cpuif::deactivate(((lr >> 32) & 0x3ff) as u32);
            }
            set_physically_pending(cpu, vintid);
        }
        cpuif::write_lr(n, 0);
    }
    for (w, word) in cpu.irq_pending.iter().enumerate() {
        let bits = word.swap(0, Ordering::AcqRel);
        for b in (0..32).filter(|b| bits & (1 << b) != 0) {
            let intid = (w * 32 + b) as u32;
            if intid >= 16 {
                cpuif::deactivate(intid);
            }
            set_physically_pending(cpu, intid);
        }
    }
    let vmcr = cpuif::ich_vmcr();
    let pmr = (vmcr >> 24) & 0xff;
    let igrpen1 = (vmcr >> 1) & 1;
    let eoimode = (vmcr >> 9) & 1;
    let ctlr = (cpu.linux_gic[2].load(Ordering::Relaxed) & !(1 << 1)) | (eoimode << 1);
    cpuif::set_ich_hcr(0);
    cpuif::restore_physical(pmr, igrpen1, ctlr);
}

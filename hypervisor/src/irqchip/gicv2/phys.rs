//! The physical GICv2 seen from EL2: where its frames are, the per-CPU
//! setup (CPU interface at EL2 with EOImode 1, GICH on), the hand-over of
//! SPIs by ITARGETSR with the root's configuration kept, the reset of a
//! CPU's banked interrupts, and the trapped GICD accesses of cells.

use super::dist::{self, Action};
use super::lr;
use super::{HV_PRIVATE, MAINTENANCE_IRQ, MGMT_SGI};
use crate::irqchip::gicv3::snapshot::{bit_reg, cfg_reg, SpiConfig};
use crate::irqchip::spi::{owner, set_owner, NO_OWNER};
use crate::percpu::{present_cpus, this_cpu, PerCpu};
use crate::sync::Mutex;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

static GICD_VA: AtomicU64 = AtomicU64::new(0);
static GICC_VA: AtomicU64 = AtomicU64::new(0);
static GICH_VA: AtomicU64 = AtomicU64::new(0);
/// Physical interrupts are injected with the EOI bit and deactivated by
/// the hypervisor at the maintenance interrupt instead of with a HW entry
/// (see [`eoi_quirk`]); set once at global init.
static EOI_QUIRK: AtomicBool = AtomicBool::new(false);
/// The root's configuration of each SPI while a cell owns it (packed by
/// `SpiConfig::pack`, 0: none) and its ITARGETSR byte.
static SPI_SAVED: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];
static SPI_SAVED_TARGETS: [AtomicU64; 1024] = [const { AtomicU64::new(0) }; 1024];
/// Linux's SPI groups (GICD_IGROUPR1..31) at a late launch, given back at
/// the hand-back; all 0 (group 0, what Linux's GICv2 driver assumes: it
/// never writes them) after a boot-first start.
static LINUX_SPI_GROUPS: [AtomicU32; 32] = [const { AtomicU32::new(0) }; 32];
/// Serialises read-modify-write of distributor registers.
static DIST_LOCK: Mutex<()> = Mutex::new(());
/// Priorities: guests' banked interrupts (Linux's default) and the
/// hypervisor's two (higher).
const GUEST_PRIO: u64 = 0xa0;
const HV_PRIO: u64 = 0x80;

/// GICC registers.
pub(super) const GICC_CTLR: u64 = 0x000;
pub(super) const GICC_PMR: u64 = 0x004;
pub(super) const GICC_BPR: u64 = 0x008;
pub(super) const GICC_IAR: u64 = 0x00c;
pub(super) const GICC_EOIR: u64 = 0x010;
pub(super) const GICC_APR0: u64 = 0x0d0;
pub(super) const GICC_DIR: u64 = 0x1000;
/// GICC_CTLR: both groups signalled (as IRQs, FIQEn clear; AckCtl so
/// GICC_IAR acknowledges group 1 too) and EOImode 1
/// (bit 9: EOImodeNS, the only one without security extensions):
/// EOIR drops the priority only, DIR deactivates, as the GICv3 code does.
pub(super) const CTLR_ENABLE: u32 = 0b111;
pub(super) const CTLR_EOIMODE: u32 = 1 << 9;

fn read(va: u64) -> u32 {
    // SAFETY: `va` lies in a GIC frame mapped as device memory at EL2 by
    // `init_global`'s caller, 4-byte aligned; device reads have no
    // memory-safety effects.
    unsafe { crate::arch::device::read(va, 4) as u32 }
}

fn write(va: u64, v: u32) {
    // SAFETY: as in `read`.
    unsafe { crate::arch::device::write(va, 4, u64::from(v)) }
}

fn read_sized(va: u64, size: u8) -> u32 {
    // SAFETY: as in `read`; `size` 1 or 4 and `va` aligned for it (the
    // classifier refuses anything else).
    unsafe { crate::arch::device::read(va, size) as u32 }
}

fn write_sized(va: u64, size: u8, v: u32) {
    // SAFETY: as in `read_sized`.
    unsafe { crate::arch::device::write(va, size, u64::from(v)) }
}

/// GICD_PIDR2 in a GICv2 distributor's 4 KiB frame; ArchRev is bits [7:4].
const GICD_PIDR2_V2: u64 = 0xfe8;

/// The architecture revision the distributor mapped at `gicd_va` reports
/// where a GICv2 keeps its ID registers: 2 for a GICv2 (GIC-400 and
/// QEMU's model read 0x2b there), 0 for a GICv3 (reserved, RAZ at that
/// offset). Read before anything is written, so a configuration naming
/// the wrong version is refused without touching the controller.
pub fn arch_rev(gicd_va: u64) -> u32 {
    (read(gicd_va + GICD_PIDR2_V2) >> 4) & 0xf
}

/// GICC_IIDR: the CPU interface's identification (architecture version
/// in bits 19:16, 2 for a GICv2).
const GICC_IIDR: u64 = 0x0fc;

/// The architecture version the CPU interface mapped at `gicc_va` reports
/// in GICC_IIDR: 2 for a GICv2's (GIC-400: 0x0202143b, QEMU's model:
/// 0x0002043b). Read before anything is written to it, so a configuration
/// whose `gicc_base` names something else (another GIC frame, reserved
/// and RAZ there) is refused before the hypervisor programs it.
pub fn cpu_interface_arch(gicc_va: u64) -> u32 {
    (read(gicc_va + GICC_IIDR) >> 16) & 0xf
}

pub(super) fn gicd_read(off: u64) -> u32 {
    read(GICD_VA.load(Ordering::Relaxed) + off)
}
pub(super) fn gicd_write(off: u64, v: u32) {
    write(GICD_VA.load(Ordering::Relaxed) + off, v)
}
pub(super) fn gicc_read(off: u64) -> u32 {
    read(GICC_VA.load(Ordering::Relaxed) + off)
}
pub(super) fn gicc_write(off: u64, v: u32) {
    write(GICC_VA.load(Ordering::Relaxed) + off, v)
}
pub(super) fn gich_read(off: u64) -> u32 {
    read(GICH_VA.load(Ordering::Relaxed) + off)
}
pub(super) fn gich_write(off: u64, v: u32) {
    write(GICH_VA.load(Ordering::Relaxed) + off, v)
}

/// Number of list registers (GICH_VTR).
pub(super) fn num_lrs() -> usize {
    lr::num_lrs(gich_read(lr::VTR)).min(64)
}

/// GICD_IIDR, and the value QEMU's GICv2 model (`arm_gic`, used by
/// `virt,gic-version=2` and `xlnx-zcu102`) reports: ARM's implementer code
/// with product, variant and revision 0 (a GIC-400 reads 0x0200143b).
const GICD_IIDR: u64 = 0x008;
const IIDR_QEMU_ARM_GIC: u32 = 0x0000_043b;

/// Whether physical interrupts go to the guest as EOI-flagged entries
/// deactivated by the hypervisor (true) or as HW entries (false).
///
/// QEMU's GICv2 model (seen on 7.2 with `-trace gic_*`) deactivates the
/// physical interrupt of a HW entry at the guest's EOI but does not
/// re-evaluate the physical CPU interface: a level interrupt still
/// asserted then (a timer whose next deadline has already passed) is
/// signalled again only at the next unrelated GIC access, tens or
/// hundreds of milliseconds later (root-gic's root timer ran at ~10/s
/// instead of 100/s). A write of GICC_DIR does re-evaluate it, so on that
/// model the hypervisor deactivates itself, at the EOI maintenance
/// interrupt: one more exit per interrupt. Other GICv2s keep HW entries.
pub(super) fn eoi_quirk() -> bool {
    EOI_QUIRK.load(Ordering::Relaxed)
}

/// Records where the frames are mapped at EL2, switches the distributor
/// on for both groups and puts every SPI in group 1 (boot-first or late
/// launch alike; late launch: Linux's groups kept for the hand-back).
pub fn init_global(gicd_va: u64, gicc_va: u64, gich_va: u64, boot_first: bool) {
    GICD_VA.store(gicd_va, Ordering::Relaxed);
    GICC_VA.store(gicc_va, Ordering::Relaxed);
    GICH_VA.store(gich_va, Ordering::Relaxed);
    EOI_QUIRK.store(gicd_read(GICD_IIDR) == IIDR_QEMU_ARM_GIC, Ordering::Relaxed);
    // Both groups forwarded: boot-first, nobody enabled the distributor;
    // late launch, Linux enabled group 0 only (GICD_CTLR = 1), and every
    // interrupt becomes group 1 below, which the distributor would then
    // hold back (Linux's timer never fired after enable). Left so at the
    // hand-back: Linux's interrupts stay group 1 (`inject::hand_back`).
    gicd_write(0, gicd_read(0) | 0b11);
    // Every SPI group 1 (banked SGIs/PPIs: per CPU in `init_cpu`). The
    // physical interface is the hypervisor's and signals both groups as
    // IRQs, so the group only matters for one thing: a list register's
    // HW bit deactivates the physical interrupt at the guest's EOI only
    // for group 1 in some GIC models (QEMU's GICv2 before its security-
    // extension fix ignores it for group 0, leaving a timer PPI active).
    for reg in spi_group_regs() {
        let linux = if boot_first { 0 } else { gicd_read(0x080 + u64::from(reg) * 4) };
        if let Some(slot) = LINUX_SPI_GROUPS.get(reg as usize) {
            slot.store(linux, Ordering::Relaxed);
        }
        gicd_write(0x080 + u64::from(reg) * 4, 0xffff_ffff);
    }
}

/// The GICD_IGROUPR<n> holding SPIs (n >= 1) the distributor implements.
fn spi_group_regs() -> core::ops::Range<u32> {
    let lines = ((gicd_read(0x004) & 0x1f) + 1) * 32;
    1..lines.min(1020).div_ceil(32)
}

/// Gives Linux back its interrupt groups: this CPU's banked ones and the
/// SPIs' (every CPU writes the same values; the CPUs still at EL2 signal
/// both groups, so nothing is lost meanwhile). Needed because Linux's
/// interface does not acknowledge group-1 interrupts: on a GIC without
/// security extensions its reads of GICC_IAR count as Secure, and with
/// AckCtl clear (Linux never sets it) a group-1 interrupt reads as 1022.
/// GICD_CTLR keeps group 1 enabled: no interrupt is in group 1 then, and
/// CPUs still in the hypervisor need it for theirs.
pub(super) fn give_back_groups(cpu: &PerCpu) {
    gicd_write(0x080, cpu.linux_gic[1].load(Ordering::Relaxed) as u32);
    for reg in spi_group_regs() {
        let linux = LINUX_SPI_GROUPS.get(reg as usize).map_or(0, |g| g.load(Ordering::Relaxed));
        gicd_write(0x080 + u64::from(reg) * 4, linux);
    }
}

/// The CPU interface number (0-7) of a CPU, recorded by `init_cpu` in
/// the per-CPU block's interface slot (`gicr_frame`: GICv3's
/// redistributor frame, GICv2's interface number).
pub(super) fn iface(cpu: &PerCpu) -> Option<u8> {
    let f = cpu.gicr_frame.load(Ordering::Relaxed);
    (f < 8).then_some(f as u8)
}

/// The CPU interfaces of the present CPUs of `cell`, one bit each.
pub(super) fn cell_ifaces(cell: u8) -> u8 {
    present_cpus()
        .filter(|p| p.present.load(Ordering::Acquire) && p.cell.load(Ordering::Relaxed) == u32::from(cell))
        .filter_map(iface)
        .fold(0, |m, i| m | 1 << i)
}

/// Per-CPU setup: this CPU's interface number from the banked
/// ITARGETSR0, its banked interrupts (boot-first: reset; late launch:
/// Linux's, plus the hypervisor's two), the physical CPU interface taken
/// over with EOImode 1 and the virtual interface on (late launch: with
/// Linux's settings carried over to GICH_VMCR).
pub fn init_cpu(cpu: &PerCpu, boot_first: bool) -> bool {
    let own = gicd_read(0x800) & 0xff;
    if own == 0 {
        return false;
    }
    cpu.gicr_frame.store(own.trailing_zeros(), Ordering::Relaxed);
    // Banked interrupts group 1, as the SPIs (see `init_global`); Linux's
    // groups kept for the hand-back.
    let linux_groups = if boot_first { 0 } else { gicd_read(0x080) };
    gicd_write(0x080, 0xffff_ffff);
    if boot_first {
        reset_banked();
    } else {
        set_prio(MGMT_SGI, HV_PRIO);
        set_prio(MAINTENANCE_IRQ, HV_PRIO);
        gicd_write(0x100, HV_PRIVATE);
    }
    let (ctlr, pmr) = (gicc_read(GICC_CTLR), gicc_read(GICC_PMR));
    cpu.linux_gic[0].store(u64::from(pmr), Ordering::Relaxed);
    cpu.linux_gic[1].store(u64::from(linux_groups), Ordering::Relaxed);
    cpu.linux_gic[2].store(u64::from(ctlr), Ordering::Relaxed);
    if !boot_first {
        // The IPI that called us into EL2 is still active: deactivate
        // every banked interrupt so none stays stuck once EOIs go virtual.
        gicd_write(0x380, 0xffff_ffff);
    }
    gicc_write(GICC_PMR, 0xff);
    gicc_write(GICC_BPR, 0);
    gicc_write(GICC_APR0, 0);
    gicc_write(GICC_CTLR, CTLR_ENABLE | CTLR_EOIMODE);
    for n in 0..num_lrs() {
        gich_write(lr::LR0 + 4 * n as u64, 0);
    }
    gich_write(lr::VMCR, if boot_first { 0 } else { vmcr_from_physical(pmr, ctlr) });
    gich_write(lr::HCR, lr::HCR_EN);
    true
}

/// GICH_VMCR carrying the physical interface's settings: group enables
/// (bits 1:0), EOImode (VEM, bit 9), priority mask (top 5 bits at 31:27).
pub(super) fn vmcr_from_physical(pmr: u32, ctlr: u32) -> u32 {
    (ctlr & 0b11) | (ctlr & CTLR_EOIMODE) | ((pmr >> 3) & 0x1f) << 27
}

/// The physical interface's (PMR, CTLR) from GICH_VMCR, for the hand-back.
pub(super) fn physical_from_vmcr(vmcr: u32) -> (u32, u32) {
    (((vmcr >> 27) & 0x1f) << 3, (vmcr & 0b11) | (vmcr & CTLR_EOIMODE))
}

fn set_prio(irq: u32, prio: u64) {
    let va = GICD_VA.load(Ordering::Relaxed) + 0x400 + u64::from(irq);
    write_sized(va, 1, prio as u32);
}

/// Brings this CPU's banked interrupts to one state whatever the previous
/// guest left: default priority, disabled, neither pending nor active,
/// except the hypervisor's two, enabled. Groups stay as they are (the
/// cell cannot change them).
fn reset_banked() {
    let guest = !HV_PRIVATE;
    gicd_write(0x180, guest);
    gicd_write(0x080, 0xffff_ffff);
    let prio = (GUEST_PRIO * 0x0101_0101) as u32;
    for w in 0..8 {
        gicd_write(0x400 + w * 4, prio);
    }
    set_prio(MGMT_SGI, HV_PRIO);
    set_prio(MAINTENANCE_IRQ, HV_PRIO);
    // SGIs' pending state is per source: cleared through CPENDSGIR.
    for w in 0..4 {
        gicd_write(0xf10 + w * 4, 0xffff_ffff);
    }
    gicd_write(0x280, guest);
    gicd_write(0x380, guest);
    gicd_write(0x100, HV_PRIVATE);
}

/// Clears the virtual interface and resets this CPU's banked interrupts
/// for a CPU entering a context afresh.
pub fn reset_cpu() {
    reset_banked();
    for n in 0..num_lrs() {
        // A physical interrupt still in an entry is active until its
        // guest's EOI, which will not come now: deactivate it.
        let v = gich_read(lr::LR0 + 4 * n as u64);
        if v & lr::HW != 0 && lr::state(v) != 0 {
            gicc_write(GICC_DIR, lr::pintid(v));
        } else if v & lr::HW == 0 && v & lr::EOI != 0 {
            gicc_write(GICC_DIR, lr::vintid(v));
        }
        gich_write(lr::LR0 + 4 * n as u64, 0);
    }
    gich_write(lr::VMCR, 0);
    gich_write(lr::APR, 0);
    gich_write(lr::HCR, lr::HCR_EN);
    let cpu = this_cpu();
    cpu.vsgi_pending.store(0, Ordering::Relaxed);
    cpu.irq_pending.clear();
}

fn bit(base: u64, irq: u32) -> bool {
    let (reg, b) = bit_reg(base, irq);
    gicd_read(reg) & b != 0
}

/// Disables SPI `irq` and clears its pending and active state.
fn quiesce(irq: u32) {
    for base in [0x180, 0x280, 0x380] {
        let (reg, b) = bit_reg(base, irq);
        gicd_write(reg, b);
    }
}

fn set_targets(irq: u32, targets: u8) {
    write_sized(GICD_VA.load(Ordering::Relaxed) + 0x800 + u64::from(irq), 1, u32::from(targets));
}

fn targets(irq: u32) -> u8 {
    read_sized(GICD_VA.load(Ordering::Relaxed) + 0x800 + u64::from(irq), 1) as u8
}

/// Gives SPI `irq` to cell `cell_id`, routed to the CPU interface of the
/// CPU with `target_mpidr`: the root's configuration kept for
/// `release_spi`, the interrupt disabled, neither pending nor active.
pub fn assign_spi(irq: u32, cell_id: u8, target_mpidr: u64) {
    let (Some(saved), Some(route)) = (SPI_SAVED.get(irq as usize), SPI_SAVED_TARGETS.get(irq as usize)) else {
        return;
    };
    if !(32..1020).contains(&irq) {
        return;
    }
    let aff = crate::arch::regval::mpidr::AFFINITY_MASK;
    let target = present_cpus()
        .find(|p| p.mpidr.load(Ordering::Relaxed) & aff == target_mpidr & aff)
        .and_then(iface);
    let _guard = DIST_LOCK.lock();
    if saved.load(Ordering::Relaxed) == 0 {
        let (creg, shift) = cfg_reg(irq);
        let c = SpiConfig {
            group: bit(0x80, irq),
            grpmod: false,
            prio: read_sized(GICD_VA.load(Ordering::Relaxed) + 0x400 + u64::from(irq), 1) as u8,
            cfg: ((gicd_read(creg) >> shift) & 3) as u8,
            enabled: bit(0x100, irq),
            route: u64::from(targets(irq)),
        };
        route.store(c.route, Ordering::Relaxed);
        saved.store(c.pack(), Ordering::Relaxed);
    }
    quiesce(irq);
    if let Some(i) = target {
        set_targets(irq, 1 << i);
    }
    set_owner(irq, cell_id);
}

/// Takes SPI `irq` back for the root with the root's configuration.
pub fn release_spi(irq: u32) {
    let (Some(saved), Some(route)) = (SPI_SAVED.get(irq as usize), SPI_SAVED_TARGETS.get(irq as usize)) else {
        return;
    };
    if !(32..1020).contains(&irq) {
        return;
    }
    // Nobody's first: no cell's emulated access reaches it from here.
    set_owner(irq, NO_OWNER);
    let _guard = DIST_LOCK.lock();
    quiesce(irq);
    if let Some(c) = SpiConfig::unpack(saved.swap(0, Ordering::Relaxed), route.load(Ordering::Relaxed)) {
        set_prio(irq, u64::from(c.prio));
        let (creg, shift) = cfg_reg(irq);
        let cur = gicd_read(creg);
        gicd_write(creg, (cur & !(3 << shift)) | (u32::from(c.cfg) << shift));
        set_targets(irq, c.route as u8);
        if c.enabled {
            let (reg, b) = bit_reg(0x100, irq);
            gicd_write(reg, b);
        }
    }
    set_owner(irq, 0);
}

/// The MPIDR of the CPU SPI `irq` is routed to (its lowest ITARGETSR
/// bit); 0 for none.
pub fn spi_route(irq: u32) -> u64 {
    if !(32..1020).contains(&irq) {
        return 0;
    }
    let t = targets(irq);
    if t == 0 {
        return 0;
    }
    let i = t.trailing_zeros();
    present_cpus()
        .find(|p| p.gicr_frame.load(Ordering::Relaxed) == i)
        .map_or(0, |p| p.mpidr.load(Ordering::Relaxed))
}

/// `cell`'s trapped access at `off` of the distributor.
pub fn gicd_access(cell: u8, off: u64, size: u8, write_val: Option<u64>) -> Result<u64, ()> {
    let action = dist::classify(off, size, |irq| owner(irq) == Some(cell), HV_PRIVATE).map_err(|_| ())?;
    let va = GICD_VA.load(Ordering::Relaxed) + off;
    let w = write_val.map(|v| v as u32);
    Ok(u64::from(match (action, w) {
        (Action::Hide, _) | (Action::Sgir, None) => 0,
        (Action::ReadOnly, None) => read_sized(va, size),
        (Action::ReadOnly, Some(_)) => 0,
        (Action::Masked(m), None) | (Action::Merge(m), None) => read_sized(va, size) & m,
        (Action::Masked(m), Some(v)) => {
            write_sized(va, size, v & m);
            0
        }
        (Action::Merge(m), Some(v)) => {
            let _guard = DIST_LOCK.lock();
            let cur = read_sized(va, size);
            write_sized(va, size, dist::merge(cur, v, m));
            0
        }
        (Action::Targets(m), None) => read_sized(va, size) & m,
        (Action::Targets(m), Some(v)) => {
            // Targets are limited to the cell's interfaces; widen a byte
            // access to its word so one merge function serves both.
            let word_va = va & !3;
            let shift = (off & 3) * 8;
            let (m, v) = if size == 1 { (m << shift, v << shift) } else { (m, v) };
            let _guard = DIST_LOCK.lock();
            let cur = read(word_va);
            write(word_va, dist::targets_merge(cur, v, m, cell_ifaces(cell)));
            0
        }
        (Action::Sgir, Some(v)) => {
            super::inject::emulate_sgir(v);
            0
        }
    }))
}

//! The interrupt controller behind one interface, chosen once at init.
//!
//! [`IrqChip`] is what generic code needs of an interrupt controller:
//! global and per-CPU setup, the hand-back to Linux, the interrupt entry,
//! injection and the management kick, SGI emulation, SPI hand-over between
//! cells, the per-CPU reset at a hand-over, and the MMIO regions it traps
//! with their access function. Each version implements it in its own
//! directory (`gicv3/` today; `gicv2/` next, issue 16) and joins [`Chip`]
//! with one variant; nothing outside `irqchip/` names a version.
//!
//! [`select`] maps the system configuration's `gic_version` to a [`Chip`]
//! (no implementation: [`Unsupported`], which `init` turns into -ENODEV);
//! [`init_global`] records it once. The free functions below dispatch
//! statically: a `match` on that value, so the interrupt fast path is one
//! load and compare ahead of a direct, inlinable call into the
//! implementation (no function pointer, no vtable; with one implementation
//! the `match` has one arm). `spin::Once` makes the record immutable after
//! init, so the value read is the same on every CPU for the whole run.
//!
//! Version-neutral state lives here rather than in an implementation: the
//! SPI ownership map ([`spi`]) and the per-CPU queue of interrupts waiting
//! for a list register ([`pending`]).

pub mod gicv2;
pub mod gicv3;
pub mod pending;
pub mod spi;

pub use spi::{owner, set_owner};

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

/// The implementations of [`IrqChip`]: one variant each (non-zero
/// tags: 0 in [`CHIP`] means "none chosen yet").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Chip {
    /// GICv3 with system-register CPU interface (`gicv3/`).
    GicV3 = 1,
    /// GICv2 with memory-mapped CPU interface and GICH/GICV (`gicv2/`).
    GicV2 = 2,
}

impl Chip {
    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Chip::GicV3),
            2 => Some(Chip::GicV2),
            _ => None,
        }
    }
}

/// The configured GIC version has no implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unsupported {
    /// The system configuration's `gic_version`.
    pub version: u8,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the system configuration names GIC version {}; sysHyper supports GICv2 and GICv3 only", self.version)
    }
}

/// The implementation for the system configuration's `gic_version`.
pub fn select(version: u8) -> Result<Chip, Unsupported> {
    match version {
        3 => Ok(Chip::GicV3),
        2 => Ok(Chip::GicV2),
        _ => Err(Unsupported { version }),
    }
}

/// One physical range the interrupt controller occupies: never mapped
/// into a cell's stage 2, mapped at EL2 for the hypervisor, and trapped
/// for every cell (the per-cell MMIO table holds one entry per region,
/// whose accesses go to [`access`] with the region's index).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Region {
    /// Physical (= guest-physical) base.
    pub base: u64,
    /// Bytes.
    pub size: u64,
}

/// Most regions an implementation has (GICv3: GICD, GICR; GICv2: GICD,
/// GICC, GICH, GICV).
pub const MAX_REGIONS: usize = 4;

/// A chip's regions, in the order [`access`] numbers them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Regions {
    list: [Region; MAX_REGIONS],
    len: usize,
}

impl Regions {
    /// Regions from a list of `(base, size)`; at most [`MAX_REGIONS`].
    fn of(list: &[(u64, u64)]) -> Self {
        let mut r = Self::default();
        for (slot, &(base, size)) in r.list.iter_mut().zip(list) {
            *slot = Region { base, size };
            r.len += 1;
        }
        r
    }

    /// The regions; index `k` is "irqchip region k".
    pub fn as_slice(&self) -> &[Region] {
        self.list.get(..self.len).unwrap_or(&[])
    }

    /// All [`MAX_REGIONS`] slots, unused ones empty (base and size 0):
    /// for fixed-size lists of ranges.
    pub fn slots(&self) -> [Region; MAX_REGIONS] {
        self.list
    }
}

/// The system configuration's GIC bases.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bases {
    pub gicd: u64,
    pub gicr: u64,
    /// GICv2: (gicc, gich, gicv).
    pub v2: (u64, u64, u64),
}

impl Chip {
    /// Where the controller is, from the configuration's bases and the
    /// number of CPUs: pure, usable before [`init_global`] (the EL2 map is
    /// built from it) and for validation.
    pub fn regions(self, b: Bases, max_cpus: u64) -> Regions {
        match self {
            Chip::GicV3 => Regions::of(&[
                (b.gicd, gicv3::dist::GICD_SIZE),
                (b.gicr, max_cpus.saturating_mul(gicv3::redist::FRAME_SIZE)),
            ]),
            // GICC is never reached by a cell (GICV is mapped at its
            // address), GICH and GICV never either: all hidden, trapped.
            Chip::GicV2 => Regions::of(&[
                (b.gicd, gicv2::dist::GICD_SIZE),
                (b.v2.0, gicv2::GICC_SIZE),
                (b.v2.1, gicv2::GICH_SIZE),
                (b.v2.2, gicv2::GICC_SIZE),
            ]),
        }
    }

    /// The hypervisor-chosen stage-2 mapping every cell gets besides its
    /// configured regions: GICv2's virtual CPU interface (GICV) at the
    /// CPU interface's address (GICC), as (ipa, pa, size). None for GICv3.
    pub fn cell_mapping(self, b: Bases) -> Option<(u64, u64, u64)> {
        match self {
            Chip::GicV3 => None,
            Chip::GicV2 => (b.v2.0 != 0 && b.v2.2 != 0).then_some((b.v2.0, b.v2.2, gicv2::GICC_SIZE)),
        }
    }
}

impl Chip {
    /// The maintenance interrupt (PPI) this implementation takes its
    /// list-register refills from. The system configuration names the
    /// platform's; init refuses a configuration naming another one, rather
    /// than waiting on an interrupt that never comes.
    pub fn maintenance_irq(self) -> u32 {
        match self {
            Chip::GicV3 => gicv3::redist::MAINTENANCE_IRQ,
            Chip::GicV2 => gicv2::MAINTENANCE_IRQ,
        }
    }
}

/// `acked` of [`IrqChip::handle_irq`] when nothing was acknowledged yet.
pub const NOT_ACKED: u32 = u32::MAX;

/// What an interrupt taken at EL2 asks of the trap handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IrqOutcome {
    /// Return to the guest.
    Resume,
    /// The CPU was asked to park.
    Park,
}

/// Where the chip was put: its regions and their EL2 addresses.
#[derive(Clone, Copy, Debug)]
pub struct Setup {
    /// Physical regions, as [`Chip::regions`] gave them.
    pub regions: Regions,
    /// EL2 virtual address of each region (same index).
    pub va: [u64; MAX_REGIONS],
    /// CPUs (GICv3: redistributor frames).
    pub max_cpus: u64,
    /// Started before Linux: nobody configured the controller.
    pub boot_first: bool,
    /// [`Chip::cell_mapping`] of the configuration.
    pub cell_map: Option<(u64, u64, u64)>,
}

/// The interface each interrupt-controller implementation provides.
/// Methods take `&self` of a stateless marker type: the state is the
/// hardware's and the per-CPU area's.
pub trait IrqChip: Sync {
    /// Records where the controller is (`setup`), switches the
    /// distributor on in boot-first mode. Once, before any other call.
    fn init_global(&self, setup: &Setup);
    /// This CPU's setup; false when the controller has no interface for it.
    fn init_cpu(&self, cpu: &crate::percpu::PerCpu, boot_first: bool) -> bool;
    /// Whether [`IrqChip::init_cpu`] took `cpu`'s interface (a failed
    /// late launch hands back only those).
    fn cpu_taken(&self, cpu: &crate::percpu::PerCpu) -> bool;
    /// Gives this CPU's interface back to Linux (disable, failed enable).
    fn hand_back(&self);
    /// The interrupt entry: acknowledge, inject, handle the hypervisor's
    /// own. `cpu` is this CPU's block (the trap handler has it at hand);
    /// `acked` is the INTID the assembly fast path already acknowledged
    /// (only on CPUs whose `PerCpu::irq_fast` the implementation set), or
    /// [`NOT_ACKED`].
    fn handle_irq(&self, cpu: &crate::percpu::PerCpu, acked: u32) -> IrqOutcome;
    /// Injects `intid` into this CPU's vCPU (`hw`: a physical interrupt
    /// deactivated by the guest's EOI).
    fn inject(&self, intid: u32, hw: bool);
    /// Sends the management SGI to `target`.
    fn kick(&self, target: &crate::percpu::PerCpu);
    /// Injects the virtual interrupt `intid` (HW = 0) into `target`'s
    /// vCPU: at once on this CPU, else queued there and `target` kicked.
    fn inject_virtual(&self, target: &crate::percpu::PerCpu, intid: u32);
    /// The affinity SPI `irq` is routed to (GICv3: GICD_IROUTER).
    fn spi_route(&self, irq: u32) -> u64;
    /// A trapped SGI-generation register write of this CPU's cell
    /// (GICv3's ICC_SGI1R_EL1 family); virtual SGIs within the cell only.
    fn emulate_sgi(&self, value: u64);
    /// Hands SPI `irq` to `cell`, routed to `target_mpidr`, keeping the
    /// root's configuration for [`IrqChip::release_spi`].
    fn assign_spi(&self, irq: u32, cell: u8, target_mpidr: u64);
    /// Takes SPI `irq` back for the root with the root's configuration.
    fn release_spi(&self, irq: u32);
    /// Resets this CPU's virtual interface and banked interrupts for a
    /// CPU entering a context afresh.
    fn reset_cpu(&self);
    /// `cell`'s access at `off` of region `region` (see [`Regions`]):
    /// the value read, or `Err` for an access not allowed.
    #[allow(clippy::result_unit_err)]
    fn access(&self, region: usize, cell: u8, off: u64, size: u8, write: Option<u64>) -> Result<u64, ()>;
}

/// The chip chosen at init ([`Chip`] tag, 0: none; in .bss, zeroed at
/// every enable). Written once by the first CPU in [`init_global`] during
/// global init; every CPU runs its per-CPU init, and so takes interrupts
/// from a cell or calls anything here, only after it read `INIT_STATE`
/// (init.rs) with acquire, which the first CPU released after global
/// init. So a relaxed load sees the choice: the interrupt fast path pays
/// one byte load and a compare-and-branch for the dispatch.
static CHIP: AtomicU8 = AtomicU8::new(0);
/// Where the chosen chip is; set together with [`CHIP`].
static REGIONS: spin::Once<Regions> = spin::Once::new();
/// The chosen chip's [`Chip::cell_mapping`]; set together with [`CHIP`].
static CELL_MAP: spin::Once<Option<(u64, u64, u64)>> = spin::Once::new();

/// The stage-2 mapping every cell gets from the chip, (ipa, pa, size):
/// GICv2's GICV at the GICC address; none for GICv3 or before init.
pub fn cell_mapping() -> Option<(u64, u64, u64)> {
    CELL_MAP.get().copied().flatten()
}

/// Calls `$method` on the selected implementation; `$none` before
/// [`init_global`] (no caller gets there: interrupts, cells and MMIO
/// traps exist only after it, but nothing here may crash).
///
/// GICv3 is tested first, alone, and the other outcomes sit behind a
/// cold, out-of-line call: the GICv3 fast paths stay one load and one
/// compare-and-branch ahead of the inlined GICv3 code, as with a single
/// implementation (the bench's irq and sgi instruction counts do not
/// move; `access` has its own form for the gicd row). GICv2 pays one more
/// compare and two calls.
#[cfg(target_os = "none")]
macro_rules! dispatch {
    ($none:expr, $method:ident($($arg:expr),*)) => {
        if CHIP.load(Ordering::Relaxed) == Chip::GicV3 as u8 {
            gicv3::GicV3.$method($($arg),*)
        } else {
            cold(|| match chip() {
                Some(Chip::GicV2) => gicv2::GicV2.$method($($arg),*),
                _ => $none,
            })
        }
    };
}

/// Runs `f` out of line, marked unlikely (see [`dispatch`]).
#[cfg(target_os = "none")]
#[cold]
#[inline(never)]
fn cold<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The GICv3 ITS the system configuration names, if any: (base, size).
pub fn its_region() -> Option<(u64, u64)> {
    gicv3::its::region()
}

#[cfg(target_os = "none")]
/// Records the chip chosen by [`select`] and sets it up; a second call
/// is ignored (the first choice stays for the whole run).
pub fn init_global(chip: Chip, setup: &Setup) {
    let mut first = false;
    REGIONS.call_once(|| {
        first = true;
        setup.regions
    });
    if first {
        CELL_MAP.call_once(|| setup.cell_map);
        CHIP.store(chip as u8, Ordering::Release);
        dispatch!((), init_global(setup));
    }
}

/// The chip chosen at init, if any.
#[inline(always)]
pub fn chip() -> Option<Chip> {
    Chip::from_tag(CHIP.load(Ordering::Relaxed))
}

/// The regions of the chip chosen at init (none before).
pub fn regions() -> Regions {
    REGIONS.get().copied().unwrap_or_default()
}

/// The region holding `[addr, end)` and the offset in it: the trapped
/// access path's lookup, without copying the list.
/// All slots are scanned (an unused one is empty and holds nothing),
/// which is shorter on this path than slicing to the used ones.
#[inline]
pub fn region_at(addr: u64, end: u64) -> Option<(usize, u64)> {
    let list = &REGIONS.get()?.list;
    // Regions come from the platform and were checked not to wrap, so
    // `base + size` is their end; `addr < end` for every access.
    (0..MAX_REGIONS).zip(list).find_map(|(k, r)| {
        (r.base <= addr && end <= r.base.wrapping_add(r.size)).then(|| (k, addr.wrapping_sub(r.base)))
    })
}

#[cfg(target_os = "none")]
/// See [`IrqChip::init_cpu`].
pub fn init_cpu(cpu: &crate::percpu::PerCpu, boot_first: bool) -> bool {
    dispatch!(false, init_cpu(cpu, boot_first))
}

#[cfg(target_os = "none")]
/// See [`IrqChip::cpu_taken`].
pub fn cpu_taken(cpu: &crate::percpu::PerCpu) -> bool {
    dispatch!(false, cpu_taken(cpu))
}

#[cfg(target_os = "none")]
/// See [`IrqChip::hand_back`].
pub fn hand_back() {
    dispatch!((), hand_back())
}

#[cfg(target_os = "none")]
/// See [`IrqChip::handle_irq`]. The fast path: one load and a
/// compare-and-branch, then a direct call of the implementation's entry.
#[inline(always)]
pub fn handle_irq(cpu: &crate::percpu::PerCpu, acked: u32) -> IrqOutcome {
    dispatch!(IrqOutcome::Resume, handle_irq(cpu, acked))
}

#[cfg(target_os = "none")]
/// See [`IrqChip::inject`].
pub fn inject(intid: u32, hw: bool) {
    dispatch!((), inject(intid, hw))
}

#[cfg(target_os = "none")]
/// One wait of a parked CPU's loop (`trap::park`) for a start request.
/// On GICv3, when the management SGI would reach this CPU, WFI: the CPU
/// sleeps until [`wake_parked`] kicks it (a kick sent before the WFI
/// stays pending in the redistributor and ends it at once, so no wake-up
/// is lost between the loop's check and the WFI); under QEMU's `-icount`
/// a CPU in WFI costs no instructions, where WFE is a yield whose loop
/// the round-robin scheduler runs on every round (the 8 instructions it
/// added to every direct-delivery latency). Otherwise (GICv2, or an
/// interface that would not signal the kick) WFE as before, woken by
/// the SEV of [`wake_parked`].
pub fn park_wait() {
    if CHIP.load(Ordering::Relaxed) == Chip::GicV3 as u8 && gicv3::kick_wakes_this_cpu() {
        crate::arch::wait_for_interrupt();
    } else {
        crate::arch::wait_for_event();
    }
}

#[cfg(target_os = "none")]
/// Wakes `target` after a start was requested for it (it is parked, or
/// about to park): SEV for a CPU waiting in WFE, and on GICv3 the
/// management SGI for one in WFI. The SGI stays pending until the
/// started CPU takes it as one management exit, which finds nothing to
/// do (no park request).
pub fn wake_parked(target: &crate::percpu::PerCpu) {
    crate::arch::send_event();
    if CHIP.load(Ordering::Relaxed) == Chip::GicV3 as u8 {
        kick(target);
    }
}

#[cfg(target_os = "none")]
/// See [`IrqChip::kick`].
pub fn kick(target: &crate::percpu::PerCpu) {
    dispatch!((), kick(target))
}

#[cfg(target_os = "none")]
/// Raises the virtual SPI `intid` of cell `cell` (an ivshmem INTx): on the
/// CPU the SPI is routed to if it is the cell's, else on the cell's first
/// CPU; nowhere if the cell has no CPU (it is being destroyed).
pub fn raise_virtual(cell: u8, intid: u32) {
    use crate::arch::regval::mpidr::AFFINITY_MASK;
    let route = dispatch!(0, spi_route(intid)) & AFFINITY_MASK;
    let mine = |c: &&crate::percpu::PerCpu| c.cell.load(Ordering::Relaxed) == u32::from(cell);
    let target = crate::percpu::present_cpus()
        .filter(mine)
        .find(|c| c.mpidr.load(Ordering::Relaxed) & AFFINITY_MASK == route)
        .or_else(|| crate::percpu::present_cpus().find(mine));
    if let Some(t) = target {
        dispatch!((), inject_virtual(t, intid))
    }
}

#[cfg(target_os = "none")]
/// Puts this CPU into direct interrupt delivery for its cell
/// (docs/direct-delivery.md); GICv3 only: false (trap-and-inject stays)
/// on another chip.
pub fn enter_direct(cpu: &crate::percpu::PerCpu) -> bool {
    if chip() == Some(Chip::GicV3) {
        gicv3::direct::enter(cpu);
        return true;
    }
    false
}

#[cfg(target_os = "none")]
/// A FIQ taken from a cell: on a direct-mode CPU, the hypervisor's
/// Group-0 interrupts (`Some`); `None` on any other CPU, whose FIQs go
/// the interrupt path.
pub fn handle_fiq(cpu: &crate::percpu::PerCpu) -> Option<IrqOutcome> {
    (chip() == Some(Chip::GicV3) && gicv3::direct::is_direct(cpu)).then(|| gicv3::direct::handle_fiq(cpu))
}

#[cfg(target_os = "none")]
/// A trapped WFI of a direct-mode cell (only those trap WFI): see
/// `gicv3::direct::wait`.
pub fn direct_wait() {
    if chip() == Some(Chip::GicV3) {
        gicv3::direct::wait();
    }
}

#[cfg(target_os = "none")]
/// See [`IrqChip::emulate_sgi`].
pub fn emulate_sgi(value: u64) {
    dispatch!((), emulate_sgi(value))
}

#[cfg(target_os = "none")]
/// See [`IrqChip::assign_spi`].
pub fn assign_spi(irq: u32, cell: u8, target_mpidr: u64) {
    dispatch!((), assign_spi(irq, cell, target_mpidr))
}

#[cfg(target_os = "none")]
/// See [`IrqChip::release_spi`].
pub fn release_spi(irq: u32) {
    dispatch!((), release_spi(irq))
}

#[cfg(target_os = "none")]
/// See [`IrqChip::reset_cpu`].
pub fn reset_cpu() {
    dispatch!((), reset_cpu())
}

#[cfg(target_os = "none")]
/// See [`IrqChip::access`]: the MMIO table's handler for "irqchip region
/// `region`".
#[allow(clippy::result_unit_err)]
pub fn access(region: usize, cell: u8, off: u64, size: u8, write: Option<u64>) -> Result<u64, ()> {
    if CHIP.load(Ordering::Relaxed) == Chip::GicV3 as u8 {
        gicv3::GicV3.access(region, cell, off, size, write)
    } else if chip() == Some(Chip::GicV2) {
        // The region last: the arguments stay in the registers GICv3's
        // GICD/GICR handlers take them in, so this arm adds no moves to
        // the GICv3 trapped-access path (the bench's gicd row).
        gicv2::access(cell, off, size, write, region)
    } else {
        Err(())
    }
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_by_version() {
        assert_eq!(select(3), Ok(Chip::GicV3));
        assert_eq!(select(2), Ok(Chip::GicV2));
        assert_eq!(select(0), Err(Unsupported { version: 0 }));
        assert_eq!(select(4), Err(Unsupported { version: 4 }));
    }

    #[test]
    fn refusal_names_the_version_and_the_reason() {
        let v4 = Unsupported { version: 4 }.to_string();
        assert!(v4.contains("GIC version 4") && v4.contains("GICv2 and GICv3 only"), "{v4}");
    }

    #[test]
    fn gicv3_regions_are_the_distributor_and_one_frame_pair_per_cpu() {
        let b = |gicd, gicr| Bases { gicd, gicr, v2: (0, 0, 0) };
        let r = Chip::GicV3.regions(b(0x0800_0000, 0x080a_0000), 4);
        assert_eq!(
            r.as_slice(),
            &[Region { base: 0x0800_0000, size: 0x1_0000 }, Region { base: 0x080a_0000, size: 4 * 0x2_0000 }]
        );
        let slots = r.slots();
        assert_eq!(slots.len(), MAX_REGIONS);
        assert!(slots[2..].iter().all(|s| *s == Region::default()));
        // A hostile CPU count saturates rather than wrapping to a small range.
        assert_eq!(Chip::GicV3.regions(b(0, 0), u64::MAX).as_slice()[1].size, u64::MAX);
        assert_eq!(Chip::GicV3.cell_mapping(b(0, 0)), None);
    }

    #[test]
    fn gicv2_regions_and_the_gicv_mapping_at_gicc() {
        let b = Bases { gicd: 0x0800_0000, gicr: 0, v2: (0x0801_0000, 0x0803_0000, 0x0804_0000) };
        let r = Chip::GicV2.regions(b, 4);
        assert_eq!(
            r.as_slice(),
            &[
                Region { base: 0x0800_0000, size: 0x1000 },
                Region { base: 0x0801_0000, size: 0x2000 },
                Region { base: 0x0803_0000, size: 0x1000 },
                Region { base: 0x0804_0000, size: 0x2000 },
            ]
        );
        assert_eq!(Chip::GicV2.cell_mapping(b), Some((0x0801_0000, 0x0804_0000, 0x2000)));
        assert_eq!(Chip::GicV2.cell_mapping(Bases::default()), None);
    }

    #[test]
    fn maintenance_interrupt_of_each_implementation() {
        assert_eq!(Chip::GicV3.maintenance_irq(), 25);
        assert_eq!(Chip::GicV2.maintenance_irq(), 25);
    }

    #[test]
    fn regions_keep_at_most_max() {
        let r = Regions::of(&[(1, 1), (2, 2), (3, 3), (4, 4), (5, 5)]);
        assert_eq!(r.as_slice().len(), MAX_REGIONS);
        assert_eq!(r.as_slice()[3], Region { base: 4, size: 4 });
    }

    #[test]
    fn nothing_selected_before_init() {
        assert_eq!(chip(), None);
        assert_eq!(regions().as_slice(), &[]);
    }
}

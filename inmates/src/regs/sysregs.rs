//! The system registers an EL1 program can write and read back, with the
//! distinctive value `reg-plant` writes into each and what `reg-probe`
//! accepts when a CPU is handed over (the reset state sysHyper promises).
use core::arch::asm;
use core::sync::atomic::{AtomicUsize, Ordering};

/// What a probe accepts in a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The bits of the mask are all 0.
    Zero(u64),
    /// Exactly this value.
    Is(u64),
    /// Anything but the planted value (registers whose reset value is
    /// IMPLEMENTATION DEFINED, e.g. a binary point clamped to its minimum).
    NotPlanted,
}

/// How the plant writes a register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plant {
    /// Write this value.
    Set(u64),
    /// Set these bits in the current value.
    Or(u64),
    /// Read-only: nothing to plant, only checked.
    None,
}

/// One register: its name, accessors, planted value and expectation.
/// `read` is None for the registers the probe's entry stub captures
/// before the boot code overwrites them (SCTLR, CPACR, VBAR).
#[derive(Clone, Copy)]
pub struct SysReg {
    pub name: &'static str,
    pub read: Option<fn() -> u64>,
    pub write: Option<fn(u64)>,
    pub plant: Plant,
    pub expect: Expect,
}

impl core::fmt::Debug for SysReg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

/// The CPU's optional parts that decide which registers exist.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    /// PMUv3 event counters (PMCR_EL0.N), None without a PMU.
    pub pmu_counters: Option<u64>,
    /// Breakpoint and watchpoint register pairs.
    pub brps: u64,
    pub wrps: u64,
    /// A GICv2: its distributor and (virtual) CPU interface, which replace
    /// the ICC_* registers (None: GICv3).
    pub gicv2: Option<(usize, usize)>,
}

/// The GICv2 distributor and CPU interface the MMIO entries use (set by
/// [`Features::read`]; the entries are plain function pointers).
static V2_GICD: AtomicUsize = AtomicUsize::new(0);
static V2_GICC: AtomicUsize = AtomicUsize::new(0);

/// The GIC this program sees: a cell's from its comm region, the root's
/// QEMU virt's; `Some((gicd, gicc))` when its distributor is a GICv2's.
fn find_gicv2() -> Option<(usize, usize)> {
    use crate::gic::{is_v2_at, QEMU_VIRT_GICC, QEMU_VIRT_GICD};
    let comm = crate::cell::comm_region();
    let base = |b: Option<u64>, default: usize| b.filter(|&b| b != 0).map_or(default, |b| b as usize);
    let gicd = base(comm.as_ref().map(|c| c.gicd_base()), QEMU_VIRT_GICD);
    // SAFETY: the distributor of this machine (a cell's trapped view).
    if !unsafe { is_v2_at(gicd) } {
        return None;
    }
    Some((gicd, base(comm.as_ref().map(|c| c.gicc_base()), QEMU_VIRT_GICC)))
}

fn mrs_id_aa64dfr0() -> u64 {
    let v: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe { asm!("mrs {}, id_aa64dfr0_el1", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

fn mrs_pmcr() -> u64 {
    let v: u64;
    // SAFETY: reading PMCR_EL0 (only called with a PMU) has no side effects.
    unsafe { asm!("mrs {}, pmcr_el0", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

impl Features {
    /// Reads the ID registers.
    pub fn read() -> Self {
        let dfr0 = mrs_id_aa64dfr0();
        let pmu = matches!((dfr0 >> 8) & 0xf, 1..=0xe);
        Self {
            pmu_counters: pmu.then(|| (mrs_pmcr() >> 11) & 0x1f),
            brps: ((dfr0 >> 12) & 0xf) + 1,
            wrps: ((dfr0 >> 20) & 0xf) + 1,
            gicv2: find_gicv2().inspect(|&(d, c)| {
                V2_GICD.store(d, Ordering::Relaxed);
                V2_GICC.store(c, Ordering::Relaxed);
            }),
        }
    }
}

/// A reader of the register named `$rd`.
macro_rules! reader {
    ($rd:literal) => {
        Some(|| {
            let v: u64;
            // SAFETY: reading a system register that exists on this CPU
            // (the caller filters by `Features`) has no side effects.
            unsafe { asm!(concat!("mrs {}, ", $rd), out(reg) v, options(nomem, nostack)) };
            v
        })
    };
}

/// A register accessed by its assembler name for both read and write.
macro_rules! rw {
    ($name:literal, $plant:expr, $expect:expr) => {
        rw!($name, $name, $name, $plant, $expect)
    };
    ($name:literal, $rd:literal, $wr:literal, $plant:expr, $expect:expr) => {
        SysReg {
            name: $name,
            read: reader!($rd),
            write: Some(|v: u64| {
                // SAFETY: the planted values keep this program running: the
                // MMU stays off, no exception is enabled (timers masked,
                // breakpoints and watchpoints disabled, DAIF masked).
                unsafe { asm!(concat!("msr ", $wr, ", {}"), "isb", in(reg) v, options(nostack)) };
            }),
            plant: $plant,
            expect: $expect,
        }
    };
}

/// A read-only register: only checked.
macro_rules! ro {
    ($name:literal, $expect:expr) => {
        SysReg { name: $name, read: reader!($name), write: None, plant: Plant::None, expect: $expect }
    };
}

/// A register written by the plant, whose value the probe takes from its
/// entry capture.
macro_rules! captured {
    ($name:literal, $plant:expr, $expect:expr) => {
        SysReg {
            name: $name,
            read: None,
            write: rw!($name, $plant, $expect).write,
            plant: $plant,
            expect: $expect,
        }
    };
}

/// Distinctive pattern number `n`: recognisable in a dump, never a value
/// a reset leaves.
pub const fn pattern(n: u64) -> u64 {
    0x7e57_0000_0000_5a00 | (n << 32) | n
}

const ALL: u64 = u64::MAX;

/// Bits planted into SCTLR_EL1 beyond the reset value: I (12, set by the
/// boot code too), DZE (14), UCT (15), nTWI (16), nTWE (18), UCI (26),
/// all of them EL0 permissions or cacheability that do not disturb EL1
/// code running with the MMU off.
pub const SCTLR_PLANT: u64 = (1 << 12) | (1 << 14) | (1 << 15) | (1 << 16) | (1 << 18) | (1 << 26);

/// The always-present EL1/EL0 registers.
pub fn base() -> [SysReg; 25] {
    [
        captured!("sctlr_el1", Plant::Or(SCTLR_PLANT), Expect::Zero(SCTLR_PLANT)),
        captured!("vbar_el1", Plant::Set(0x0000_7e57_0000_0800), Expect::Zero(ALL)),
        rw!("tpidr_el0", Plant::Set(pattern(1)), Expect::Zero(ALL)),
        rw!("tpidrro_el0", Plant::Set(pattern(2)), Expect::Zero(ALL)),
        rw!("tpidr_el1", Plant::Set(pattern(3)), Expect::Zero(ALL)),
        rw!("sp_el0", Plant::Set(pattern(4) & !0xf), Expect::Zero(ALL)),
        rw!("elr_el1", Plant::Set(pattern(5)), Expect::Zero(ALL)),
        rw!("spsr_el1", Plant::Set(0x6000_03c5), Expect::Zero(ALL)),
        rw!("esr_el1", Plant::Set(0x9600_0045), Expect::Zero(ALL)),
        rw!("far_el1", Plant::Set(pattern(6)), Expect::Zero(ALL)),
        rw!("par_el1", Plant::Set(0x0000_0000_7e57_5000), Expect::Zero(ALL)),
        rw!("afsr0_el1", Plant::Set(pattern(7)), Expect::Zero(ALL)),
        rw!("afsr1_el1", Plant::Set(pattern(8)), Expect::Zero(ALL)),
        rw!("contextidr_el1", Plant::Set(0x5a5a_a5a5), Expect::Zero(ALL)),
        rw!("mair_el1", Plant::Set(0x0444_ff00_bb44_0c04), Expect::Zero(ALL)),
        rw!("amair_el1", Plant::Set(pattern(9)), Expect::Zero(ALL)),
        rw!("tcr_el1", Plant::Set(0x0000_0001_b519_3519), Expect::Zero(ALL)),
        rw!("ttbr0_el1", Plant::Set(0x0001_0000_4321_0000), Expect::Zero(ALL)),
        rw!("ttbr1_el1", Plant::Set(0x0002_0000_8765_0000), Expect::Zero(ALL)),
        rw!("csselr_el1", Plant::Set(2), Expect::Zero(ALL)),
        rw!("cntkctl_el1", Plant::Set(0x303), Expect::Zero(ALL)),
        // Timers enabled but masked (IMASK), compare far in the future:
        // no interrupt; ISTATUS (bit 2) is read-only and not judged.
        rw!("cntv_ctl_el0", Plant::Set(0b11), Expect::Zero(0b11)),
        rw!("cntv_cval_el0", Plant::Set(pattern(10)), Expect::Zero(ALL)),
        rw!("cntp_ctl_el0", Plant::Set(0b11), Expect::Zero(0b11)),
        rw!("cntp_cval_el0", Plant::Set(pattern(11)), Expect::Zero(ALL)),
    ]
}

/// GICv3: the virtual CPU interface through its system registers.
pub fn gicv3() -> [SysReg; 9] {
    [
        // Virtual GIC CPU interface (HCR_EL2.IMO/FMO: ICC_* reach ICV_*).
        rw!("icc_pmr_el1", Plant::Set(0xa0), Expect::Zero(0xff)),
        rw!("icc_bpr0_el1", Plant::Set(7), Expect::NotPlanted),
        rw!("icc_bpr1_el1", Plant::Set(7), Expect::NotPlanted),
        rw!("icc_ctlr_el1", Plant::Or(1 << 1), Expect::Zero(1 << 1)),
        rw!("icc_igrpen0_el1", Plant::Set(1), Expect::Zero(1)),
        rw!("icc_igrpen1_el1", Plant::Set(1), Expect::Zero(1)),
        rw!("icc_ap0r0_el1", Plant::Set(1), Expect::Zero(ALL)),
        rw!("icc_ap1r0_el1", Plant::Set(1 << 31), Expect::Zero(ALL)),
        // Running priority: idle (0xff) unless an active priority leaked.
        ro!("icc_rpr_el1", Expect::Is(0xff)),
    ]
}

/// A GICv2 register of the CPU interface (`V2_GICC`) or distributor
/// (`V2_GICD`) at `off`, 32 bits wide, accessed with plain `ldr`/`str`
/// (a trapped distributor access needs a valid syndrome).
macro_rules! gicv2_mmio {
    ($name:literal, $base:ident, $off:literal, $plant:expr, $expect:expr) => {
        SysReg {
            name: $name,
            read: Some(|| u64::from(crate::mmio::read32($base.load(Ordering::Relaxed) + $off))),
            write: Some(|v: u64| crate::mmio::write32($base.load(Ordering::Relaxed) + $off, v as u32)),
            plant: $plant,
            expect: $expect,
        }
    };
}

/// GICv2: the CPU interface a cell sees at its GICC address (the GICV
/// page, backed by GICH_VMCR, GICH_APR and the list registers) and the
/// distributor's banked registers of this CPU (trapped and emulated).
/// Planted: both groups on with EOImode and CBPR, a priority mask,
/// binary points, an active priority; the virtual timer PPI (27)
/// enabled, PPIs 28-31 given a planted priority, the timer masked.
pub fn gicv2() -> [SysReg; 9] {
    [
        gicv2_mmio!("gicc_ctlr", V2_GICC, 0x00, Plant::Set(0x213), Expect::Zero(0x213)),
        gicv2_mmio!("gicc_pmr", V2_GICC, 0x04, Plant::Set(0xa0), Expect::Zero(0xff)),
        gicv2_mmio!("gicc_bpr", V2_GICC, 0x08, Plant::Set(7), Expect::NotPlanted),
        gicv2_mmio!("gicc_abpr", V2_GICC, 0x1c, Plant::Set(7), Expect::NotPlanted),
        gicv2_mmio!("gicc_apr0", V2_GICC, 0xd0, Plant::Set(1), Expect::Zero(ALL)),
        // Running priority idle and nothing pending: no active priority
        // or list register entry was left for this context.
        gicv2_mmio!("gicc_rpr", V2_GICC, 0x14, Plant::None, Expect::Is(0xff)),
        gicv2_mmio!("gicc_hppir", V2_GICC, 0x18, Plant::None, Expect::Is(0x3ff)),
        // SGIs' enable bits may be fixed at 1 (IMPLEMENTATION DEFINED;
        // QEMU's read 0x7fff): only the PPI is judged.
        gicv2_mmio!("gicd_isenabler0", V2_GICD, 0x100, Plant::Set(1 << 27), Expect::Zero(1 << 27)),
        // IPRIORITYR7: PPIs 28-31 (none the hypervisor's: its are SGI 15
        // and PPI 25).
        gicv2_mmio!("gicd_ipriorityr7", V2_GICD, 0x41c, Plant::Set(0x4040_4040), Expect::NotPlanted),
    ]
}

/// Self-hosted debug registers that QEMU keeps (MDCCINT_EL1 is a no-op
/// there whose reads return whatever the destination register held, and
/// the DBGCLAIM tags and DBGPRCR_EL1 do not exist in QEMU 7.2).
pub fn debug() -> [SysReg; 3] {
    [
        // MDE, KDE, TDCC; software step (SS) stays off.
        rw!("mdscr_el1", Plant::Or(0xb000), Expect::Zero(0xb000)),
        // OS lock set through OSLAR, seen in OSLSR_EL1.OSLK.
        rw!("oslsr_el1", "oslsr_el1", "oslar_el1", Plant::Set(1), Expect::Zero(1 << 1)),
        rw!("osdlr_el1", Plant::Set(1), Expect::Zero(1)),
    ]
}

macro_rules! bp_pairs {
    ($($v:literal, $c:literal);*) => {
        [$(
            rw!($v, Plant::Set(0x0040_0000 | (pattern(12) & 0xffff_0000_0000)), Expect::Zero(ALL)),
            // BAS = 0xf, PMC = 0b11, E = 0: set up but disabled.
            rw!($c, Plant::Set(0x1e6), Expect::Zero(ALL)),
        )*]
    };
}

macro_rules! wp_pairs {
    ($($v:literal, $c:literal);*) => {
        [$(
            rw!($v, Plant::Set(0x0050_0000 | (pattern(13) & 0xffff_0000_0000)), Expect::Zero(ALL)),
            // BAS = 0xff, LSC = 0b11, PAC = 0b11, E = 0.
            rw!($c, Plant::Set(0x1ffe), Expect::Zero(ALL)),
        )*]
    };
}

/// Breakpoint value/control registers 0-15 (pairs; use the first 2 * BRPs).
pub fn breakpoints() -> [SysReg; 32] {
    bp_pairs!("dbgbvr0_el1", "dbgbcr0_el1"; "dbgbvr1_el1", "dbgbcr1_el1"; "dbgbvr2_el1", "dbgbcr2_el1";
        "dbgbvr3_el1", "dbgbcr3_el1"; "dbgbvr4_el1", "dbgbcr4_el1"; "dbgbvr5_el1", "dbgbcr5_el1";
        "dbgbvr6_el1", "dbgbcr6_el1"; "dbgbvr7_el1", "dbgbcr7_el1"; "dbgbvr8_el1", "dbgbcr8_el1";
        "dbgbvr9_el1", "dbgbcr9_el1"; "dbgbvr10_el1", "dbgbcr10_el1"; "dbgbvr11_el1", "dbgbcr11_el1";
        "dbgbvr12_el1", "dbgbcr12_el1"; "dbgbvr13_el1", "dbgbcr13_el1"; "dbgbvr14_el1", "dbgbcr14_el1";
        "dbgbvr15_el1", "dbgbcr15_el1")
}

/// Watchpoint value/control registers 0-15 (pairs; use the first 2 * WRPs).
pub fn watchpoints() -> [SysReg; 32] {
    wp_pairs!("dbgwvr0_el1", "dbgwcr0_el1"; "dbgwvr1_el1", "dbgwcr1_el1"; "dbgwvr2_el1", "dbgwcr2_el1";
        "dbgwvr3_el1", "dbgwcr3_el1"; "dbgwvr4_el1", "dbgwcr4_el1"; "dbgwvr5_el1", "dbgwcr5_el1";
        "dbgwvr6_el1", "dbgwcr6_el1"; "dbgwvr7_el1", "dbgwcr7_el1"; "dbgwvr8_el1", "dbgwcr8_el1";
        "dbgwvr9_el1", "dbgwcr9_el1"; "dbgwvr10_el1", "dbgwcr10_el1"; "dbgwvr11_el1", "dbgwcr11_el1";
        "dbgwvr12_el1", "dbgwcr12_el1"; "dbgwvr13_el1", "dbgwcr13_el1"; "dbgwvr14_el1", "dbgwcr14_el1";
        "dbgwvr15_el1", "dbgwcr15_el1")
}

/// PMUv3 registers other than the event counters and types. Counting is
/// enabled with EL1 and EL0 filtered out (PMCCFILTR/PMEVTYPER P and U)
/// and EL2 not counted by default (NSH clear), so the planted counter
/// values stay as they are.
pub fn pmu(counters: u64) -> [SysReg; 8] {
    let enables = (1 << 31) | ((1u64 << counters) - 1);
    [
        rw!("pmccfiltr_el0", Plant::Set(0xc000_0000), Expect::Zero(ALL)),
        rw!("pmccntr_el0", Plant::Set(pattern(14)), Expect::Zero(ALL)),
        rw!("pmselr_el0", Plant::Set(0x1f), Expect::Zero(ALL)),
        rw!("pmuserenr_el0", Plant::Set(0xf), Expect::Zero(ALL)),
        rw!("pmovsset_el0", Plant::Set(0x8000_0001), Expect::Zero(ALL)),
        rw!("pmintenset_el1", Plant::Set(enables), Expect::Zero(ALL)),
        rw!("pmcntenset_el0", Plant::Set(enables), Expect::Zero(ALL)),
        // E, D, X, DP: counters on, cycle divider, export, EL2-prohibit.
        rw!("pmcr_el0", Plant::Or(0x39), Expect::Zero(0x39)),
    ]
}

macro_rules! pmu_events {
    ($($t:literal, $c:literal);*) => {
        [$(
            // CPU_CYCLES (0x11), not counted at EL1 (P) and EL0 (U).
            rw!($t, Plant::Set(0xc000_0011), Expect::Zero(ALL)),
            rw!($c, Plant::Set(0x7e57_5a00), Expect::Zero(ALL)),
        )*]
    };
}

/// Event type and counter registers 0-7 (pairs; use the first 2 * N).
pub fn pmu_events() -> [SysReg; 16] {
    pmu_events!("pmevtyper0_el0", "pmevcntr0_el0"; "pmevtyper1_el0", "pmevcntr1_el0";
        "pmevtyper2_el0", "pmevcntr2_el0"; "pmevtyper3_el0", "pmevcntr3_el0";
        "pmevtyper4_el0", "pmevcntr4_el0"; "pmevtyper5_el0", "pmevcntr5_el0";
        "pmevtyper6_el0", "pmevcntr6_el0"; "pmevtyper7_el0", "pmevcntr7_el0")
}

/// Calls `f` for every register that exists on this CPU, in plant order
/// (PMU control last, so counting starts only once everything is set).
pub fn for_each(features: &Features, mut f: impl FnMut(&SysReg)) {
    base().iter().for_each(&mut f);
    if features.gicv2.is_some() {
        gicv2().iter().for_each(&mut f);
    } else {
        gicv3().iter().for_each(&mut f);
    }
    debug().iter().for_each(&mut f);
    breakpoints().iter().take(2 * features.brps as usize).for_each(&mut f);
    watchpoints().iter().take(2 * features.wrps as usize).for_each(&mut f);
    if let Some(n) = features.pmu_counters {
        pmu_events().iter().take(2 * n.min(8) as usize).for_each(&mut f);
        pmu(n).iter().for_each(&mut f);
    }
}

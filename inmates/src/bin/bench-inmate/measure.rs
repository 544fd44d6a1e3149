//! The measuring CPU, physical CPU 1: the cell's first CPU, or natively
//! the CPU that CPU 0 starts. It times PSCI, a GICD read, SGIs and timer
//! interrupts with everything else idle, reports phase 1 through the
//! mailbox, then times interrupts again while the coordinator keeps its
//! CPUs busy, and reports phase 2.
use super::probes::{self, Taken};
use super::smp::{self, Conduit};
use super::stats::{self, Rng, Stats};
use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use syshyper_inmates::comm::{CommRegion, COMM_REGION_BASE};
use syshyper_inmates::gic::{self, Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
use syshyper_inmates::gic_affinity::sgi1r_value;
use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};
use syshyper_inmates::{cpu, println};

/// Timer interrupts per series (the issue asks for at least 1000).
const IRQ_SAMPLES: u32 = 1000;
const SHORT_SAMPLES: u32 = 100;
const SGI_ID: u32 = 1;
/// Timer deadlines lie 1000..2000 ticks ahead.
const MIN_DELTA: u64 = 1000;
const DELTA_SPREAD: u64 = 1000;
/// Period of the waits between phases (virtual time; free under
/// `sleep=off` when every CPU sleeps).
const POLL_TICKS: u32 = 1_000_000;

/// Guest-physical address of the mailbox page in the cell (bench-cell.toml)
/// and its physical address, where the root reads it.
pub const MAILBOX_CELL: usize = 0x0020_0000;
pub const MAILBOX_PHYS: usize = 0x7f10_0000;

static NATIVE_MAILBOX: [AtomicU32; 2] = [AtomicU32::new(0), AtomicU32::new(0)];

/// Two words shared by the measuring CPU and the coordinator: the phase
/// done (1 idle series, 2 everything) and whether the busy load runs.
#[derive(Debug, Clone, Copy)]
pub struct Mailbox {
    addr: usize,
}

impl Mailbox {
    pub fn cell() -> Self {
        Self { addr: MAILBOX_CELL }
    }

    pub fn root() -> Self {
        Self { addr: MAILBOX_PHYS }
    }

    pub fn native() -> Self {
        Self {
            addr: NATIVE_MAILBOX.as_ptr() as usize,
        }
    }

    pub fn addr(&self) -> usize {
        self.addr
    }

    fn word(&self, i: usize) -> *mut u32 {
        (self.addr + 4 * i) as *mut u32
    }

    fn read(&self, i: usize) -> u32 {
        // SAFETY: the mailbox is a RAM page mapped in every CPU that uses
        // it (the cell's ROOTSHARED region, or a static natively).
        unsafe { self.word(i).read_volatile() }
    }

    fn write(&self, i: usize, v: u32) {
        // SAFETY: as in `read`.
        unsafe { self.word(i).write_volatile(v) }
    }

    pub fn clear(&self) {
        self.write(0, 0);
        self.write(1, 0);
    }

    pub fn phase(&self) -> u32 {
        self.read(0)
    }

    pub fn set_phase(&self, p: u32) {
        self.write(0, p)
    }

    pub fn busy(&self) -> bool {
        self.read(1) != 0
    }

    pub fn set_busy(&self) {
        self.write(1, 1)
    }
}

// Redistributor registers (SGI frame) used to enable private interrupts.
const GICR_SGI_FRAME: usize = 0x1_0000;
const GICR_IGROUPR0: usize = 0x80;
const GICR_ISENABLER0: usize = 0x100;
const GICR_IPRIORITYR: usize = 0x400;
const PRIORITY: u32 = 0xa0;

/// Enables SGI/PPI `intid` as Group 1 on this CPU (GICv3: in the SGI
/// frame of `gic`'s redistributor; GICv2: the library's banked GICD
/// registers, which keep the hypervisor's group).
/// Written with plain single-register loads and stores: a trapping access
/// must carry a valid syndrome (ESR ISV) for the hypervisor to emulate it,
/// and the library's accessors may compile to writeback forms that do not.
fn enable_private(gic: &Gic, intid: u32) {
    if gic::is_v2() {
        gic.enable_private(intid);
        return;
    }
    let sgi = gic.redistributor() + GICR_SGI_FRAME;
    let bit = 1u32 << (intid % 32);
    // SAFETY: `rd` is this CPU's redistributor (found by `Gic::new`); the
    // registers lie in its SGI frame.
    unsafe {
        let group: u32;
        core::arch::asm!("ldr {v:w}, [{a}]", v = out(reg) group, a = in(reg) sgi + GICR_IGROUPR0, options(nostack));
        core::arch::asm!("str {v:w}, [{a}]", v = in(reg) group | bit, a = in(reg) sgi + GICR_IGROUPR0, options(nostack));
        core::arch::asm!("strb {v:w}, [{a}]", v = in(reg) PRIORITY,
                         a = in(reg) sgi + GICR_IPRIORITYR + (intid % 32) as usize, options(nostack));
        core::arch::asm!("str {v:w}, [{a}]", v = in(reg) bit, a = in(reg) sgi + GICR_ISENABLER0, options(nostack));
    }
}

/// Sets up this CPU's GIC interface; natively also the distributor and
/// this CPU's redistributor, which nobody else has woken. On a GICv2 the
/// IRQ vector switches to the memory-mapped CPU interface (the comm
/// region's GICC address in a cell, QEMU virt's natively).
pub fn gic_setup(native: bool) -> Option<Gic> {
    let comm = comm_region();
    let base = |get: fn(&CommRegion) -> u64, default: usize| {
        comm.as_ref().map(get).filter(|&b| b != 0).map_or(default, |b| b as usize)
    };
    let gicd = base(CommRegion::gicd_base, QEMU_VIRT_GICD);
    let gicr = base(CommRegion::gicr_base, QEMU_VIRT_GICR);
    // SAFETY: the bases come from the comm region or are QEMU virt's.
    match unsafe { Gic::new(gicd, gicr) } {
        Ok(g) => {
            if let Some(lib_gicc) = gic::cpu_interface() {
                probes::use_gicv2(base(CommRegion::gicc_base, lib_gicc));
            }
            g.init(native);
            Some(g)
        }
        Err(e) => {
            println!("BENCH-ERROR gic: {e}");
            None
        }
    }
}

/// The comm region in a cell (not the library's `cell::comm_region`, whose
/// link-address test is optimised away).
fn comm_region() -> Option<CommRegion> {
    if !probes::linked_at_zero() {
        return None;
    }
    // SAFETY: a cell's config maps its comm region page at
    // COMM_REGION_BASE (bench-cell.toml), readable, for the cell's lifetime.
    let c = unsafe { CommRegion::at(COMM_REGION_BASE) };
    c.is_valid().then_some(c)
}

fn gicd_base() -> usize {
    comm_region()
        .map(|c| c.gicd_base() as usize)
        .filter(|&b| b != 0)
        .unwrap_or(QEMU_VIRT_GICD)
}

/// Sleeps about `ticks` with IRQs masked, then takes (and so completes) the
/// timer interrupt that woke it, so no stale interrupt reaches a probe.
fn sleep(ticks: u32) {
    timer::set_timeout(ticks);
    cpu::wfi();
    let _ = drain();
}

/// Takes whatever interrupt is pending through `__bench_vectors`.
fn drain() -> bool {
    let ran: u64;
    // SAFETY: IRQs are unmasked for two instructions with `__bench_vectors`
    // installed, which clobbers only x0..x2 (declared).
    unsafe {
        core::arch::asm!(
            "mov x2, #0", "msr daifclr, #2", "isb", "nop", "msr daifset, #2",
            out("x0") _, out("x1") _, out("x2") ran, options(nostack),
        );
    }
    ran != 0
}

// Partner CPU state (cell-internal or native RAM, MMU off: plain loads and
// stores are coherent on QEMU).
static PARTNER_READY: AtomicU32 = AtomicU32::new(0);
static PARTNER_DONE: AtomicU32 = AtomicU32::new(0);
static PARTNER_AT: AtomicU64 = AtomicU64::new(0);
static PARTNER_INTID: AtomicU32 = AtomicU32::new(0);

extern "C" fn partner_entry(native: u64) -> ! {
    probes::install_vectors();
    if let Some(g) = gic_setup(native != 0) {
        enable_private(&g, SGI_ID);
    }
    for i in 1..=SHORT_SAMPLES {
        PARTNER_READY.store(i, Ordering::Release);
        let t = probes::wait_interrupt();
        PARTNER_AT.store(t.at, Ordering::Relaxed);
        PARTNER_INTID.store(t.intid, Ordering::Relaxed);
        PARTNER_DONE.store(i, Ordering::Release);
    }
    cpu::park()
}

fn wait_for(target: &AtomicU32, value: u32) {
    while target.load(Ordering::Acquire) != value {
        cpu::cpu_relax();
    }
}

/// Entry of the measuring CPU natively (started by CPU 0).
pub extern "C" fn native_entry(mailbox: u64) -> ! {
    run(
        Conduit::Hvc,
        Mailbox {
            addr: mailbox as usize,
        },
        probes::counter(),
    )
}

pub fn run(conduit: Conduit, mailbox: Mailbox, first: u64) -> ! {
    println!("BENCH first_output value={first}");
    let native = conduit == Conduit::Hvc;
    probes::install_vectors();
    let Some(gic) = gic_setup(native) else {
        cpu::park()
    };
    enable_private(&gic, VIRT_TIMER_INTID);
    let base = (0..16).map(|_| probes::baseline()).min().unwrap_or(0);

    let mut psci = Stats::new();
    let mut psci_ret = 0;
    for _ in 0..SHORT_SAMPLES {
        let (t, r) = match conduit {
            Conduit::Hvc => probes::psci_version_hvc(),
            Conduit::Smc => probes::psci_version_smc(),
        };
        psci_ret = r;
        psci.add(t.saturating_sub(base));
    }

    let mut gicd = Stats::new();
    let typer = gicd_base() + 0x4;
    for _ in 0..SHORT_SAMPLES {
        gicd.add(probes::mmio_read32(typer).saturating_sub(base));
    }

    let sgi = sgi_series(conduit, native);
    let idle = timer_series();
    mailbox.set_phase(1);
    while !mailbox.busy() {
        sleep(POLL_TICKS);
    }
    let busy = timer_series();

    stats::value("baseline", base as i64);
    stats::value("psci_version_result", psci_ret as i64);
    psci.print("psci_version");
    gicd.print("gicd_read");
    sgi.print("sgi_latency");
    idle.print("irq_latency");
    busy.print("irq_latency_busy");
    println!("BENCH-DONE measure");
    mailbox.set_phase(2);
    cpu::park()
}

fn sgi_series(conduit: Conduit, native: bool) -> Stats {
    let ret = smp::start(conduit, smp::PARTNER_CPU, partner_entry, u64::from(native));
    if ret != 0 {
        println!("BENCH-ERROR CPU_ON of the partner CPU: {ret}");
        return Stats::new();
    }
    let target = sgi1r_value(SGI_ID, smp::PARTNER_CPU as u64);
    // GICv2: GICD_SGIR's target list names CPU interfaces; on QEMU virt
    // interface n is CPU n (MPIDR Aff0 n), which the hypervisor keeps for
    // a cell's CPUs.
    let sgir = gicd_base() + 0xf00;
    let sgir_value = (1u32 << (smp::PARTNER_CPU & 7)) << 16 | SGI_ID;

    // One loop per GIC (monomorphised): the instructions the sender runs
    // between its counter read and the partner's, which the figure
    // includes, stay those of a single-GIC loop.
    if gic::is_v2() {
        sgi_samples(|| probes::send_sgi_v2(sgir, sgir_value));
    } else {
        sgi_samples(|| probes::send_sgi(target));
    }
    sgi_sum()
}

/// Sends SGI_ID to the partner SHORT_SAMPLES times with `send` (which
/// returns the counter read just before the SGI) and records each delay.
fn sgi_samples(send: impl Fn() -> u64) {
    for i in 1..=SHORT_SAMPLES {
        wait_for(&PARTNER_READY, i);
        let t0 = send();
        wait_for(&PARTNER_DONE, i);
        let at = PARTNER_AT.load(Ordering::Relaxed);
        if PARTNER_INTID.load(Ordering::Relaxed) == SGI_ID && at >= t0 {
            SGI_SAMPLES[i as usize - 1].store(at - t0, Ordering::Relaxed);
        } else {
            println!(
                "BENCH-WARN sgi sample {i}: intid {}",
                PARTNER_INTID.load(Ordering::Relaxed)
            );
        }
    }
}

fn sgi_sum() -> Stats {
    // Summed only now, with no trap in between: sysHyper does not yet keep
    // a cell's FP/SIMD registers across traps, and the compiler may keep a
    // running statistic in one (see README "Benchmarks").
    let mut s = Stats::new();
    for v in &SGI_SAMPLES {
        let v = v.load(Ordering::Relaxed);
        if v != SGI_MISSING {
            s.add(v);
        }
    }
    s
}

const SGI_MISSING: u64 = u64::MAX;
static SGI_SAMPLES: [AtomicU64; SHORT_SAMPLES as usize] =
    [const { AtomicU64::new(SGI_MISSING) }; SHORT_SAMPLES as usize];

fn timer_series() -> Stats {
    let mut s = Stats::new();
    let mut rng = Rng::new(0x5eed_1234_abcd_0001);
    let mut bad = 0u32;
    while s_count(&s) < IRQ_SAMPLES && bad < IRQ_SAMPLES {
        let deadline = probes::counter() + MIN_DELTA + rng.below(DELTA_SPREAD);
        let Taken { at, intid } = probes::timer_interrupt(deadline);
        if intid == VIRT_TIMER_INTID && at >= deadline {
            s.add(at - deadline);
        } else {
            bad += 1;
        }
    }
    if bad > 0 {
        println!("BENCH-WARN timer series: {bad} samples were not the timer");
    }
    s
}

fn s_count(s: &Stats) -> u32 {
    s.count() as u32
}

//! GICv3 for an EL1 program: the CPU interface (ICC_* system registers), this
//! CPU's redistributor (for SGIs and PPIs) and the distributor (for SPIs).
//!
//! Natively the program owns the whole GIC and also enables the distributor
//! and wakes its redistributor; in a cell the hypervisor has done that and
//! filters what a cell may touch, so [`Gic::init`] leaves global state alone
//! unless asked to (`own_distributor`).
//!
//! On a GICv2 (the distributor's PIDR2 says architecture revision 2) the
//! same calls drive the memory-mapped CPU interface instead (in a cell:
//! the virtual one the hypervisor maps at the GICC address, from the comm
//! region, or QEMU virt's) and the banked SGI/PPI registers of GICD.
use crate::cpu::{cpu_relax, mpidr};
use core::sync::atomic::{AtomicUsize, Ordering};
use crate::gic_affinity::{sgi1r_value, typer_affinity};
use core::arch::asm;

/// QEMU virt defaults (used when there is no comm region).
pub const QEMU_VIRT_GICD: usize = 0x0800_0000;
pub const QEMU_VIRT_GICR: usize = 0x080a_0000;
/// QEMU virt's GICv2 CPU interface (`gic-version=2`).
pub const QEMU_VIRT_GICC: usize = 0x0801_0000;

/// GICv2's CPU interface base once [`Gic::new`] found a GICv2; 0: GICv3
/// (system registers).
static GICC: AtomicUsize = AtomicUsize::new(0);
const GICC_CTLR: usize = 0x000;
const GICC_PMR: usize = 0x004;
const GICC_BPR: usize = 0x008;
const GICC_IAR: usize = 0x00c;
const GICC_EOIR: usize = 0x010;
/// GICv2 GICD_PIDR2 (architecture revision in bits 7:4) and GICD_SGIR.
const GICD_V2_PIDR2: usize = 0xfe8;
const GICD_V2_SGIR: usize = 0xf00;
const GICD_ITARGETSR: usize = 0x800;

/// The GICv2 CPU interface base, if the GIC is a GICv2.
fn gicc() -> Option<usize> {
    match GICC.load(Ordering::Relaxed) {
        0 => None,
        b => Some(b),
    }
}

/// The GICv2 CPU interface [`Gic::new`] chose (None on a GICv3), for
/// programs that reach it from their own assembly (bench-inmate's vectors).
pub fn cpu_interface() -> Option<usize> {
    gicc()
}

/// Whether [`Gic::new`] found a GICv2.
pub fn is_v2() -> bool {
    gicc().is_some()
}

/// Whether the distributor at `gicd_base` is a GICv2's (PIDR2 in its
/// 4 KiB frame says architecture revision 2; a GICv3 distributor, or the
/// hypervisor's view of one, reads 0 there).
///
/// # Safety
/// `gicd_base` must be the (mapped or trapped) distributor.
pub unsafe fn is_v2_at(gicd_base: usize) -> bool {
    (read32(gicd_base + GICD_V2_PIDR2) >> 4) & 0xf == 2
}

/// INTIDs 1020..1023 are special (1023 = nothing pending).
pub const fn is_spurious(intid: u32) -> bool {
    intid >= 1020 && intid <= 1023
}

// Distributor registers.
const GICD_CTLR: usize = 0x0000;
const GICD_ISENABLER: usize = 0x0100;
const GICD_ICENABLER: usize = 0x0180;
const GICD_IPRIORITYR: usize = 0x0400;
const GICD_IROUTER: usize = 0x6000;
const GICD_IGROUPR: usize = 0x0080;
const GICD_ICFGR: usize = 0x0c00;
const GICD_CTLR_ENABLE_G1NS: u32 = 1 << 1;
const GICD_CTLR_ARE_NS: u32 = 1 << 4;
const GICD_CTLR_RWP: u32 = 1 << 31;

// Redistributor: RD frame, then the SGI frame 64 KiB above it.
const GICR_FRAME_SIZE: usize = 0x2_0000;
const GICR_SGI_OFFSET: usize = 0x1_0000;
const GICR_WAKER: usize = 0x0014;
const GICR_TYPER: usize = 0x0008;
const GICR_TYPER_LAST: u64 = 1 << 4;
const GICR_WAKER_PROCESSOR_SLEEP: u32 = 1 << 1;
const GICR_WAKER_CHILDREN_ASLEEP: u32 = 1 << 2;
const GICR_IGROUPR0: usize = 0x0080;
const GICR_ISENABLER0: usize = 0x0100;
const GICR_ICENABLER0: usize = 0x0180;
const GICR_IPRIORITYR: usize = 0x0400;
/// Redistributor frames searched at most (bounds the walk on a bad base).
const MAX_GICR_FRAMES: usize = 256;
/// Polls of a status bit before giving up (each poll yields).
const MAX_POLLS: u32 = 1_000_000;

/// Priority given to every interrupt enabled here (lower = more urgent).
const DEFAULT_PRIORITY: u8 = 0xa0;

/// Errors of the GIC setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GicError {
    /// No redistributor frame carries this CPU's affinity.
    NoRedistributor,
}

impl core::fmt::Display for GicError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            GicError::NoRedistributor => f.write_str("no GICR frame matches this CPU's MPIDR"),
        }
    }
}

use crate::mmio::{read32, read64, write32, write64, write8};

/// The GIC as seen by one CPU.
#[derive(Debug, Clone, Copy)]
pub struct Gic {
    gicd: usize,
    /// This CPU's RD frame.
    gicr: usize,
}

impl Gic {
    /// Finds this CPU's redistributor below `gicr_base`.
    ///
    /// # Safety
    /// `gicd_base` and `gicr_base` must be the (mapped or trapped) GICv3
    /// distributor and first redistributor.
    pub unsafe fn new(gicd_base: usize, gicr_base: usize) -> Result<Self, GicError> {
        // GICv2: PIDR2 in the 4 KiB frame (a GICv3 distributor, or the
        // hypervisor's view of one, reads 0 there).
        // SAFETY: the caller's contract.
        if unsafe { is_v2_at(gicd_base) } {
            let gicc = crate::cell::comm_region()
                .map(|c| c.gicc_base() as usize)
                .filter(|&b| b != 0)
                .unwrap_or(QEMU_VIRT_GICC);
            GICC.store(gicc, Ordering::Relaxed);
            // The banked SGI/PPI registers sit in GICD itself.
            return Ok(Self { gicd: gicd_base, gicr: gicd_base });
        }
        let own = typer_affinity(mpidr());
        let mut frame = gicr_base;
        for _ in 0..MAX_GICR_FRAMES {
            let typer = read64(frame + GICR_TYPER);
            if (typer >> 32) as u32 == own {
                return Ok(Self {
                    gicd: gicd_base,
                    gicr: frame,
                });
            }
            if typer & GICR_TYPER_LAST != 0 {
                break;
            }
            frame += GICR_FRAME_SIZE;
        }
        Err(GicError::NoRedistributor)
    }

    /// Address of this CPU's redistributor RD frame.
    pub fn redistributor(&self) -> usize {
        self.gicr
    }

    /// Sets up the CPU interface of this CPU (and, when `own_distributor`,
    /// enables the distributor and wakes the redistributor: native runs).
    pub fn init(&self, own_distributor: bool) {
        if let Some(c) = gicc() {
            if own_distributor {
                write32(self.gicd + GICD_CTLR, read32(self.gicd + GICD_CTLR) | 0b11);
            }
            write32(c + GICC_PMR, 0xf0);
            write32(c + GICC_BPR, 0);
            write32(c + GICC_CTLR, 0b11);
            return;
        }
        if own_distributor {
            let ctlr = read32(self.gicd + GICD_CTLR);
            write32(
                self.gicd + GICD_CTLR,
                ctlr | GICD_CTLR_ARE_NS | GICD_CTLR_ENABLE_G1NS,
            );
            self.wait_rwp();
            let waker = read32(self.gicr + GICR_WAKER);
            write32(self.gicr + GICR_WAKER, waker & !GICR_WAKER_PROCESSOR_SLEEP);
            for _ in 0..MAX_POLLS {
                if read32(self.gicr + GICR_WAKER) & GICR_WAKER_CHILDREN_ASLEEP == 0 {
                    break;
                }
                cpu_relax();
            }
        }
        cpu_interface_init();
    }

    fn wait_rwp(&self) {
        for _ in 0..MAX_POLLS {
            if read32(self.gicd + GICD_CTLR) & GICD_CTLR_RWP == 0 {
                return;
            }
            cpu_relax();
        }
    }

    /// Enables SGI or PPI `intid` (< 32) on this CPU, as Group 1.
    pub fn enable_private(&self, intid: u32) {
        if is_v2() {
            write8(self.gicd + GICD_IPRIORITYR + (intid % 32) as usize, DEFAULT_PRIORITY);
            write32(self.gicd + GICD_ISENABLER, 1 << (intid % 32));
            return;
        }
        let sgi = self.gicr + GICR_SGI_OFFSET;
        let bit = 1u32 << (intid % 32);
        write32(sgi + GICR_IGROUPR0, read32(sgi + GICR_IGROUPR0) | bit);
        write8(
            sgi + GICR_IPRIORITYR + (intid % 32) as usize,
            DEFAULT_PRIORITY,
        );
        write32(sgi + GICR_ISENABLER0, bit);
    }

    /// Disables SGI or PPI `intid` (< 32) on this CPU.
    pub fn disable_private(&self, intid: u32) {
        if is_v2() {
            write32(self.gicd + GICD_ICENABLER, 1 << (intid % 32));
            return;
        }
        write32(
            self.gicr + GICR_SGI_OFFSET + GICR_ICENABLER0,
            1 << (intid % 32),
        );
    }

    /// Enables SPI `intid` (32..1019) as Group 1, routed to this CPU.
    pub fn enable_spi(&self, intid: u32) {
        let n = intid as usize;
        let word = (n / 32) * 4;
        let bit = 1u32 << (n % 32);
        if is_v2() {
            // Routed to this CPU's interface (the banked ITARGETSR0 byte
            // names it); the group stays (the hypervisor keeps it).
            let own = read32(self.gicd + GICD_ITARGETSR) & 0xff;
            write8(self.gicd + GICD_IPRIORITYR + n, DEFAULT_PRIORITY);
            write8(self.gicd + GICD_ITARGETSR + n, own as u8);
            write32(self.gicd + GICD_ISENABLER + word, bit);
            return;
        }
        write32(
            self.gicd + GICD_IGROUPR + word,
            read32(self.gicd + GICD_IGROUPR + word) | bit,
        );
        write8(self.gicd + GICD_IPRIORITYR + n, DEFAULT_PRIORITY);
        write64(self.gicd + GICD_IROUTER + n * 8, mpidr() & 0xff_00ff_ffff);
        write32(self.gicd + GICD_ISENABLER + word, bit);
    }

    /// Makes SPI `intid` edge-triggered (GICD_ICFGR, both GIC versions):
    /// an MSI is a pulse, which a level-sensitive input could miss.
    pub fn set_edge(&self, intid: u32) {
        let n = intid as usize;
        let reg = self.gicd + GICD_ICFGR + (n / 16) * 4;
        write32(reg, read32(reg) | 2 << (2 * (n % 16)));
    }

    /// Disables SPI `intid`.
    pub fn disable_spi(&self, intid: u32) {
        let n = intid as usize;
        write32(self.gicd + GICD_ICENABLER + (n / 32) * 4, 1 << (n % 32));
    }
}

/// ICC_SRE_EL1.SRE, priority mask open, Group 1 on.
fn cpu_interface_init() {
    // SAFETY: GICv3 CPU-interface system registers of this CPU; enabling
    // system-register access and Group 1 only affects interrupt delivery,
    // which the program controls through PSTATE.I.
    unsafe {
        asm!(
            "mrs {t}, S3_0_C12_C12_5",      // ICC_SRE_EL1
            "orr {t}, {t}, #1",
            "msr S3_0_C12_C12_5, {t}",
            "isb",
            "msr S3_0_C4_C6_0, {pmr}",      // ICC_PMR_EL1
            "msr S3_0_C12_C12_3, xzr",      // ICC_BPR1_EL1
            "msr S3_0_C12_C12_7, {one}",    // ICC_IGRPEN1_EL1
            "isb",
            t = out(reg) _,
            pmr = in(reg) 0xf0u64,
            one = in(reg) 1u64,
            options(nomem, nostack),
        );
    }
}

/// Acknowledges the highest-priority pending Group 1 interrupt.
pub fn acknowledge() -> u32 {
    if let Some(c) = gicc() {
        // The source CPU bits of an SGI are 0 in a cell (the hypervisor
        // injects virtual SGIs without one), so the INTID alone is the
        // value `end_of_interrupt` writes back.
        return read32(c + GICC_IAR) & 0x3ff;
    }
    let v: u64;
    // SAFETY: reading ICC_IAR1_EL1 acknowledges an interrupt, which the
    // caller completes with `end_of_interrupt`.
    unsafe { asm!("mrs {}, S3_0_C12_C12_0", out(reg) v, options(nomem, nostack)) };
    (v & 0xff_ffff) as u32
}

/// Signals completion (priority drop and deactivation) of `intid`.
pub fn end_of_interrupt(intid: u32) {
    if let Some(c) = gicc() {
        write32(c + GICC_EOIR, intid);
        return;
    }
    // SAFETY: ICC_EOIR1_EL1 write of an INTID acknowledged on this CPU.
    unsafe { asm!("msr S3_0_C12_C12_1, {}", in(reg) u64::from(intid), options(nomem, nostack)) };
}

/// Sends SGI `intid` (0..15) to the CPU with affinity `mpidr`.
pub fn send_sgi(intid: u32, mpidr: u64) {
    if is_v2() {
        // GICD_SGIR's target list names CPU interfaces; on QEMU virt with
        // GICv2 CPU n (n < 8) has interface n and MPIDR Aff0 n.
        let gicd = QEMU_VIRT_GICD;
        let target = 1u32 << (mpidr & 7);
        // SAFETY: a barrier only; orders earlier memory writes before the SGI.
        unsafe { asm!("dsb ish", options(nostack)) };
        write32(gicd + GICD_V2_SGIR, (target << 16) | (intid & 0xf));
        return;
    }
    // SAFETY: ICC_SGI1R_EL1 only generates an SGI.
    unsafe {
        asm!("msr S3_0_C12_C11_5, {}", "isb", in(reg) sgi1r_value(intid, mpidr), options(nomem, nostack));
    }
}

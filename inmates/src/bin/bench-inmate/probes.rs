//! The measured instruction sequences, in assembly so that native and cell
//! runs execute exactly the same instructions, and the vector table whose
//! IRQ entry reads the counter in its first instruction.
//!
//! Every probe returns counter readings; a reading is an instruction count
//! under `-icount shift=4`. `baseline()` is what two back-to-back readings
//! differ by, subtracted from probes that bracket one operation.
use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicUsize, Ordering};

// IRQ from the current EL: the first instruction reads the counter. No
// registers are saved: IRQs are unmasked only inside the probes below,
// which declare x0..x2 as outputs (x0 = counter at entry, x1 = INTID,
// x2 = 1 when the handler ran). The timer is stopped before the EOI so its
// level-triggered PPI does not fire again; that is harmless for an SGI.
// Every other vector goes to the library's table, which reports it.
global_asm!(
    r#"
.section .text.bench_vectors, "ax"
.balign 2048
.global __bench_vectors
__bench_vectors:
    .irp off, 0x000, 0x080, 0x100, 0x180, 0x200
    .balign 0x80
    b       __vectors + \off
    .endr
    .balign 0x80
    mrs     x0, cntvct_el0
    mrs     x1, S3_0_C12_C12_0
    msr     cntv_ctl_el0, xzr
    msr     S3_0_C12_C12_1, x1
    mov     x2, #1
    eret
    .irp off, 0x300, 0x380, 0x400, 0x480, 0x500, 0x580, 0x600, 0x680, 0x700, 0x780
    .balign 0x80
    b       __vectors + \off
    .endr
"#
);

// The same table for a GICv2, whose CPU interface is memory-mapped
// (natively QEMU virt's GICC; in a cell the GICV page the hypervisor maps
// at the cell's GICC address, so neither access traps): GICC_IAR at +0xc,
// GICC_EOIR at +0x10 with the whole IAR value (an SGI's source CPU
// included), the INTID alone returned in x1. The base is loaded from
// BENCH_GICC with x1 as scratch, so the handler still clobbers only x0..x2;
// the counter is still read by the first instruction.
global_asm!(
    r#"
.section .text.bench_vectors, "ax"
.balign 2048
.global __bench_vectors_v2
__bench_vectors_v2:
    .irp off, 0x000, 0x080, 0x100, 0x180, 0x200
    .balign 0x80
    b       __vectors + \off
    .endr
    .balign 0x80
    mrs     x0, cntvct_el0
    adrp    x1, BENCH_GICC
    ldr     x1, [x1, :lo12:BENCH_GICC]
    ldr     w2, [x1, #0xc]
    msr     cntv_ctl_el0, xzr
    str     w2, [x1, #0x10]
    and     x1, x2, #0x3ff
    mov     x2, #1
    eret
    .irp off, 0x300, 0x380, 0x400, 0x480, 0x500, 0x580, 0x600, 0x680, 0x700, 0x780
    .balign 0x80
    b       __vectors + \off
    .endr
"#
);

extern "C" {
    static __bench_vectors: u8;
    static __bench_vectors_v2: u8;
}

/// The GICv2 CPU interface `__bench_vectors_v2` uses; 0 on a GICv3.
#[no_mangle]
static BENCH_GICC: AtomicUsize = AtomicUsize::new(0);

/// Makes `install_vectors` choose the GICv2 table, with its CPU interface
/// at `gicc` (called once the GIC is known, before IRQs are unmasked).
pub fn use_gicv2(gicc: usize) {
    BENCH_GICC.store(gicc, Ordering::Relaxed);
    install_vectors();
}

/// True when the program runs at address 0, i.e. was built for a cell.
/// Computed at run time: a comparison of a symbol's address with 0 in Rust
/// is folded to false by the optimiser (a symbol's address is never null).
pub fn linked_at_zero() -> bool {
    let base: usize;
    // SAFETY: PC-relative address computation only.
    unsafe {
        asm!("adrp {b}, __image_start", "add {b}, {b}, :lo12:__image_start",
             b = out(reg) base, options(nomem, nostack, preserves_flags));
    }
    base == 0
}

/// Makes this CPU take exceptions through `__bench_vectors` (or its GICv2
/// twin once [`use_gicv2`] named a CPU interface).
pub fn install_vectors() {
    let table = if BENCH_GICC.load(Ordering::Relaxed) != 0 {
        core::ptr::addr_of!(__bench_vectors_v2)
    } else {
        core::ptr::addr_of!(__bench_vectors)
    };
    // SAFETY: the table is 2 KiB aligned and every slot either handles the
    // exception or forwards it to the library's table.
    unsafe {
        asm!("msr vbar_el1, {}", "isb", in(reg) table, options(nostack));
    }
}

/// The virtual counter, ordered after earlier instructions.
#[inline(always)]
pub fn counter() -> u64 {
    let v: u64;
    // SAFETY: reading CNTVCT_EL0 has no side effects.
    unsafe { asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Ticks between two back-to-back readings as the probes take them.
pub fn baseline() -> u64 {
    let (t0, t1): (u64, u64);
    // SAFETY: counter reads only.
    unsafe {
        asm!("isb", "mrs {a}, cntvct_el0", "isb", "mrs {b}, cntvct_el0",
             a = out(reg) t0, b = out(reg) t1, options(nomem, nostack));
    }
    t1.wrapping_sub(t0)
}

/// What an interrupt probe saw: the counter at the handler's first
/// instruction and the acknowledged INTID.
#[derive(Debug, Clone, Copy)]
pub struct Taken {
    pub at: u64,
    pub intid: u32,
}

/// Arms the virtual timer for `deadline`, spins with IRQs unmasked until the
/// handler has run, and returns what it saw. The spin is one instruction, so
/// the interrupt is taken at the deadline on a CPU that runs alone.
pub fn timer_interrupt(deadline: u64) -> Taken {
    let (at, intid): (u64, u64);
    // SAFETY: programs this CPU's virtual timer; IRQs are unmasked only
    // inside the block, where `__bench_vectors` (installed by the caller)
    // clobbers exactly the registers declared here.
    unsafe {
        asm!(
            "msr cntv_cval_el0, {d}",
            "mov x2, #0",
            "msr cntv_ctl_el0, {one}",
            "isb",
            "msr daifclr, #2",
            "1: cbz x2, 1b",
            "msr daifset, #2",
            d = in(reg) deadline,
            one = in(reg) 1u64,
            out("x0") at, out("x1") intid, out("x2") _,
            options(nostack),
        );
    }
    Taken {
        at,
        intid: intid as u32,
    }
}

/// Waits for any interrupt with IRQs unmasked, yielding between polls so
/// that the sending CPU runs under QEMU's round-robin scheduling.
pub fn wait_interrupt() -> Taken {
    let (at, intid): (u64, u64);
    // SAFETY: as in `timer_interrupt`; `yield` is a hint.
    unsafe {
        asm!(
            "mov x2, #0",
            "msr daifclr, #2",
            "1: yield",
            "cbz x2, 1b",
            "msr daifset, #2",
            out("x0") at, out("x1") intid, out("x2") _,
            options(nostack),
        );
    }
    Taken {
        at,
        intid: intid as u32,
    }
}

/// Reads the counter, then writes `sgi1r` to ICC_SGI1R_EL1; returns the
/// reading.
#[inline(always)]
pub fn send_sgi(sgi1r: u64) -> u64 {
    let t: u64;
    // SAFETY: generating an SGI has no effect on this program's memory.
    unsafe {
        asm!("isb", "mrs {t}, cntvct_el0", "msr S3_0_C12_C11_5, {v}", "isb",
             t = out(reg) t, v = in(reg) sgi1r, options(nomem, nostack));
    }
    t
}

/// Reads the counter, then writes `value` to the GICv2 GICD_SGIR at
/// `sgir` (trapped and emulated in a cell); returns the reading.
#[inline(always)]
pub fn send_sgi_v2(sgir: usize, value: u32) -> u64 {
    let t: u64;
    // SAFETY: `sgir` is the distributor's GICD_SGIR; generating an SGI has
    // no effect on this program's memory. A plain `str` (valid syndrome).
    unsafe {
        asm!("isb", "mrs {t}, cntvct_el0", "str {v:w}, [{a}]", "isb",
             t = out(reg) t, v = in(reg) value, a = in(reg) sgir, options(nostack));
    }
    t
}

/// Ticks around one 32-bit read of `addr` (an MMIO register).
pub fn mmio_read32(addr: usize) -> u64 {
    let (t0, t1): (u64, u64);
    // SAFETY: callers pass a readable device register; reading a GICD ID
    // register has no side effects.
    unsafe {
        asm!("isb", "mrs {a}, cntvct_el0", "ldr {v:w}, [{p}]", "isb", "mrs {b}, cntvct_el0",
             a = out(reg) t0, b = out(reg) t1, v = out(reg) _, p = in(reg) addr,
             options(nostack, readonly));
    }
    t1.wrapping_sub(t0)
}

/// Ticks around PSCI_VERSION through `hvc #0` (QEMU's firmware natively).
pub fn psci_version_hvc() -> (u64, u64) {
    let (t0, t1, r): (u64, u64, u64);
    // SAFETY: an SMCCC call clobbers at most x0..x17, declared here.
    unsafe {
        asm!("mov x0, #0x84000000", "isb", "mrs {a}, cntvct_el0", "hvc #0", "isb", "mrs {b}, cntvct_el0",
             a = out(reg) t0, b = out(reg) t1,
             out("x0") r, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
             out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _,
             out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
             options(nostack));
    }
    (t1.wrapping_sub(t0), r)
}

/// Ticks around PSCI_VERSION through `smc #0` (trapped by sysHyper).
pub fn psci_version_smc() -> (u64, u64) {
    let (t0, t1, r): (u64, u64, u64);
    // SAFETY: as in `psci_version_hvc`.
    unsafe {
        asm!("mov x0, #0x84000000", "isb", "mrs {a}, cntvct_el0", "smc #0", "isb", "mrs {b}, cntvct_el0",
             a = out(reg) t0, b = out(reg) t1,
             out("x0") r, out("x1") _, out("x2") _, out("x3") _, out("x4") _, out("x5") _,
             out("x6") _, out("x7") _, out("x8") _, out("x9") _, out("x10") _, out("x11") _,
             out("x12") _, out("x13") _, out("x14") _, out("x15") _, out("x16") _, out("x17") _,
             options(nostack));
    }
    (t1.wrapping_sub(t0), r)
}

/// Ticks around HYPERVISOR_GET_INFO(`kind`) and its result.
pub fn hypercall_info(kind: u64) -> (u64, i64) {
    let (t0, t1, r): (u64, u64, u64);
    // SAFETY: the hypercall ABI reads x0..x2 and writes only x0.
    unsafe {
        asm!("mov x0, #5", "isb", "mrs {a}, cntvct_el0", "hvc #0x4a48", "isb", "mrs {b}, cntvct_el0",
             a = out(reg) t0, b = out(reg) t1,
             out("x0") r, in("x1") kind, in("x2") 0u64,
             options(nostack));
    }
    (t1.wrapping_sub(t0), r as i64)
}

//! EL2 exception vectors: save the interrupted context into the trap frame
//! at the top of this CPU's stack, call the Rust handler, restore, `eret`.
//! This is the whole world switch: each physical CPU runs one vCPU, so EL1
//! system registers stay live and only general registers are saved.
//!
//! The frequent exits (interrupts, and synchronous traps from a lower EL)
//! save only what a Rust function may clobber: x0-x18, x29, x30 (and ELR).
//! x19-x28 are callee-saved under AAPCS64, so every Rust function the
//! entry calls returns with them holding the guest's values; they are
//! neither stored nor reloaded, and so never pass through memory that
//! another context could see. Whenever a handler needs them in the frame
//! (it reads or writes one of them, rewrites the frame as a whole, records
//! it, or leaves EL2 through it), the entry stores them after the partial
//! handler has returned (still the guest's values then), and the full
//! frame is restored. Each partial handler decides that before it changes
//! anything (`trap::handlers::keeps_frame`).

use super::consts::FRAME_SIZE;
use super::regval::ich;
use crate::percpu::PerCpu;
use crate::trace::CpuTrace;

core::arch::global_asm!(
    r#"
/* x6-x18, x29, x30: the caller-saved registers after x0-x5 (saved by
 * VECTOR_IRQ_ENTRY or SAVE_CALLER_SAVED); x19-x28 stay live across a Rust
 * handler (callee-saved). */
.macro SAVE_IRQ_REST
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    str     x18, [sp, #144]
    stp     x29, x30, [sp, #232]
.endm

.macro SAVE_CALLER_SAVED
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    SAVE_IRQ_REST
.endm

.macro SAVE_FRAME
    SAVE_CALLER_SAVED
    stp     x19, x20, [sp, #152]
    stp     x21, x22, [sp, #168]
    stp     x23, x24, [sp, #184]
    stp     x25, x26, [sp, #200]
    stp     x27, x28, [sp, #216]
    mrs     x9, elr_el2
    mrs     x10, spsr_el2
    stp     x9, x10, [sp, #248]
.endm

.macro RESTORE_CALLER_SAVED
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldr     x18, [sp, #144]
    ldp     x29, x30, [sp, #232]
    add     sp, sp, #{frame}
.endm

.macro VECTOR handler
    .balign 0x80
    SAVE_FRAME
    mov     x0, sp
    bl      \handler
    b       __restore_frame
.endm

/* Interrupts and lower-EL synchronous traps: x0-x5 are saved here, the
 * rest only as far as the path needs (__irq_save_rest, __sync_partial).
 * The IRQ entry first tries the assembly fast path (__irq_fast); the FIQ
 * entry (__fiq_slow) always goes to Rust, unacknowledged.
 * The interrupt handler returns nonzero when it rewrote the whole frame
 * (the CPU parked and was restarted elsewhere): then the full frame is
 * restored. */
.macro VECTOR_PARTIAL_ENTRY target
    .balign 0x80
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    b       \target
.endm

.section .text
.balign 0x800
.global __el2_vectors
__el2_vectors:
    VECTOR  trap_hyp_fault      /* current EL, SP0 */
    VECTOR  trap_hyp_fault
    VECTOR  trap_hyp_fault
    VECTOR  trap_hyp_fault
    VECTOR  trap_hyp_fault      /* current EL, SPx */
    VECTOR  trap_hyp_fault
    VECTOR  trap_hyp_fault
    VECTOR  trap_hyp_fault
    VECTOR_PARTIAL_ENTRY __sync_partial /* lower EL, AArch64 */
    VECTOR_PARTIAL_ENTRY __irq_fast
    VECTOR_PARTIAL_ENTRY __fiq_slow
    VECTOR  trap_lower_serror
    VECTOR  trap_lower_aarch32  /* lower EL, AArch32 */
    VECTOR  trap_lower_aarch32
    VECTOR  trap_lower_aarch32
    VECTOR  trap_lower_aarch32

/* The interrupt fast path (the common case of the Rust path in
 * irqchip/gicv3/inject.rs, for CPUs whose PerCpu.irq_fast says their
 * interface is GICv3's): a PPI other than the maintenance interrupt, or
 * an SPI the CPU's cell owns, is acknowledged, dropped in priority and
 * put pending with HW = 1 into list register 0 when every list register
 * is empty (the guest's EOI deactivates it physically; with another
 * entry in flight, which could hold the same INTID, the Rust path merges
 * a second delivery into it: irqchip/lr_merge.rs), counted (PerCpu.fast_irqs) and timed
 * (CpuTrace.fast: one log2 bucket of EL2 entry to list register); then
 * straight back. Everything else (SGIs, the maintenance interrupt, an
 * SPI of another cell, nothing pending, a list register in use) goes to
 * the Rust handler with the INTID already acknowledged in x1.
 * x0: PerCpu, x1: INTID, x2: entry time, x3-x5: scratch.
 * The global labels split the path into the phases the bench's breakdown
 * counts (xtask/src/bench/breakdown.rs): dispatch, acknowledge and
 * classify, inject, account, restore. */
.global __irq_fast
__irq_fast:
    mrs     x2, cntpct_el0
    mrs     x0, tpidr_el2
    ldr     w3, [x0, #{irq_fast}]
    cbz     w3, __irq_slow
.global __irq_fast_ack
__irq_fast_ack:
    mrs     x1, s3_0_c12_c12_0          /* ICC_IAR1_EL1 */
    and     w1, w1, #0xffffff
    sub     w3, w1, #16
    cmp     w3, #16
    b.hs    __irq_fast_spi
    cmp     w1, #{maint}                /* a PPI: all but maintenance */
    b.eq    __irq_save_rest
.global __irq_fast_inject
__irq_fast_inject:
    mrs     x3, s3_4_c12_c11_5          /* ICH_ELRSR_EL2 */
    ldr     w4, [x0, #{irq_fast}]       /* every implemented list register */
    cmp     w3, w4                      /* all empty: none holds this INTID */
    b.ne    __irq_save_rest
    msr     s3_0_c12_c12_1, x1          /* ICC_EOIR1_EL1: priority drop */
    mov     x4, #{lr_base}              /* pending, HW, group 1, priority */
    orr     x4, x4, x1                  /* vINTID */
    orr     x4, x4, x1, lsl #32         /* pINTID */
    msr     s3_4_c12_c12_0, x4          /* ICH_LR0_EL2 */
.global __irq_fast_account
__irq_fast_account:
4:  ldr     x3, [x0, #{fast_irqs}]
    add     x3, x3, #1
    str     x3, [x0, #{fast_irqs}]
    mrs     x3, cntpct_el0
    sub     x3, x3, x2
    clz     x3, x3
    add     x3, x0, x3, lsl #2
    ldr     w4, [x3, #{fast_hist}]
    add     w4, w4, #1
    str     w4, [x3, #{fast_hist}]
.global __irq_fast_restore
__irq_fast_restore:
    ldp     x4, x5, [sp, #32]
    ldp     x2, x3, [sp, #16]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #{frame}
    eret
.global __irq_fast_spi
__irq_fast_spi:
    dsb     sy                          /* the ack's active state visible */
    adrp    x3, {direct_cpus}           /* a direct cell runs: SPIs in */
    ldr     w3, [x3, :lo12:{direct_cpus}] /* safe mode, in Rust (safe_spi) */
    cbnz    w3, __irq_save_rest
    sub     w3, w1, #32                 /* an SPI (32..1019) of this cell */
    cmp     w3, #988
    b.hs    __irq_save_rest
    adrp    x3, {owners}
    add     x3, x3, :lo12:{owners}
    add     x3, x3, x1
    ldarb   w3, [x3]                    /* acquire, as spi::owner() */
    cmp     w3, #{no_owner}
    b.eq    __irq_save_rest
    ldr     w4, [x0, #{cell}]
    and     w4, w4, #0xff
    cmp     w3, w4
    b.eq    __irq_fast_inject
    b       __irq_save_rest

/* The FIQ entry: the hypervisor's Group-0 interrupts on a CPU of a
 * direct-delivery cell (docs/direct-delivery.md), nothing acknowledged. */
.global __fiq_slow
__fiq_slow:
    mrs     x2, cntpct_el0
    mov     w1, #{not_acked}
    SAVE_IRQ_REST
    mov     x0, sp
    bl      trap_lower_fiq
    cbnz    w0, __restore_frame
    b       __irq_return

/* The Rust interrupt path, nothing acknowledged yet (a CPU without the
 * fast path). */
.global __irq_slow
__irq_slow:
    mrs     x2, cntpct_el0
    mov     w1, #{not_acked}
/* x1: the acknowledged INTID or NOT_ACKED, x2: the entry time. */
__irq_save_rest:
    SAVE_IRQ_REST
    mov     x0, sp
    bl      trap_lower_irq
    cbnz    w0, __restore_frame
__irq_return:
    RESTORE_CALLER_SAVED
    eret

/* A synchronous trap from a lower EL (x0-x5 saved by the vector).
 * The frequent exits (hypercalls, PSCI, trapped MMIO and SGI registers)
 * go to a Rust entry of their exception class, trap_*_partial(frame,
 * ESR), with x0-x18, x29, x30 and ELR in the frame; the guest's x19-x28
 * stay in their registers throughout (see the module comment) and
 * SPSR_EL2 is not touched (nothing at EL2 takes an exception meanwhile:
 * interrupts are masked, a fault of its own panics). The entry returns
 * {sync_done} when done, {sync_full} when the trap needs the whole frame
 * and nothing was done yet (trap_lower_sync handles it from the start;
 * also every other class), or {sync_rest} when its handler found the
 * access was not one it takes (trap_lower_sync_rest reports it with the
 * whole frame). In both latter cases x19-x28 are stored now, from the
 * registers the Rust function preserved, and SPSR from SPSR_EL2. */
.global __sync_partial
__sync_partial:
    SAVE_IRQ_REST
    mrs     x9, elr_el2
    str     x9, [sp, #248]
    mrs     x1, esr_el2
    lsr     w2, w1, #26
    mov     x0, sp
    cmp     w2, #{ec_smc}
    b.eq    12f
    cmp     w2, #{ec_hvc}
    b.eq    10f
    cmp     w2, #{ec_dabt}
    b.eq    11f
    cmp     w2, #{ec_sysreg}
    b.eq    13f
    mov     w0, #{sync_full}
    b       1f
10: bl      trap_hvc_partial
    b       5f
11: bl      trap_dabt_partial
    b       5f
12: bl      trap_smc_partial
    b       5f
13: bl      trap_sysreg_partial
5:  cbnz    w0, 1f
    ldr     x9, [sp, #248]
    msr     elr_el2, x9
    RESTORE_CALLER_SAVED
    eret
1:  stp     x19, x20, [sp, #152]
    stp     x21, x22, [sp, #168]
    stp     x23, x24, [sp, #184]
    stp     x25, x26, [sp, #200]
    stp     x27, x28, [sp, #216]
    mrs     x10, spsr_el2
    str     x10, [sp, #256]
    cmp     w0, #{sync_full}
    mov     x0, sp
    b.ne    2f
    bl      trap_lower_sync
    b       __restore_frame
2:  bl      trap_lower_sync_rest
    b       __restore_frame

/* x0 = trap frame: make it the current stack and return to the guest. */
.global __vm_return
__vm_return:
    mov     sp, x0
__restore_frame:
    ldp     x9, x10, [sp, #248]
    msr     elr_el2, x9
    msr     spsr_el2, x10
    ldp     x19, x20, [sp, #152]
    ldp     x21, x22, [sp, #168]
    ldp     x23, x24, [sp, #184]
    ldp     x25, x26, [sp, #200]
    ldp     x27, x28, [sp, #216]
    RESTORE_CALLER_SAVED
    eret
"#,
    frame = const FRAME_SIZE,
    irq_fast = const core::mem::offset_of!(PerCpu, irq_fast),
    fast_irqs = const core::mem::offset_of!(PerCpu, fast_irqs),
    cell = const core::mem::offset_of!(PerCpu, cell),
    fast_hist = const core::mem::offset_of!(PerCpu, trace) + CpuTrace::FAST_OFFSET,
    maint = const crate::irqchip::gicv3::redist::MAINTENANCE_IRQ,
    owners = sym crate::irqchip::spi::OWNERS,
    direct_cpus = sym crate::irqchip::gicv3::safe_spi::DIRECT_CPUS,
    no_owner = const crate::irqchip::spi::NO_OWNER,
    lr_base = const ich::LR_PENDING | ich::LR_HW | ich::LR_GROUP1 | ich::LR_PRIO,
    not_acked = const crate::irqchip::NOT_ACKED,
    sync_done = const crate::trap::SYNC_DONE,
    sync_full = const crate::trap::SYNC_FULL,
    sync_rest = const crate::trap::SYNC_REST,
    ec_hvc = const crate::trap::esr::ec::HVC64,
    ec_smc = const crate::trap::esr::ec::SMC64,
    ec_dabt = const crate::trap::esr::ec::DABT_LOW,
    ec_sysreg = const crate::trap::esr::ec::SYSREG,
);

//! EL2 exception vectors: save the interrupted context into the trap frame
//! at the top of this CPU's stack, call the Rust handler, restore, `eret`.
//! This is the whole world switch: each physical CPU runs one vCPU, so EL1
//! system registers stay live and only general registers are saved.

use super::consts::FRAME_SIZE;

core::arch::global_asm!(
    r#"
.macro SAVE_CALLER_SAVED
    sub     sp, sp, #{frame}
    stp     x0, x1, [sp, #0]
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    str     x18, [sp, #144]
    stp     x29, x30, [sp, #232]
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

/* The interrupt fast path saves only what the Rust handler may clobber
 * (x0-x18, x29, x30); x19-x28 stay live across it (callee-saved), and ELR
 * and SPSR stay in their registers because EL2 runs with interrupts masked.
 * The handler returns nonzero when it rewrote the whole frame (the CPU
 * parked and was restarted elsewhere): then the full frame is restored. */
.macro VECTOR_IRQ handler
    .balign 0x80
    SAVE_CALLER_SAVED
    mov     x0, sp
    bl      \handler
    cbnz    w0, __restore_frame
    b       __irq_return
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
    VECTOR  trap_lower_sync     /* lower EL, AArch64 */
    VECTOR_IRQ trap_lower_irq
    VECTOR_IRQ trap_lower_fiq
    VECTOR  trap_lower_serror
    VECTOR  trap_lower_aarch32  /* lower EL, AArch32 */
    VECTOR  trap_lower_aarch32
    VECTOR  trap_lower_aarch32
    VECTOR  trap_lower_aarch32

__irq_return:
    RESTORE_CALLER_SAVED
    eret

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
);

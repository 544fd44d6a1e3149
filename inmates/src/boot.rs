//! Entry points and the EL1 exception vector table (the only assembly besides
//! single-instruction register accessors).
//!
//! - `_start`: first CPU. Masks interrupts, sets SCTLR_EL1 (MMU, caches and
//!   alignment checks off), enables FP/SIMD (Rust uses NEON registers for
//!   copies and formatting), installs the vectors, zeroes `.bss`, takes the
//!   boot stack and calls the program's `__inmate_main` (see `entry!`).
//! - `__secondary_entry`: CPUs started with PSCI CPU_ON; x0 (the context id)
//!   points to a [`crate::psci::SecondaryBoot`] giving the stack, the entry
//!   function and its argument. `.bss` is left alone.
//! - `__vectors`: every exception saves the full integer and FP/SIMD state in
//!   a [`crate::exceptions::TrapFrame`] on the current stack, so that Rust
//!   interrupt handlers may use any register, then calls
//!   `__exception_handler(kind, frame)` and returns with `eret`.

/// Bytes of the first CPU's stack (in `.bss`; the whole gic-demo cell is
/// 64 KiB, so stacks stay small).
pub const BOOT_STACK_SIZE: usize = 8 * 1024;

core::arch::global_asm!(
    r#"
.macro cpu_setup
    msr     daifset, #0xf
    // SCTLR_EL1 = RES1 bits | I: MMU, D-cache and alignment checks off.
    movz    x9, #0x1800
    movk    x9, #0x30d0, lsl #16
    msr     sctlr_el1, x9
    // CPACR_EL1.FPEN = 0b11: no FP/SIMD traps at EL1/EL0.
    mov     x9, #(3 << 20)
    msr     cpacr_el1, x9
    adrp    x9, __vectors
    add     x9, x9, :lo12:__vectors
    msr     vbar_el1, x9
    isb
.endm

.section .text.boot, "ax"
.global _start
_start:
    cpu_setup
    adrp    x9, __bss_start
    add     x9, x9, :lo12:__bss_start
    adrp    x10, __bss_end
    add     x10, x10, :lo12:__bss_end
1:  cmp     x9, x10
    b.hs    2f
    stp     xzr, xzr, [x9], #16
    b       1b
2:  adrp    x9, __boot_stack_top
    add     x9, x9, :lo12:__boot_stack_top
    mov     sp, x9
    mov     x29, xzr
    mov     x30, xzr
    bl      __inmate_main
    b       __park

.global __secondary_entry
__secondary_entry:
    cpu_setup
    ldr     x9, [x0]
    mov     sp, x9
    ldr     x10, [x0, #8]
    ldr     x0, [x0, #16]
    mov     x29, xzr
    mov     x30, xzr
    blr     x10
    b       __park

__park:
    wfi
    b       __park

.section .bss.boot_stack, "aw", %nobits
.balign 16
    .space {stack_size}
.global __boot_stack_top
__boot_stack_top:

// Frame: x0..x30 @0, elr @248, spsr @256, fpsr @264, fpcr @272, q0..q31 @288.
.equ FRAME_SIZE, 800

.macro vector kind
.balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       __exception_common
.endm

.section .text.vectors, "ax"
.balign 2048
.global __vectors
__vectors:
    vector 0
    vector 1
    vector 2
    vector 3
    vector 4
    vector 5
    vector 6
    vector 7
    vector 8
    vector 9
    vector 10
    vector 11
    vector 12
    vector 13
    vector 14
    vector 15

__exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    str     x30, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #248]
    mrs     x2, fpsr
    mrs     x3, fpcr
    stp     x2, x3, [sp, #264]
    add     x2, sp, #288
    stp     q0, q1, [x2, #0]
    stp     q2, q3, [x2, #32]
    stp     q4, q5, [x2, #64]
    stp     q6, q7, [x2, #96]
    stp     q8, q9, [x2, #128]
    stp     q10, q11, [x2, #160]
    stp     q12, q13, [x2, #192]
    stp     q14, q15, [x2, #224]
    stp     q16, q17, [x2, #256]
    stp     q18, q19, [x2, #288]
    stp     q20, q21, [x2, #320]
    stp     q22, q23, [x2, #352]
    stp     q24, q25, [x2, #384]
    stp     q26, q27, [x2, #416]
    stp     q28, q29, [x2, #448]
    stp     q30, q31, [x2, #480]
    mov     x1, sp
    bl      __exception_handler
    add     x2, sp, #288
    ldp     q0, q1, [x2, #0]
    ldp     q2, q3, [x2, #32]
    ldp     q4, q5, [x2, #64]
    ldp     q6, q7, [x2, #96]
    ldp     q8, q9, [x2, #128]
    ldp     q10, q11, [x2, #160]
    ldp     q12, q13, [x2, #192]
    ldp     q14, q15, [x2, #224]
    ldp     q16, q17, [x2, #256]
    ldp     q18, q19, [x2, #288]
    ldp     q20, q21, [x2, #320]
    ldp     q22, q23, [x2, #352]
    ldp     q24, q25, [x2, #384]
    ldp     q26, q27, [x2, #416]
    ldp     q28, q29, [x2, #448]
    ldp     q30, q31, [x2, #480]
    ldp     x2, x3, [sp, #264]
    msr     fpsr, x2
    msr     fpcr, x3
    ldp     x2, x3, [sp, #248]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    ldr     x30, [sp, #240]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #FRAME_SIZE
    eret
"#,
    stack_size = const BOOT_STACK_SIZE,
);

extern "C" {
    fn __secondary_entry();
}

/// Address of the entry for CPUs started by PSCI CPU_ON (physical: the MMU
/// is off and images run where they are linked).
pub fn secondary_entry_address() -> u64 {
    __secondary_entry as *const () as u64
}

/// Address the program is linked (and so loaded) at.
///
/// Computed in assembly: the compiler assumes the address of a static is
/// never 0, so `addr_of!(__image_start) == 0` would be folded to false and
/// a program linked at 0 would not know it runs in a cell.
pub fn image_base() -> usize {
    let base: usize;
    // SAFETY: computes a link-time address; no memory is accessed.
    unsafe {
        core::arch::asm!(
            "adrp {0}, __image_start",
            "add {0}, {0}, :lo12:__image_start",
            out(reg) base,
            options(pure, nomem, nostack, preserves_flags),
        );
    }
    base
}

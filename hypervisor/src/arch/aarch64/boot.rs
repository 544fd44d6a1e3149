//! Entry paths into EL2, the boot page tables and the switch to virtual
//! addresses. Everything here runs with the EL2 MMU off, at physical
//! addresses, so it is assembly: position-independent and free of absolute
//! data references until the branch to `rust_entry`.
//!
//! Three ways in, one common path (`el2_common`):
//! - boot-first: QEMU or a boot loader starts `__entry` at EL2 (mode 1 on the
//!   boot CPU, mode 2 on CPUs we start ourselves with PSCI CPU_ON),
//! - late launch through sysHyper's driver: Linux's hyp stub is pointed at
//!   `__bootstrap_vectors` and a second `hvc #0` lands there (mode 3),
//! - late launch through Jailhouse's driver: `__entry` called at EL1 performs
//!   those two hyp-stub calls itself.
//!
//! The system register values written here are composed from
//! `aarch64-cpu`'s named fields in `regval::boot` (and `regval`'s HCR_EL2)
//! and passed in as `const` operands.

use super::consts::{BOOT_PT_BLOCKS, FRAME_SIZE};
use super::regval::{boot as regs, HCR_EL1_ONLY};
use crate::layout::{
    BOOT_SECONDARY_MAGIC, ENTER_MAGIC, MODE_BOOT_PRIMARY, MODE_BOOT_SECONDARY, MODE_LATE,
};

core::arch::global_asm!(
    r#"
.section .text.entry, "ax"
.global __entry
__entry:
    mrs     x9, CurrentEL
    cmp     x9, #{current_el2}
    b.ne    el1_entry
    /* boot-first: MMU off at EL2; x0 tells the boot CPU (index 0) from
     * ours, whose context id carries the index the boot CPU gave them
     * (layout::boot_secondary_context): no index from MPIDR arithmetic. */
    mov     x19, x0
    ldr     x10, ={boot_magic_hi}
    bic     x11, x19, #0xff
    mov     x0, #0
    mov     x1, #{mode_primary}
    cmp     x11, x10
    b.ne    el2_common
    and     x0, x19, #0xff
    mov     x1, #{mode_secondary}
    b       el2_common

/* Jailhouse's driver calls us at EL1 through a kernel mapping: w0 = CPU. */
el1_entry:
    mov     x13, x0
    adrp    x9, __bootstrap_vectors
    add     x9, x9, :lo12:__bootstrap_vectors
    at      s1e1r, x9
    isb
    mrs     x10, par_el1
    tbnz    x10, #{par_f_bit}, 1f
    and     x10, x10, #{par_pa_mask}
    and     x11, x9, #0xfff
    orr     x10, x10, x11
    adrp    x9, __image_start
    at      s1e1r, x9
    isb
    mrs     x12, par_el1
    tbnz    x12, #{par_f_bit}, 1f
    and     x12, x12, #{par_pa_mask}
    mov     x0, #0              /* HVC_SET_VECTORS */
    mov     x1, x10
    hvc     #0
    mov     x0, x13
    ldr     x1, ={enter_magic}
    mov     x2, x12
    hvc     #0
    ret
1:  mov     x0, #-14            /* -EFAULT: cannot translate our own address */
    ret

/* Linux's hyp stub vectors point here during late launch (MMU off). */
.balign 0x800
.global __bootstrap_vectors
__bootstrap_vectors:
    .rept 8
    .balign 0x80
    b       .
    .endr
    .balign 0x80
    /* lower EL, AArch64, synchronous: the second hvc of the enter sequence */
    ldr     x9, ={enter_magic}
    cmp     x1, x9
    b.ne    bootstrap_reject
    mov     x1, #{mode_late}
    b       el2_common
    .rept 7
    .balign 0x80
    b       .
    .endr

/* Someone else's hvc reached our bootstrap vectors: refuse it. */
bootstrap_reject:
    mov     x0, #-22
    eret

.section .text.trampoline, "ax"
/* x0 = CPU id, x1 = mode; only x9..x17 are scratch (the late-launch caller
 * expects x19..x30 back). */
el2_common:
    adrp    x9, __image_start
    add     x9, x9, :lo12:__image_start
    ldr     x10, [x9, #8]           /* core_size */
    ldr     x11, [x9, #16]          /* percpu_size */
    ldr     w12, [x9, #48]          /* max_cpus */
    cmp     x0, x12
    b.hs    el2_early_fail
    tst     x9, #0x1fffff           /* the boot map uses 2 MiB blocks */
    b.ne    el2_early_fail
    madd    x13, x0, x11, x10
    add     x13, x13, x9
    add     x13, x13, x11
    sub     sp, x13, #{frame}
    cmp     x1, #{mode_late}
    b.ne    2f
    stp     x0, x1, [sp, #0]
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
    mrs     x10, elr_el2
    mrs     x11, spsr_el2
    stp     x10, x11, [sp, #248]
2:  bl      boot_pt_build
    bl      boot_inval_poc
    bl      mmu_on_el2
    ldr     x10, =__image_start
    sub     x10, x10, x9            /* PHYS_VIRT_OFFSET */
    add     sp, sp, x10
    mov     x2, x9
    ldr     x11, =rust_entry
    br      x11

/* Early failure before any console exists: late launch returns -EINVAL to
 * the caller, boot-first stops this CPU. */
el2_early_fail:
    cmp     x1, #{mode_late}
    b.ne    3f
    ldr     x10, [x9, #64]          /* hand EL2 back to Linux's stub */
    msr     vbar_el2, x10
    isb
    mov     x0, #-22
    eret
3:  wfe
    b       3b

/* Boot map: identity 1 GiB block around the image, and the image's virtual
 * base mapped linearly with 2 MiB blocks. Every CPU writes the same values,
 * so CPUs arriving together do not need a lock. x9 = image physical base. */
boot_pt_build:
    adrp    x10, __boot_pt
    ldr     x13, =__image_start
    mov     x14, #0x741             /* block: AF, inner shareable, AP[1], attr 0 */
    ubfx    x11, x9, #39, #9
    add     x12, x10, #0x1000
    orr     x12, x12, #3
    str     x12, [x10, x11, lsl #3]
    ubfx    x11, x13, #39, #9
    add     x12, x10, #0x2000
    orr     x12, x12, #3
    str     x12, [x10, x11, lsl #3]
    ubfx    x11, x9, #30, #9
    and     x12, x9, #0xffffffffc0000000
    orr     x12, x12, x14
    add     x15, x10, #0x1000
    str     x12, [x15, x11, lsl #3]
    ubfx    x11, x13, #30, #9
    add     x12, x10, #0x3000
    orr     x12, x12, #3
    add     x15, x10, #0x2000
    str     x12, [x15, x11, lsl #3]
    ubfx    x11, x13, #21, #9
    add     x15, x10, #0x3000
    add     x15, x15, x11, lsl #3
    mov     x16, #{blocks}
    mov     x12, x9
4:  orr     x17, x12, x14
    str     x17, [x15], #8
    add     x12, x12, #0x200000
    subs    x16, x16, #1
    b.ne    4b
    dsb     ish
    ret

/* Discards every cache line of what this CPU just wrote with the MMU off
 * (the boot map; in late launch also its trap frame at sp), so that the
 * cacheable table walks and loads once the MMU is on see memory.
 *
 * Why: MMU-off stores go to memory, past the caches, while Linux keeps the
 * hypervisor memory mapped write-back (the driver's memremap) through the
 * whole enable. The driver cleaned and invalidated that memory after its
 * last write, but the CPU may fill lines from that alias speculatively at
 * any time after, so a line holding the old (zero) contents can sit in a
 * cache when our stores reach memory: a walk that hit it would fault at
 * EL2 into `b .` of __bootstrap_vectors (a silent hang), a load of the
 * frame would hand Linux wrong registers. Linux's own head.S does the same
 * for its early page tables. Invalidating cannot lose data: nobody writes
 * these lines through a cache between the driver's clean and here (the
 * boot map is only ever written with the MMU off, the frame only by its
 * CPU), so any line present is a clean speculative fill; boot-first
 * CPUs wrote no frame here (x1 != late), so theirs is left alone. x0, x1
 * and x9 are kept; x13..x17 are scratch. */
boot_inval_poc:
    dmb     sy                      /* our stores before the invalidation */
    mrs     x13, ctr_el0
    ubfx    x13, x13, #16, #4       /* DminLine: log2 of words per line */
    mov     x14, #4
    lsl     x14, x14, x13           /* smallest data cache line, bytes */
    sub     x15, x14, #1
    adrp    x16, __boot_pt
    add     x17, x16, #{boot_pt_size}
    bic     x16, x16, x15
5:  dc      ivac, x16
    add     x16, x16, x14
    cmp     x16, x17
    b.lo    5b
    cmp     x1, #{mode_late}
    b.ne    7f
    mov     x16, sp
    add     x17, x16, #{frame}
    bic     x16, x16, x15
6:  dc      ivac, x16
    add     x16, x16, x14
    cmp     x16, x17
    b.lo    6b
7:  dsb     sy
    /* The instruction cache too: an earlier enable ran a hypervisor at
     * these addresses (perhaps another build of it) with the I-cache on,
     * and the fetches once the MMU and I-cache are on could hit its lines.
     * The driver cleaned the new image to PoC, so after this local
     * invalidation every fetch reads it. */
    ic      iallu
    dsb     nsh
    isb
    ret

/* Turns the EL2 MMU on with the table whose physical address is in x10's
 * page (boot map), caches on. Lives in the identity-mapped trampoline page. */
mmu_on_el2:
    ldr     x10, ={mair}            /* 0 normal WB, 1 dev nGnRnE, 2 dev nGnRE, 3 normal NC */
    msr     mair_el2, x10
    ldr     x10, ={tcr}             /* T0SZ 16, WB WA, inner shareable, 4K */
    mrs     x11, id_aa64mmfr0_el1
    bfi     x10, x11, #{tcr_ps_shift}, #{tcr_ps_bits} /* PS = PARange */
    msr     tcr_el2, x10
    adrp    x10, __boot_pt
    msr     ttbr0_el2, x10
    isb
    tlbi    alle2
    dsb     nsh
    isb
    ldr     x10, ={sctlr}           /* RES1, M, C, SA, I */
    msr     sctlr_el2, x10
    isb
    ret

/* Switch TTBR0_EL2 to another table that maps the code running now. */
.global __switch_el2_table
__switch_el2_table:
    dsb     ish
    msr     ttbr0_el2, x0
    isb
    tlbi    alle2
    dsb     ish
    isb
    ret

/* Hands EL2 back to Linux's hyp stub. Called through the identity map:
 * x0 = physical address of the trap frame to return to, x1 = physical
 * address of the stub vectors. MMU off, stage 2 off, then the frame's
 * registers and eret to EL1. */
.global __el2_shutdown_phys
__el2_shutdown_phys:
    mrs     x9, sctlr_el2
    bic     x9, x9, #{sctlr_m}
    bic     x9, x9, #{sctlr_c}
    bic     x9, x9, #{sctlr_i}
    msr     sctlr_el2, x9
    isb
    tlbi    alle2
    msr     vbar_el2, x1
    mov     x9, #{hcr_el1_only}
    msr     hcr_el2, x9
    msr     vttbr_el2, xzr
    isb
    tlbi    vmalls12e1
    dsb     nsh
    isb
    ldp     x9, x10, [x0, #248]
    msr     elr_el2, x9
    msr     spsr_el2, x10
    ldp     x2, x3, [x0, #16]
    ldp     x4, x5, [x0, #32]
    ldp     x6, x7, [x0, #48]
    ldp     x8, x9, [x0, #64]
    ldp     x10, x11, [x0, #80]
    ldp     x12, x13, [x0, #96]
    ldp     x14, x15, [x0, #112]
    ldp     x16, x17, [x0, #128]
    ldp     x18, x19, [x0, #144]
    ldp     x20, x21, [x0, #160]
    ldp     x22, x23, [x0, #176]
    ldp     x24, x25, [x0, #192]
    ldp     x26, x27, [x0, #208]
    ldp     x28, x29, [x0, #224]
    ldr     x30, [x0, #240]
    ldp     x0, x1, [x0, #0]
    eret

.section .data.boot_pt, "aw"
.balign 4096
.global __boot_pt
__boot_pt:
    .fill 4 * 4096, 1, 0
"#,
    boot_magic_hi = const BOOT_SECONDARY_MAGIC & !0xff,
    enter_magic = const ENTER_MAGIC,
    mode_primary = const MODE_BOOT_PRIMARY,
    mode_secondary = const MODE_BOOT_SECONDARY,
    mode_late = const MODE_LATE,
    frame = const FRAME_SIZE,
    blocks = const BOOT_PT_BLOCKS,
    boot_pt_size = const 4 * 4096,
    current_el2 = const regs::CURRENT_EL2,
    mair = const regs::MAIR,
    tcr = const regs::TCR,
    tcr_ps_shift = const regs::TCR_PS_SHIFT,
    tcr_ps_bits = const regs::TCR_PS_BITS,
    sctlr = const regs::SCTLR,
    sctlr_m = const regs::SCTLR_M,
    sctlr_c = const regs::SCTLR_C,
    sctlr_i = const regs::SCTLR_I,
    hcr_el1_only = const HCR_EL1_ONLY,
    par_f_bit = const regs::PAR_F_BIT,
    par_pa_mask = const regs::PAR_PA_MASK,
);

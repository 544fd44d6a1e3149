//! Single-instruction CPU helpers: waiting, interrupt masking, ID registers.
use core::arch::asm;

/// One turn of a spin-wait. `yield` lets QEMU switch vCPUs under -icount,
/// where a loop without it can starve every other CPU.
#[inline(always)]
pub fn cpu_relax() {
    // SAFETY: `yield` is a hint with no architectural side effects.
    unsafe { asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// Waits for an interrupt (also returns early on other wake-up events).
#[inline(always)]
pub fn wfi() {
    // SAFETY: `wfi` only suspends execution until a wake-up event.
    unsafe { asm!("wfi", options(nomem, nostack, preserves_flags)) };
}

/// Stops this CPU for good (interrupts masked).
pub fn park() -> ! {
    irq_disable();
    loop {
        wfi();
    }
}

/// MPIDR_EL1: this CPU's affinity.
pub fn mpidr() -> u64 {
    let v: u64;
    // SAFETY: reading an ID register has no side effects.
    unsafe { asm!("mrs {}, mpidr_el1", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// ESR_EL1: syndrome of the last exception taken to EL1.
pub fn esr_el1() -> u64 {
    let v: u64;
    // SAFETY: reading ESR_EL1 has no side effects.
    unsafe { asm!("mrs {}, esr_el1", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// FAR_EL1: faulting address of the last abort taken to EL1.
pub fn far_el1() -> u64 {
    let v: u64;
    // SAFETY: reading FAR_EL1 has no side effects.
    unsafe { asm!("mrs {}, far_el1", out(reg) v, options(nomem, nostack, preserves_flags)) };
    v
}

/// Unmasks IRQs (PSTATE.I = 0).
#[inline(always)]
pub fn irq_enable() {
    // SAFETY: unmasking IRQs is sound once the vectors are installed, which
    // the boot code does before any Rust code runs.
    unsafe { asm!("msr daifclr, #2", options(nomem, nostack, preserves_flags)) };
}

/// Masks IRQs (PSTATE.I = 1).
#[inline(always)]
pub fn irq_disable() {
    // SAFETY: masking IRQs only delays their delivery.
    unsafe { asm!("msr daifset, #2", options(nomem, nostack, preserves_flags)) };
}

/// Masks IRQs and returns the previous DAIF value for [`restore_daif`].
#[inline(always)]
pub fn save_and_mask_irqs() -> u64 {
    let daif: u64;
    // SAFETY: reads DAIF, then masks IRQs; no memory is touched.
    unsafe {
        asm!("mrs {}, daif", "msr daifset, #2", out(reg) daif, options(nomem, nostack, preserves_flags))
    };
    daif
}

/// Restores the interrupt mask saved by [`save_and_mask_irqs`].
#[inline(always)]
pub fn restore_daif(daif: u64) {
    // SAFETY: writes back a DAIF value read earlier on this CPU.
    unsafe { asm!("msr daif, {}", in(reg) daif, options(nomem, nostack, preserves_flags)) };
}

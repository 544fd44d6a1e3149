//! AArch64 EL2 implementation of the architecture seam: entry assembly,
//! vectors, system registers, barriers, cache and TLB maintenance.
//! All `unsafe` in the hypervisor that touches registers lives here.
//!
//! System registers go through `aarch64-cpu`'s typed accessors, with
//! their values composed from named fields in `regval`. The two macros
//! below remain for registers the crate does not provide (HSTR_EL2,
//! VPIDR_EL2, CTR_EL0, the GIC's ICC_* registers other than CTLR/SRE,
//! ICH_ELRSR_EL2, the PMU and some debug registers), and for the TLB and
//! cache maintenance code that is kept as it is. Each such use names its
//! bits with constants, never a bare number.
//!
//! The crate's accessors are `nomem` asm (our macros' writes are not), so
//! the compiler may move ordinary loads and stores across them. Where a
//! register write must be ordered against memory (VBAR/TPIDR_EL2,
//! VTTBR/HCR_EL2, ICH_HCR_EL2, the EL2 setup) an `isb()` follows, which is
//! a compiler barrier as well; list register, VMCR and EL1 syndrome writes
//! carry values only and need no such ordering.

mod boot;
pub mod consts;
mod debug_pmu;
pub mod device;
pub mod gicv3;
mod inject;
mod reset;
mod vectors;

pub use inject::inject_external_abort;
pub use reset::reset_el1;

use super::regval;
use aarch64_cpu::registers::*;
use core::arch::asm;

/// Reads a system register.
macro_rules! read_sysreg {
    ($name:ident) => {{
        let v: u64;
        // SAFETY: reading an EL2-accessible system register has no side effects.
        unsafe { core::arch::asm!(concat!("mrs {}, ", stringify!($name)), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

/// Writes a system register.
macro_rules! write_sysreg {
    ($name:ident, $val:expr) => {{
        let v: u64 = $val;
        // SAFETY: callers of this macro are the register-programming functions
        // of this module, each writing a value valid for the current state.
        unsafe { core::arch::asm!(concat!("msr ", stringify!($name), ", {}"), in(reg) v, options(nostack)) };
    }};
}
use {read_sysreg, write_sysreg};

/// Spin-wait hint that lets QEMU's icount scheduler run other vCPUs.
#[inline(always)]
pub fn cpu_relax() {
    // SAFETY: `yield` is a hint with no architectural side effects.
    unsafe { asm!("yield", options(nomem, nostack, preserves_flags)) };
}

/// Zeroes `[va, va + len)` of EL2 memory mapped as Normal memory, a
/// cache-line-sized block per `DC ZVA` instead of a store per word (the
/// .bss and every new page-table page are zeroed so; for the half-MiB .bss
/// that was a third of global init). `va` and `len` must be multiples of 64 bytes;
/// where DC ZVA is prohibited (DCZID_EL0.DZP) or its block is larger than
/// that alignment, plain stores do it.
///
/// # Safety
/// The range must be writable memory of the hypervisor that nothing else
/// references while it is zeroed.
pub unsafe fn zero_normal(va: u64, len: u64) {
    const ALIGN: u64 = 64;
    let dczid: u64 = read_sysreg!(DCZID_EL0);
    let block = 4u64 << (dczid & 0xf);
    if dczid & (1 << 4) != 0 || block > ALIGN || !va.is_multiple_of(ALIGN) || !len.is_multiple_of(ALIGN) {
        // SAFETY: the caller's contract.
        unsafe { core::ptr::write_bytes(va as *mut u8, 0, len as usize) };
        return;
    }
    let mut p = va;
    let end = va + len;
    while p < end {
        // DC ZVA zeroes the naturally aligned block holding `p`; `p`
        // advances by the block size from a block-aligned start to a
        // block-aligned end, and DC ZVA is ordered as a store, so the
        // caller's barrier publishes it.
        // SAFETY: the block zeroed lies inside the caller's range (above).
        unsafe { asm!("dc zva, {}", in(reg) p, options(nostack, preserves_flags)) };
        p += block;
    }
}

/// The physical counter (CNTPCT_EL0), for bounded waits.
#[inline(always)]
pub fn counter() -> u64 {
    read_sysreg!(cntpct_el0)
}

/// Ticks of [`counter`] per second (CNTFRQ_EL0, set by firmware or QEMU).
pub fn counter_freq() -> u64 {
    read_sysreg!(cntfrq_el0)
}

/// Polls `done` until it says true or `us` microseconds of counter time
/// have passed (a device that never answers must not hang EL2); whether
/// it became true.
pub fn poll_until(us: u64, mut done: impl FnMut() -> bool) -> bool {
    let end = counter().saturating_add(counter_freq().saturating_mul(us) / 1_000_000);
    loop {
        if done() {
            return true;
        }
        if counter() >= end {
            return false;
        }
        cpu_relax();
    }
}

/// Waits for an event (SEV) or interrupt.
#[inline(always)]
pub fn wait_for_event() {
    // SAFETY: `wfe` only suspends execution until an event.
    unsafe { asm!("wfe", options(nomem, nostack, preserves_flags)) };
}

/// Waits for an interrupt (WFI): any physical interrupt the CPU interface
/// signals ends it, masked at EL2 or not. Under QEMU's `-icount` a CPU in
/// WFI is skipped by the round-robin scheduler, where WFE (a yield in
/// QEMU) costs its loop's instructions on every round.
#[inline(always)]
pub fn wait_for_interrupt() {
    // SAFETY: `wfi` only suspends execution until an interrupt.
    unsafe { asm!("wfi", options(nomem, nostack, preserves_flags)) };
}

/// Signals an event to all CPUs after making prior stores visible.
#[inline(always)]
pub fn send_event() {
    // SAFETY: barrier and event hint, no memory effects beyond ordering.
    unsafe { asm!("dsb ish", "sev", options(nostack, preserves_flags)) };
}

/// This CPU's MPIDR_EL1.
pub fn mpidr() -> u64 {
    MPIDR_EL1.get()
}

/// Calls the firmware (PSCI) with SMC: returns x0.
pub fn smc_call(fid: u64, a1: u64, a2: u64, a3: u64) -> u64 {
    let mut x0 = fid;
    // SAFETY: an SMCCC call to firmware; it clobbers x0-x17 per SMCCC 1.0+
    // (we declare them) and does not touch our memory.
    unsafe {
        asm!("smc #0",
            inout("x0") x0, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
            out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
            out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _,
            out("x15") _, out("x16") _, out("x17") _, options(nostack));
    }
    x0
}

/// Ends the emulated machine through semihosting SYS_EXIT with `status`.
/// Only meaningful under QEMU with semihosting enabled (boot-first tests).
pub fn semihosting_exit(status: u32) -> ! {
    /// Semihosting operation SYS_EXIT and its reason ADP_Stopped_ApplicationExit.
    const SYS_EXIT: u32 = 0x18;
    const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: SYS_EXIT reads the two-word parameter block and stops QEMU; if
    // semihosting is off it traps as undefined, which our vectors report.
    unsafe { asm!("hlt #0xf000", in("w0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack)) };
    loop {
        wait_for_event();
    }
}

/// Parks this CPU for good.
pub fn halt() -> ! {
    loop {
        // SAFETY: `wfi` only suspends until an interrupt; EL2 has them masked.
        unsafe { asm!("wfi", options(nomem, nostack)) };
    }
}

extern "C" {
    fn __vm_return(frame: *mut u8) -> !;
    fn __switch_el2_table(root: u64);
    static __el2_vectors: u8;
}

/// Enters (or returns to) the guest context saved in `frame`, which must be
/// the frame at the top of this CPU's stack.
pub fn vm_return(frame: &mut crate::trap::TrapFrame) -> ! {
    // SAFETY: the frame is the one this CPU's vectors use; restoring it and
    // erets is exactly what the vector return path does.
    unsafe { __vm_return(frame as *mut _ as *mut u8) }
}

/// Switches TTBR0_EL2 to a table that maps everything currently in use.
pub fn switch_el2_table(root: u64) {
    // SAFETY: the caller built `root` with the same linear map as the boot
    // table for all code, data and stacks, so execution continues.
    unsafe { __switch_el2_table(root) }
}

/// Installs the runtime vectors and the per-CPU pointer.
pub fn install_vectors(percpu: u64) {
    let vbar = core::ptr::addr_of!(__el2_vectors) as u64;
    VBAR_EL2.set(vbar);
    TPIDR_EL2.set(percpu);
    isb();
}

/// This CPU's per-CPU pointer (TPIDR_EL2).
pub fn percpu_ptr() -> u64 {
    TPIDR_EL2.get()
}

/// Instruction synchronisation barrier.
#[inline(always)]
pub fn isb() {
    // SAFETY: barrier only.
    unsafe { asm!("isb", options(nostack, preserves_flags)) };
}

/// Full-system data synchronisation barrier.
#[inline(always)]
pub fn dsb_ish() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb ish", options(nostack, preserves_flags)) };
}

/// Full-system data synchronisation barrier, device accesses included:
/// orders a store before a later read of the GIC distributor, and makes
/// an acknowledgement's effect on an interrupt's state visible (GICv3
/// architecture, 4.1.1: the effects of reading ICC_IAR1_EL1 are not
/// guaranteed visible until after a DSB).
#[inline(always)]
pub fn dsb_sy() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb sy", options(nostack, preserves_flags)) };
}

/// Completes this CPU's earlier stores (inner shareable) before any later
/// one: publishing a zeroed table page to the table walkers.
pub fn dsb_ishst() {
    // SAFETY: barrier only.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
}

/// HCR_EL2 for a CPU running a cell (`regval::hcr_guest`).
pub fn hcr_guest(irqs: bool) -> u64 {
    regval::hcr_guest(irqs)
}

/// Switches this CPU's HCR_EL2 to direct interrupt delivery
/// (`regval::hcr_direct`), after [`activate_stage2`].
pub fn set_hcr_direct() {
    HCR_EL2.set(regval::hcr_direct());
    isb();
}

/// Whether physical IRQs go to EL1 on this CPU (HCR_EL2.IMO clear): a
/// CPU in direct interrupt delivery, seen from one of its traps.
#[inline(always)]
pub fn irqs_to_el1() -> bool {
    read_sysreg!(hcr_el2) & (1 << 4) == 0
}

/// Back to HCR_EL2 with IRQs and FIQs routed to EL2 (`regval::hcr_guest`)
/// when a CPU leaves direct mode, so its interrupt state and its routing
/// always agree.
pub fn set_hcr_trapped() {
    HCR_EL2.set(regval::hcr_guest(true));
    isb();
}

/// VTCR_EL2 for this CPU's physical address range (`regval::vtcr`).
pub fn vtcr() -> u64 {
    regval::vtcr(ID_AA64MMFR0_EL1.read(ID_AA64MMFR0_EL1::PARange))
}

/// Programs the per-CPU EL2 control registers for running a guest.
pub fn setup_cpu_for_guests() {
    VTCR_EL2.set(vtcr());
    // SVE and SME trapped, FP/SIMD not (`regval::CPTR_GUEST`).
    CPTR_EL2.set(regval::CPTR_GUEST);
    // No AArch32 CP15 register traps (the crate has no HSTR_EL2).
    write_sysreg!(hstr_el2, 0);
    CNTHCTL_EL2.set(regval::CNTHCTL_GUEST);
    CNTVOFF_EL2.set(0);
    // The crate has no VPIDR_EL2: EL1 reads the real MIDR.
    write_sysreg!(vpidr_el2, MIDR_EL1.get());
    VMPIDR_EL2.set(MPIDR_EL1.get());
    MDCR_EL2.set(debug_pmu::mdcr_el2());
    isb();
}

/// Makes `root` (with `vmid`) the current stage-2 table and sets HCR_EL2.
pub fn activate_stage2(root: u64, vmid: u16, irqs: bool) {
    VTTBR_EL2.set(regval::vttbr(root, vmid));
    HCR_EL2.set(hcr_guest(irqs));
    isb();
    // SAFETY: TLB invalidation of this VMID's stage 1+2 entries on this CPU.
    unsafe { asm!("tlbi vmalls12e1", "dsb nsh", "isb", options(nostack)) };
}

/// Points this CPU's stage 2 at `empty_root` (a table with no valid
/// entry), keeping its VMID, while the CPU is parked at EL2. A parked CPU
/// may be handed back to the root after its cell is destroyed and the
/// cell's tables freed; the architecture allows speculative walks of the
/// EL1&0 regime's tables while at EL2, and with VTTBR_EL2 still pointing
/// at a freed (possibly reused) page such a walk would read memory that
/// is no longer a table. The empty table ends every walk at its first
/// level. No TLB maintenance here: the VMID's old entries were
/// invalidated by whoever freed its tables, and the CPU invalidates its
/// VMID again when it activates a stage 2 to run a guest.
pub fn park_stage2(empty_root: u64) {
    let vmid = VTTBR_EL2.read(VTTBR_EL2::VMID) as u16;
    VTTBR_EL2.set(regval::vttbr(empty_root, vmid));
    isb();
}

/// Ranges up to this many pages are invalidated page by page; larger ones
/// by invalidating the whole VMID (or all EL2 entries), which is always
/// correct and cheaper than thousands of broadcast TLBIs.
const TLBI_PAGES_MAX: u64 = 64;

/// Break-before-make step 2 for stage 2 of `vmid`: invalidates every
/// stage-2 entry (all levels, walk caches included: the non-"L" form) for
/// `[ipa, ipa + size)` on all CPUs of the inner-shareable domain, then
/// the combined stage-1+2 entries of that VMID (TLBI VMALLE1IS: they may
/// cache an output address through the old stage-2 entry and cannot be
/// invalidated by IPA), and waits for completion.
///
/// Order: DSB ISHST first, so every walker observes the invalid entry the
/// caller wrote before the TLBI can complete (a walk after the TLBI must
/// not refetch the old entry); DSB ISH after the TLBIs, so they completed
/// on all CPUs before the caller writes the new entry or frees a table.
/// TLBI by IPA names the VMID through VTTBR_EL2, so VTTBR_EL2 is switched
/// to that VMID *with its own table* `root` for the duration (a
/// speculative walk meanwhile can then only cache the VMID's own
/// translations; EL2 runs with interrupts masked, so nothing else runs on
/// this CPU meanwhile) and restored.
pub fn tlbi_stage2(vmid: u16, root: u64, ipa: u64, size: u64) {
    let saved = VTTBR_EL2.get();
    // SAFETY: barrier only.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    VTTBR_EL2.set(regval::vttbr(root, vmid));
    isb();
    let pages = size.div_ceil(4096);
    if pages <= TLBI_PAGES_MAX {
        for p in 0..pages {
            let arg = ((ipa >> 12) + p) & ((1 << 36) - 1);
            // SAFETY: TLB maintenance only.
            unsafe { asm!("tlbi ipas2e1is, {}", in(reg) arg, options(nostack)) };
        }
        // SAFETY: TLB maintenance and barriers only.
        unsafe { asm!("dsb ish", "tlbi vmalle1is", "dsb ish", options(nostack)) };
    } else {
        // SAFETY: TLB maintenance and barriers only.
        unsafe { asm!("tlbi vmalls12e1is", "dsb ish", options(nostack)) };
    }
    VTTBR_EL2.set(saved);
    isb();
}

/// Break-before-make step 2 for the EL2 regime: TLBI VAE2IS per page (all
/// levels), or ALLE2IS for large ranges, between DSBs as in
/// [`tlbi_stage2`], then an ISB so this CPU's own later accesses use the
/// new state.
pub fn tlbi_el2(va: u64, size: u64) {
    let pages = size.div_ceil(4096);
    // SAFETY: barrier only.
    unsafe { asm!("dsb ishst", options(nostack, preserves_flags)) };
    if pages <= TLBI_PAGES_MAX {
        for p in 0..pages {
            let arg = ((va >> 12) + p) & ((1 << 44) - 1);
            // SAFETY: TLB maintenance only.
            unsafe { asm!("tlbi vae2is, {}", in(reg) arg, options(nostack)) };
        }
    } else {
        // SAFETY: TLB maintenance only.
        unsafe { asm!("tlbi alle2is", options(nostack)) };
    }
    // SAFETY: barriers only.
    unsafe { asm!("dsb ish", "isb", options(nostack)) };
}

/// Invalidates the whole instruction cache to the point of unification,
/// for all CPUs of the inner-shareable domain (IC IALLUIS), and waits.
/// Needed after code was written through a data mapping (a cell's image
/// loaded by the root) before any CPU may execute it: the I-cache is not
/// coherent with data writes and may hold stale lines of that memory
/// (the previous owner's code).
pub fn icache_inval_all() {
    // SAFETY: cache maintenance and barriers only.
    unsafe { asm!("dsb ish", "ic ialluis", "dsb ish", "isb", options(nostack)) };
}

/// Cleans and invalidates `[va, va + len)` to the point of coherency.
pub fn dcache_clean_inval(va: u64, len: u64) {
    let line = 4u64 << ((read_sysreg!(ctr_el0) >> 16) & 0xf);
    let mut p = va & !(line - 1);
    while p < va + len {
        // SAFETY: cache maintenance by VA on memory mapped at EL2.
        unsafe { asm!("dc civac, {}", in(reg) p, options(nostack)) };
        p += line;
    }
    dsb_ish();
}

/// The syndrome of the current trap (ESR_EL2).
#[inline(always)]
pub fn esr() -> u64 {
    ESR_EL2.get()
}

/// The fault address registers of the current trap: (FAR, HPFAR).
#[inline(always)]
pub fn far_hpfar() -> (u64, u64) {
    (FAR_EL2.get(), HPFAR_EL2.get())
}

/// Fault registers of the current trap: (ESR, FAR, HPFAR).
pub fn fault_regs() -> (u64, u64, u64) {
    (ESR_EL2.get(), FAR_EL2.get(), HPFAR_EL2.get())
}

/// SPSR for entering EL1h with DAIF masked.
pub const SPSR_EL1H_MASKED: u64 = regval::SPSR_EL1H_MASKED;

extern "C" {
    fn __el2_shutdown_phys(frame_phys: u64, stub_vectors: u64) -> !;
}

/// Leaves EL2 for good on this CPU: MMU and stage 2 off, VBAR_EL2 back to
/// Linux's hyp stub, and return to EL1 with the registers in `frame`.
/// `phys_virt_offset` converts the frame and trampoline addresses.
pub fn leave_to_stub(frame: &mut crate::trap::TrapFrame, stub_vectors: u64, phys_virt_offset: u64) -> ! {
    let frame_va = frame as *mut _ as u64;
    let func = __el2_shutdown_phys as *const () as u64;
    dcache_clean_inval(frame_va, consts::FRAME_SIZE as u64);
    let func_phys = func.wrapping_sub(phys_virt_offset);
    let frame_phys = frame_va.wrapping_sub(phys_virt_offset);
    // SAFETY: the trampoline page holding `__el2_shutdown_phys` is identity
    // mapped, so execution continues when the MMU goes off; the frame was
    // cleaned to PoC so the MMU-off loads see it.
    unsafe {
        asm!("br {f}", f = in(reg) func_phys, in("x0") frame_phys, in("x1") stub_vectors, options(noreturn));
    }
}

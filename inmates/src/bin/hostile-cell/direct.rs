//! Attacks on what a cell reaches of the GIC CPU interface, aimed at
//! direct delivery (docs/direct-delivery.md): there a cell writes
//! ICC_IAR1/EOIR1/HPPIR1/BPR1/IGRPEN1/AP1Rn physically, while
//! ICC_PMR/CTLR/DIR/RPR go to the virtual interface and the SGI
//! registers trap. Run in both modes: with trapped delivery every one of
//! these registers is virtual.
use super::attack_ids::*;
use super::mailbox::*;
use core::arch::asm;
use syshyper_inmates::gic::{self, Gic};
use syshyper_inmates::mmio::{read32, write32};
use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};

/// Root's UART SPI, and this cell's management-SGI and maintenance IDs.
const ROOT_SPI: u64 = 33;
const HV_SGI: u64 = 15;
const HV_PPI: u64 = 25;
/// ICC_AP1R0_EL1 bits of group priorities 0x10 and below (bit n is
/// priority n << 3 with 5 priority bits): everything a cell's own
/// interrupts can reach.
const CELL_ACTIVE_PRIORITIES: u64 = 0xffff_fffc;
/// Timer interrupts the clean-CPU check waits for.
pub const CLEAN_TIMER_ROUNDS: i64 = 3;

macro_rules! msr {
    ($reg:literal, $v:expr) => {
        // SAFETY: a GIC CPU-interface register of this CPU; the attack
        // checks that it reaches nothing outside this cell.
        unsafe { asm!(concat!("msr ", $reg, ", {}"), "isb", in(reg) ($v as u64), options(nomem, nostack)) }
    };
}

macro_rules! mrs {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: as in `msr!`; reads of this CPU's interface.
        unsafe { asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

/// Writes every CPU-interface register that could reach another CPU or
/// an interrupt the cell does not own, then stays running (IRQs
/// unmasked) so the root can destroy it: the management interrupt must
/// still get through the active priorities it set.
pub fn icc_writes(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    // The root acknowledges its SPI once this cell runs (so in the mode
    // this cell's existence selects) and says go; bounded, in case not.
    let end = timer::counter() + timer::frequency() * 5;
    while mb.read(GO) == 0 && timer::counter() < end {
        core::hint::spin_loop();
    }
    if let Some(gicc) = gicc_v2() {
        icc_writes_v2(mb, gicc);
    }
    msr!("s3_0_c4_c6_0", 0); // ICC_PMR_EL1: mask everything
    msr!("s3_0_c12_c12_4", 0); // ICC_CTLR_EL1: EOImode 0, CBPR 0
    msr!("s3_0_c12_c12_3", 7); // ICC_BPR1_EL1
    msr!("s3_0_c12_c9_0", CELL_ACTIVE_PRIORITIES); // ICC_AP1R0_EL1
    for intid in [ROOT_SPI, HV_SGI, HV_PPI] {
        msr!("s3_0_c12_c12_1", intid); // ICC_EOIR1_EL1
        msr!("s3_0_c12_c11_1", intid); // ICC_DIR_EL1
    }
    // SGIs to root CPU 0, victim CPU 2 and CPU 3, one broadcast (IRM),
    // through all three SGI registers, and the management SGI itself.
    for sgi in [1u64, HV_SGI] {
        let list = (sgi << 24) | 0b1101;
        msr!("s3_0_c12_c11_5", list); // ICC_SGI1R_EL1
        msr!("s3_0_c12_c11_5", (sgi << 24) | (1 << 40));
        msr!("s3_0_c12_c11_6", list); // ICC_ASGI1R_EL1
        msr!("s3_0_c12_c11_7", list); // ICC_SGI0R_EL1
        msr!("s3_0_c12_c11_7", (sgi << 24) | (1 << 40));
    }
    msr!("s3_0_c12_c12_7", 0); // ICC_IGRPEN1_EL1: this CPU's group 1 off
    mb.set_result(0, mrs!("s3_0_c12_c9_0") as i64); // what AP1R0 holds now
    mb.write(STAGE, STAGE_SURVIVED);
    // SAFETY: unmasks this CPU's interrupts only.
    unsafe { asm!("msr daifclr, #0xf", options(nomem, nostack)) };
    loop {
        core::hint::spin_loop();
    }
}

/// [`icc_writes`] on a GICv2: the same writes to the cell's GICV page,
/// the SGIs through GICD_SGIR (to root CPU 0, the victim's CPU 2 and
/// CPU 3; and every other CPU), then the same spin.
fn icc_writes_v2(mb: Mailbox, gicc: usize) -> ! {
    write32(gicc + GICC_PMR, 0);
    write32(gicc + GICC_CTLR, 0x200); // EOImode 1, both groups off below
    write32(gicc + GICC_BPR, 7);
    write32(gicc + GICC_APR0, CELL_ACTIVE_PRIORITIES as u32);
    for intid in [ROOT_SPI, HV_SGI, HV_PPI] {
        write32(gicc + GICC_EOIR, intid as u32);
        write32(gicc + GICC_DIR, intid as u32);
    }
    for sgi in [1u32, HV_SGI as u32] {
        write32(GICD_BASE as usize + GICD_SGIR, (0b1101 << 16) | sgi);
        write32(GICD_BASE as usize + GICD_SGIR, (1 << 24) | sgi);
    }
    write32(gicc + GICC_CTLR, 0); // this CPU's interface off
    mb.set_result(0, i64::from(read32(gicc + GICC_APR0)));
    mb.write(STAGE, STAGE_SURVIVED);
    // SAFETY: unmasks this CPU's interrupts only.
    unsafe { asm!("msr daifclr, #0xf", options(nomem, nostack)) };
    loop {
        core::hint::spin_loop();
    }
}

/// GICv2 CPU interface registers (the cell's GICV page) and GICD_SGIR.
const GICC_CTLR: usize = 0x00;
const GICC_PMR: usize = 0x04;
const GICC_BPR: usize = 0x08;
const GICC_EOIR: usize = 0x10;
const GICC_APR0: usize = 0xd0;
const GICC_DIR: usize = 0x1000;
const GICD_SGIR: usize = 0xf00;

/// The cell's GICC address when its GIC is a GICv2 (comm region).
fn gicc_v2() -> Option<usize> {
    syshyper_inmates::cell::comm_region()
        .filter(|c| c.gic_version() == 2 && c.gicc_base() != 0)
        .map(|c| c.gicc_base() as usize)
}

/// Group 1 (GICv3) or the interface (GICv2) on for this CPU, so that its
/// timer interrupt can be acknowledged.
fn enable_interface() {
    if gic::is_v2() {
        // Gic::init enabled the GICV interface already.
        return;
    }
    msr!("s3_0_c12_c12_7", 1); // ICC_IGRPEN1_EL1
}

/// Sets the active priorities the cell's own interrupts can reach.
fn set_active_priorities() {
    match gic::cpu_interface() {
        Some(gicc) => write32(gicc + GICC_APR0, CELL_ACTIVE_PRIORITIES as u32),
        None => msr!("s3_0_c12_c9_0", CELL_ACTIVE_PRIORITIES), // ICC_AP1R0_EL1
    }
}

/// Leaves its timer interrupt acknowledged and never ended (active, and
/// pending again as the timer stays asserted), with active priorities
/// set, then spins: whoever gets this CPU next must find it clean.
pub fn leave_active(mb: Mailbox) {
    let Some(gic) = own_gic() else {
        mb.set_result(0, -1);
        mb.write(STAGE, STAGE_SURVIVED);
        return;
    };
    gic.enable_private(VIRT_TIMER_INTID);
    enable_interface();
    timer::set_timeout(1);
    mb.write(STAGE, STAGE_ATTEMPTED);
    let got = wait_ack(1_000_000);
    set_active_priorities();
    mb.set_result(0, got);
    mb.write(STAGE, STAGE_SURVIVED);
    loop {
        core::hint::spin_loop();
    }
}

/// Sets every Group-1 active priority, 0x00 included (the management
/// interrupt's own priority: in direct mode it preempts nothing any
/// more, and ICC_AP1R0_EL1 cannot be trapped alone), then spins with
/// interrupts unmasked, or (`wfi`) sleeps in WFI with them masked. The
/// root must still destroy the cell and get its CPU back clean.
/// On a GICv2 the same bits go to GICC_APR0 of the cell's GICV page.
pub fn ap1r_block(mb: Mailbox, wfi: bool) {
    match gicc_v2() {
        Some(gicc) => {
            write32(gicc + GICC_APR0, 0xffff_ffff);
            mb.set_result(0, i64::from(read32(gicc + GICC_APR0)));
        }
        None => {
            msr!("s3_0_c12_c9_0", 0xffff_ffffu64); // ICC_AP1R0_EL1
            mb.set_result(0, mrs!("s3_0_c12_c9_0") as i64);
        }
    }
    mb.write(STAGE, STAGE_SURVIVED);
    if wfi {
        loop {
            // SAFETY: masks this CPU's interrupts and waits; nothing else.
            unsafe { asm!("msr daifset, #0xf", "wfi", options(nomem, nostack)) };
        }
    }
    // SAFETY: unmasks this CPU's interrupts only.
    unsafe { asm!("msr daifclr, #0xf", options(nomem, nostack)) };
    loop {
        core::hint::spin_loop();
    }
}

/// On the CPU a `leave_active` cell had: the timer interrupt must come
/// [`CLEAN_TIMER_ROUNDS`] times (acknowledged by polling, IRQs masked).
pub fn clean_timer(mb: Mailbox) {
    let Some(gic) = own_gic() else {
        mb.set_result(0, -1);
        mb.write(STAGE, STAGE_SURVIVED);
        return;
    };
    mb.write(STAGE, STAGE_ATTEMPTED);
    gic.enable_private(VIRT_TIMER_INTID);
    match gic::cpu_interface() {
        Some(gicc) => write32(gicc + GICC_PMR, 0xff),
        None => msr!("s3_0_c4_c6_0", 0xff), // ICC_PMR_EL1
    }
    enable_interface();
    let mut rounds = 0;
    for _ in 0..CLEAN_TIMER_ROUNDS {
        timer::set_timeout(100);
        if wait_ack(1_000_000) == i64::from(VIRT_TIMER_INTID) {
            timer::stop();
            gic::end_of_interrupt(VIRT_TIMER_INTID); // ICC_EOIR1_EL1 or GICC_EOIR
            rounds += 1;
        }
    }
    mb.set_result(0, rounds);
    mb.write(STAGE, STAGE_SURVIVED);
}

/// Polls ICC_IAR1_EL1 (GICv2: GICC_IAR) with IRQs masked until an
/// interrupt comes: its INTID, or -1 after `polls` tries.
fn wait_ack(polls: u32) -> i64 {
    for _ in 0..polls {
        let intid = u64::from(gic::acknowledge());
        if intid < 1020 {
            return intid as i64;
        }
        core::hint::spin_loop();
    }
    -1
}

fn own_gic() -> Option<Gic> {
    // SAFETY: QEMU virt's GIC (the hostile config's platform; on a GICv2
    // Gic::new finds it and takes the GICC address from the comm region);
    // every distributor access is trapped and emulated for this cell.
    let gic = unsafe { Gic::new(GICD_BASE as usize, GICR_BASE as usize) }.ok()?;
    gic.init(false);
    Some(gic)
}

//! The attacks a hostile cell runs. Each writes STAGE_ATTEMPTED right before
//! the forbidden access, so the root can tell "refused" from "never tried";
//! attacks the hypervisor must answer (not punish) store the answers in the
//! result words and finish with STAGE_SURVIVED.
use super::attack_ids::*;
use super::mailbox::*;
use super::stage1;
use core::arch::asm;
use syshyper_inmates::hvc::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, AFFINITY_INFO, CPU_ON, SYSTEM_OFF, SYSTEM_RESET};
use syshyper_inmates::smccc::smc;
use syshyper_inmates::{cpu, psci};

pub fn run(mb: Mailbox, attack: u64) {
    mb.write(STAGE, STAGE_BOOTED);
    match attack {
        IDLE => idle(),
        READ_ROOT_RAM => read(mb, ROOT_TARGET),
        WRITE_ROOT_RAM => write(mb, ROOT_TARGET),
        READ_VICTIM_RAM => read(mb, VICTIM_TARGET),
        WRITE_VICTIM_RAM => write(mb, VICTIM_TARGET),
        READ_HV_MEM => read(mb, HV_TARGET),
        WRITE_HV_MEM => write(mb, HV_TARGET),
        GICR_FOREIGN_FRAME => gicr_foreign_frame(mb),
        GICD_FOREIGN_SPI => gicd_foreign_spi(mb),
        GIC_ITS_PAGE => read(mb, GITS_BASE),
        UART_NOT_SHARED => write(mb, UART_BASE),
        STAGE1_TO_HV => stage1::to_hypervisor(mb),
        STAGE1_WALK_IN_GIC => stage1::walk_in_gic(mb),
        PSCI_CPU_ON_FOREIGN => cpu_on_foreign(mb),
        PSCI_CPU_OFF_LAST => cpu_off_last(mb),
        UNKNOWN_SMC => unknown_smc(mb),
        ROOT_ONLY_HYPERCALLS => root_only_hypercalls(mb),
        TRAPPED_SYSREGS => trapped_sysregs(mb),
        SGI_FLOOD => sgi_flood(mb),
        MASKED_ENDLESS_LOOP => masked_endless_loop(mb),
        FOREIGN_HVC_IMM => foreign_hvc(mb),
        PSCI_SYSTEM_OFF => system_off(mb),
        PSCI_SYSTEM_RESET => system_reset(mb),
        ICC_WRITES => super::direct::icc_writes(mb),
        LEAVE_ACTIVE => super::direct::leave_active(mb),
        CLEAN_TIMER => super::direct::clean_timer(mb),
        AP1R_BLOCK_SPIN => super::direct::ap1r_block(mb, false),
        AP1R_BLOCK_WFI => super::direct::ap1r_block(mb, true),
        _ => {}
    }
}

/// Waits to be destroyed.
fn idle() {
    loop {
        cpu::wfi();
    }
}

fn read(mb: Mailbox, addr: u64) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    // SAFETY: deliberately reads an address this cell does not own; the
    // hypervisor must stop the CPU before the load completes.
    let v = unsafe { (addr as *const u32).read_volatile() };
    mb.set_result(0, i64::from(v));
    mb.write(STAGE, STAGE_SURVIVED);
}

fn write(mb: Mailbox, addr: u64) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    // SAFETY: deliberately writes an address this cell does not own; the
    // hypervisor must stop the CPU before the store lands.
    unsafe { (addr as *mut u32).write_volatile(0xdead_beef) };
    mb.write(STAGE, STAGE_SURVIVED);
}

fn mmio_read(addr: u64) -> u32 {
    // SAFETY: GIC registers, trapped and emulated by the hypervisor for
    // every cell; the attack checks what the emulation lets through.
    unsafe { (addr as *const u32).read_volatile() }
}

fn mmio_write(addr: u64, v: u32) {
    // SAFETY: as in `mmio_read`.
    unsafe { (addr as *mut u32).write_volatile(v) }
}

/// Root CPU 0's redistributor: SGI/PPI enables and pending bits must read
/// as 0 and writes must be dropped.
fn gicr_foreign_frame(mb: Mailbox) {
    if gic_v2() {
        return hv_banked_v2(mb);
    }
    let sgi_base = GICR_BASE + 0x1_0000;
    mb.write(STAGE, STAGE_ATTEMPTED);
    mmio_write(sgi_base + 0x100, 0xffff_ffff); // ISENABLER0
    mmio_write(sgi_base + 0x200, 0xffff_ffff); // ISPENDR0
    mmio_write(GICR_BASE + 0x14, 0x2); // WAKER: ProcessorSleep
    mb.set_result(0, i64::from(mmio_read(sgi_base + 0x100)));
    mb.set_result(1, i64::from(mmio_read(sgi_base + 0x200)));
    mb.set_result(2, i64::from(mmio_read(GICR_BASE + 0x14)));
    mb.write(STAGE, STAGE_SURVIVED);
}

/// SPI 33 (root's UART): enable, pend, route to this CPU; reads must hide it.
fn gicd_foreign_spi(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    mmio_write(GICD_BASE + 0x184, 1 << 1); // ICENABLER1: disable INTID 33
    mmio_write(GICD_BASE + 0x204, 1 << 1); // ISPENDR1
                                           if gic_v2() {
        // SAFETY: ITARGETSR byte of 33, trapped like every GICD register:
        // all eight CPU interfaces.
        unsafe { ((GICD_BASE + 0x800 + 33) as *mut u8).write_volatile(0xff) };
    } else {
        // SAFETY: IROUTER33, trapped like every GICD register.
        unsafe {
            ((GICD_BASE + 0x6000 + 33 * 8) as *mut u64).write_volatile(cpu::mpidr() & 0xff_00ff_ffff)
        };
    }
    mmio_write(GICD_BASE, 0); // CTLR: try to switch the distributor off
    mb.set_result(0, i64::from(mmio_read(GICD_BASE + 0x104))); // ISENABLER1
    mb.set_result(1, i64::from(mmio_read(GICD_BASE + 0x204)));
    mb.write(STAGE, STAGE_SURVIVED);
}

fn cpu_on_foreign(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    for (i, target) in [0u64, 2, 3].into_iter().enumerate() {
        // Entry 0: this cell's image start, in case the call were obeyed.
        mb.set_result(i, smc(CPU_ON, qemu_virt_mpidr(target), 0, 0));
    }
    mb.set_result(3, smc(AFFINITY_INFO, qemu_virt_mpidr(0), 0, 0));
    mb.write(STAGE, STAGE_SURVIVED);
}

fn cpu_off_last(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    let r = psci::cpu_off();
    mb.set_result(0, r);
    mb.write(STAGE, STAGE_RETURNED);
}

/// Function ids no one implements: PSCI range, SiP, OEM, vendor hypervisor,
/// trusted OS, all-ones, zero.
pub const UNKNOWN_SMC_IDS: [u32; 7] = [
    0x8400_00ff,
    0xc200_0001,
    0x8300_0000,
    0xc600_0000,
    0xbf00_ffff,
    0xffff_ffff,
    0,
];

fn unknown_smc(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    for (i, id) in UNKNOWN_SMC_IDS.into_iter().enumerate() {
        mb.set_result(i, smc(id, 1, 2, 3));
    }
    mb.write(STAGE, STAGE_SURVIVED);
}

fn root_only_hypercalls(mb: Mailbox) {
    let victim = mb.read(ARG);
    mb.write(STAGE, STAGE_ATTEMPTED);
    let calls: [(u64, u64, u64); 11] = [
        (HC_CELL_CREATE, 0x7f00_0000, 0),
        (HC_CELL_START, victim, 0),
        (HC_CELL_SET_LOADABLE, victim, 0),
        (HC_CELL_DESTROY, victim, 0),
        (HC_CELL_GET_STATE, victim, 0),
        (HC_DISABLE, 0, 0),
        (HC_DEBUG_CONSOLE_PUTC, u64::from(b'!'), 0),
        (HC_CPU_GET_INFO, 0, CPU_INFO_STATE),
        (HC_CELL_DESTROY, 0, 0),
        // sysHyper's trace reads (root only): CPU 0 is the root's.
        (SH_HC_CPU_RECORD, 0, 0),
        (SH_HC_CPU_LATENCY, 0, 0),
    ];
    for (i, (code, a1, a2)) in calls.into_iter().enumerate() {
        mb.set_result(i, hvc(code, a1, a2));
    }
    mb.write(STAGE, STAGE_SURVIVED);
}

fn write_sgi1r(v: u64) {
    // SAFETY: ICC_SGI1R_EL1 writes trap to the hypervisor (HCR_EL2.IMO),
    // which emulates them for this cell's CPUs only.
    unsafe { asm!("msr s3_0_c12_c11_5, {}", in(reg) v, options(nomem, nostack)) };
}

/// SGI1R value: `sgi` to the Aff0 list `targets` in cluster 0, or to all
/// other CPUs with `broadcast` (IRM).
fn sgi1r(sgi: u64, targets: u64, broadcast: bool) -> u64 {
    (sgi << 24) | (targets & 0xffff) | (u64::from(broadcast) << 40)
}

fn trapped_sysregs(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    // SAFETY: set/way maintenance by set 0 way 0 level 1 is trapped
    // (HCR_EL2.TSW) and must be skipped; it touches no memory of ours.
    unsafe {
        asm!(
            "dc cisw, xzr",
            "dc isw, xzr",
            "dc csw, xzr",
            options(nostack)
        )
    };
    if gic_v2() {
        // No SGI system registers on GICv2 (they are UNDEFINED): the same
        // SGIs through GICD_SGIR, trapped and filtered to this cell.
        mmio_write(GICD_BASE + 0xf00, (1 << 16) | 1); // root CPU 0
        mmio_write(GICD_BASE + 0xf00, (1 << 18) | 2); // the victim's CPU 2
        mmio_write(GICD_BASE + 0xf00, (1 << 24) | 15); // management SGI, all others
        mmio_write(GICD_BASE + 0xf00, (0xd << 16) | 3);
        mb.write(STAGE, STAGE_SURVIVED);
        return;
    }
    write_sgi1r(sgi1r(1, 1 << 0, false)); // root CPU 0
    write_sgi1r(sgi1r(2, 1 << 2, false)); // the victim's CPU 2
    write_sgi1r(sgi1r(15, 0, true)); // the hypervisor's management SGI, everyone
    let asgi = sgi1r(3, 0xd, false);
    // SAFETY: ICC_ASGI1R_EL1 and ICC_SGI0R_EL1 trap like ICC_SGI1R_EL1.
    unsafe {
        asm!("msr s3_0_c12_c11_6, {0}", "msr s3_0_c12_c11_7, {0}", in(reg) asgi, options(nomem, nostack))
    };
    mb.write(STAGE, STAGE_SURVIVED);
}

fn sgi_flood(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    for i in 0..SGI_FLOOD_COUNT {
        if gic_v2() {
            // GICD_SGIR: every interface but 1 (this cell's CPU), then
            // all but self.
            let sgi = (i % 16) as u32;
            mmio_write(GICD_BASE + 0xf00, (0xfd << 16) | sgi);
            mmio_write(GICD_BASE + 0xf00, (1 << 24) | sgi);
            mb.set_result(0, i as i64 + 1);
            continue;
        }
        write_sgi1r(sgi1r(i % 16, 0xffff & !(1 << 1), false));
        write_sgi1r(sgi1r(i % 16, 0, true));
        mb.set_result(0, i as i64 + 1);
    }
    mb.write(STAGE, STAGE_SURVIVED);
}

fn masked_endless_loop(mb: Mailbox) {
    cpu::irq_disable();
    // SAFETY: masking FIQ, SError and debug too; only affects this CPU.
    unsafe { asm!("msr daifset, #0xf", options(nomem, nostack)) };
    mb.write(STAGE, STAGE_ATTEMPTED);
    // SAFETY: a branch to itself: the CPU spins until the hypervisor takes
    // it away (physical interrupts go to EL2 whatever PSTATE.I says).
    unsafe { asm!("2: b 2b", options(nomem, nostack, noreturn)) }
}

fn foreign_hvc(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    // SAFETY: an HVC the hypervisor must refuse; touches no memory.
    unsafe { asm!("hvc #1", options(nomem, nostack)) };
    mb.write(STAGE, STAGE_RETURNED);
}

fn system_off(mb: Mailbox) {
    mb.write(STAGE, STAGE_ATTEMPTED);
    let r = smc(SYSTEM_OFF, 0, 0, 0);
    mb.set_result(0, r);
    mb.write(STAGE, STAGE_RETURNED);
}

/// Resets its own cell twice: each restart runs from the reset address
/// again (the mailbox page keeps the count); the third boot reports.
fn system_reset(mb: Mailbox) {
    let boots = mb.result(1) + 1;
    mb.set_result(1, boots);
    if boots < 3 {
        mb.write(STAGE, STAGE_ATTEMPTED);
        smc(SYSTEM_RESET, 0, 0, 0);
        mb.write(STAGE, STAGE_RETURNED);
        return;
    }
    mb.set_result(0, boots);
    mb.write(STAGE, STAGE_SURVIVED);
}

/// Whether the machine's GIC is a GICv2 (the comm region says so).
fn gic_v2() -> bool {
    syshyper_inmates::cell::comm_region().is_some_and(|c| c.gic_version() == 2)
}

/// GICv2 has no redistributor frames: the banked interrupts are GICD's,
/// and the hypervisor's own two (management SGI 15, maintenance PPI 25)
/// are what a cell must not reach. Disable and pend them, then read
/// their enable and pending bits and GICD_SGIR: all must read 0.
fn hv_banked_v2(mb: Mailbox) {
    const HV: u32 = (1 << 15) | (1 << 25);
    mb.write(STAGE, STAGE_ATTEMPTED);
    mmio_write(GICD_BASE + 0x180, HV); // ICENABLER0
    mmio_write(GICD_BASE + 0x200, HV); // ISPENDR0
    mmio_write(GICD_BASE + 0x380, HV); // ICACTIVER0
    mb.set_result(0, i64::from(mmio_read(GICD_BASE + 0x100) & HV));
    mb.set_result(1, i64::from(mmio_read(GICD_BASE + 0x200) & HV));
    mb.set_result(2, i64::from(mmio_read(GICD_BASE + 0xf00)));
    mb.write(STAGE, STAGE_SURVIVED);
}

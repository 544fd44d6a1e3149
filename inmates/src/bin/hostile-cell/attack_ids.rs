//! Attack numbers the root writes into a hostile cell's mailbox ROLE word.
//! Shared by path with `isolation-root`.
#![allow(dead_code)]

/// Boots, reports STAGE_BOOTED and waits (lifecycle cycles, wrong-state tests).
pub const IDLE: u64 = 1;
pub const READ_ROOT_RAM: u64 = 2;
pub const WRITE_ROOT_RAM: u64 = 3;
pub const READ_VICTIM_RAM: u64 = 4;
pub const WRITE_VICTIM_RAM: u64 = 5;
pub const READ_HV_MEM: u64 = 6;
pub const WRITE_HV_MEM: u64 = 7;
/// Reads and writes the redistributor frame of root CPU 0.
pub const GICR_FOREIGN_FRAME: u64 = 8;
/// Enables, pends and routes SPI 33 (the root's UART interrupt).
pub const GICD_FOREIGN_SPI: u64 = 9;
/// The GIC ITS page (never granted, not emulated).
pub const GIC_ITS_PAGE: u64 = 10;
/// The PL011, which the hostile config does not share.
pub const UART_NOT_SHARED: u64 = 11;
/// Stage-1 block mapping VA 0xc000_0000 -> root RAM, then a hypervisor address.
pub const STAGE1_TO_HV: u64 = 12;
/// Stage-1 tables (TTBR1) placed on the emulated GICD page.
pub const STAGE1_WALK_IN_GIC: u64 = 13;
pub const PSCI_CPU_ON_FOREIGN: u64 = 14;
pub const PSCI_CPU_OFF_LAST: u64 = 15;
pub const UNKNOWN_SMC: u64 = 16;
pub const ROOT_ONLY_HYPERCALLS: u64 = 17;
pub const TRAPPED_SYSREGS: u64 = 18;
pub const SGI_FLOOD: u64 = 19;
pub const MASKED_ENDLESS_LOOP: u64 = 20;
pub const FOREIGN_HVC_IMM: u64 = 21;
pub const PSCI_SYSTEM_OFF: u64 = 22;
pub const PSCI_SYSTEM_RESET: u64 = 23;
/// GIC CPU-interface registers that would reach other CPUs or interrupts
/// the cell does not own (ICC_PMR/CTLR/BPR1/AP1R0/EOIR1/DIR/SGI*R/IGRPEN1).
pub const ICC_WRITES: u64 = 24;
/// Leaves its timer interrupt active and pending and active priorities set.
pub const LEAVE_ACTIVE: u64 = 25;
/// On the CPU a LEAVE_ACTIVE cell had: its timer interrupt must arrive.
pub const CLEAN_TIMER: u64 = 26;
/// Sets every bit of ICC_AP1R0_EL1 (active priority 0x00, the
/// hypervisor's own) and spins: no interrupt preempts it any more.
pub const AP1R_BLOCK_SPIN: u64 = 27;
/// The same, then sleeps in WFI with IRQs masked.
pub const AP1R_BLOCK_WFI: u64 = 28;

/// Addresses the attacks aim at (root-physical = what the root sees).
pub const ROOT_TARGET: u64 = 0x5000_0000;
pub const VICTIM_TARGET: u64 = 0x7f10_0000;
pub const HV_TARGET: u64 = 0x7fc0_0000;
pub const GICD_BASE: u64 = 0x0800_0000;
pub const GICR_BASE: u64 = 0x080a_0000;
pub const GITS_BASE: u64 = 0x0808_0000;
pub const UART_BASE: u64 = 0x0900_0000;

/// Number of SGIs the flood sends per kind.
pub const SGI_FLOOD_COUNT: u64 = 50_000;

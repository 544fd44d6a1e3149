//! SMMUv3 register offsets and fields used by the driver (ARM IHI 0070,
//! chapter 6). Offsets are from the SMMU's base; page 1 (base + 64 KiB)
//! holds the event queue's producer and consumer indexes.

pub const IDR0: usize = 0x00;
pub const IDR1: usize = 0x04;
pub const IDR5: usize = 0x14;
pub const CR0: usize = 0x20;
pub const CR0ACK: usize = 0x24;
pub const CR1: usize = 0x28;
pub const CR2: usize = 0x2c;
pub const GBPA: usize = 0x44;
pub const IRQ_CTRL: usize = 0x50;
pub const IRQ_CTRLACK: usize = 0x54;
pub const GERROR: usize = 0x60;
pub const GERRORN: usize = 0x64;
pub const STRTAB_BASE: usize = 0x80;
pub const STRTAB_BASE_CFG: usize = 0x88;
pub const CMDQ_BASE: usize = 0x90;
pub const CMDQ_PROD: usize = 0x98;
pub const CMDQ_CONS: usize = 0x9c;
pub const EVENTQ_BASE: usize = 0xa0;
pub const EVENTQ_PROD: usize = 0x1_00a8;
pub const EVENTQ_CONS: usize = 0x1_00ac;
/// The register frame the driver touches (pages 0 and 1).
pub const FRAME_SIZE: u64 = 0x2_0000;

// IDR0
pub const IDR0_S2P: u32 = 1 << 0;
pub const IDR0_S1P: u32 = 1 << 1;
/// TTF: 2 = AArch64 tables, 3 = AArch32 and AArch64.
pub const fn idr0_ttf(v: u32) -> u32 {
    (v >> 2) & 3
}
pub const IDR0_COHACC: u32 = 1 << 4;
pub const IDR0_VMID16: u32 = 1 << 18;
/// ST_LEVEL: 0 linear only, 1 two-level supported.
pub const fn idr0_st_level(v: u32) -> u32 {
    (v >> 27) & 3
}
// IDR1
pub const fn idr1_sidsize(v: u32) -> u32 {
    v & 0x3f
}
pub const fn idr1_eventqs(v: u32) -> u32 {
    (v >> 16) & 0x1f
}
pub const fn idr1_cmdqs(v: u32) -> u32 {
    (v >> 21) & 0x1f
}
// IDR5
pub const fn idr5_oas(v: u32) -> u32 {
    v & 7
}
pub const IDR5_GRAN4K: u32 = 1 << 4;

// CR0 / CR0ACK
pub const CR0_SMMUEN: u32 = 1 << 0;
pub const CR0_EVENTQEN: u32 = 1 << 2;
pub const CR0_CMDQEN: u32 = 1 << 3;
// CR1: queues and tables inner-shareable, write-back cacheable (the
// driver requires a coherent SMMU, IDR0.COHACC).
pub const CR1_WB_ISH: u32 = (1 << 0) | (1 << 2) | (3 << 4) | (1 << 6) | (1 << 8) | (3 << 10);
// CR2: record invalid stream ids (C_BAD_STREAMID events).
pub const CR2_RECINVSID: u32 = 1 << 1;
// GBPA
pub const GBPA_UPDATE: u32 = 1 << 31;
pub const GBPA_ABORT: u32 = 1 << 20;
// IRQ_CTRL
pub const IRQ_GERROR: u32 = 1 << 0;
pub const IRQ_EVENTQ: u32 = 1 << 2;
// GERROR
pub const GERROR_CMDQ_ERR: u32 = 1 << 0;
// CMDQ_CONS.ERR
pub const fn cons_err(v: u32) -> u32 {
    (v >> 24) & 0x7f
}
/// Read/write-allocate hint in the queue and stream-table base registers.
pub const BASE_RA: u64 = 1 << 62;
pub const STRTAB_FMT_2LVL: u32 = 1 << 16;
/// Split of the two-level stream table: 2^6 STEs (one 4 KiB page) per
/// level-2 table.
pub const STRTAB_SPLIT: u32 = 6;

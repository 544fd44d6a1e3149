//! Flag bits and fixed values of revision 14, with the names the TOML
//! format uses for them.
//!
//! Every value is the one Jailhouse's `include/jailhouse/cell-config.h` and
//! `console.h` define (the revision that introduced the architecture byte and
//! the five-letter signatures); `tests/corpus.rs` pins each of them.

/// Page granule used for alignment rules.
pub const PAGE_SIZE: u64 = 0x1000;

/// The only revision this crate reads and writes.
pub const REVISION: u16 = 14;
/// Architecture byte for x86 (read only to name it in errors).
pub const ARCH_X86: u8 = 0;
/// Architecture byte for 32-bit arm.
pub const ARCH_ARM: u8 = 1;
/// Architecture byte for arm64, the only one this crate accepts.
pub const ARCH_ARM64: u8 = 2;
/// Longest cell name without its NUL.
pub const CELL_NAME_MAXLEN: usize = 31;
/// System configuration signature.
pub const SYSTEM_SIGNATURE: [u8; 5] = *b"JHSYS";
/// Cell configuration signature.
pub const CELL_SIGNATURE: [u8; 5] = *b"JHCLL";

/// Memory region flags.
pub mod mem {
    pub const READ: u64 = 0x1;
    pub const WRITE: u64 = 0x2;
    pub const EXECUTE: u64 = 0x4;
    pub const DMA: u64 = 0x8;
    pub const IO: u64 = 0x10;
    pub const COMM_REGION: u64 = 0x20;
    pub const LOADABLE: u64 = 0x40;
    pub const ROOTSHARED: u64 = 0x80;
    pub const NO_HUGEPAGES: u64 = 0x100;
    pub const IO_UNALIGNED: u64 = 0x8000;
    /// Access widths a sub-page region allows live in bits 16..19.
    pub const IO_WIDTH_SHIFT: u32 = 16;
    pub const IO_8: u64 = 0x1_0000;
    pub const IO_16: u64 = 0x2_0000;
    pub const IO_32: u64 = 0x4_0000;
    pub const IO_64: u64 = 0x8_0000;
    /// Names in the order `config show` prints them.
    pub const NAMES: &[(&str, u64)] = &[
        ("read", READ),
        ("write", WRITE),
        ("execute", EXECUTE),
        ("dma", DMA),
        ("io", IO),
        ("comm_region", COMM_REGION),
        ("loadable", LOADABLE),
        ("rootshared", ROOTSHARED),
        ("no_hugepages", NO_HUGEPAGES),
        ("io_unaligned", IO_UNALIGNED),
        ("io_8", IO_8),
        ("io_16", IO_16),
        ("io_32", IO_32),
        ("io_64", IO_64),
    ];
    pub const KNOWN: u64 = super::known(NAMES);
}

/// Cell descriptor flags.
pub mod cell {
    pub const PASSIVE_COMMREG: u32 = 0x1;
    pub const TEST_DEVICE: u32 = 0x2;
    pub const AARCH32: u32 = 0x4;
    /// sysHyper extension (not a Jailhouse flag; Jailhouse's hypervisor
    /// does not look at this bit): the cell's own interrupts are delivered
    /// by the GIC straight to its CPUs at EL1 (docs/direct-delivery.md).
    /// Bit 24, far from both ends Jailhouse allocates from.
    pub const DIRECT_IRQS: u32 = 0x0100_0000;
    pub const VCONSOLE_PERMITTED: u32 = 0x4000_0000;
    pub const VCONSOLE_ACTIVE: u32 = 0x8000_0000;
    pub const NAMES: &[(&str, u64)] = &[
        ("passive_commreg", PASSIVE_COMMREG as u64),
        ("test_device", TEST_DEVICE as u64),
        ("aarch32", AARCH32 as u64),
        ("direct_irqs", DIRECT_IRQS as u64),
        ("vconsole_permitted", VCONSOLE_PERMITTED as u64),
        ("vconsole_active", VCONSOLE_ACTIVE as u64),
    ];
    pub const KNOWN: u32 = super::known(NAMES) as u32;
}

/// System descriptor flags.
pub mod system {
    pub const VIRTUAL_DEBUG_CONSOLE: u32 = 0x1;
    pub const NAMES: &[(&str, u64)] = &[("virtual_debug_console", VIRTUAL_DEBUG_CONSOLE as u64)];
    pub const KNOWN: u32 = super::known(NAMES) as u32;
}

/// Console flags and types.
pub mod console {
    /// Bit 0 clear: port I/O (x86 only; no bit to name).
    pub const ACCESS_PIO: u16 = 0x0;
    /// Bit 0 set: memory-mapped registers.
    pub const MMIO: u16 = 0x1;
    /// Bit 1 clear: registers 1 byte apart, 8-bit accesses.
    pub const REGDIST_1: u16 = 0x0;
    /// Bit 1 set: registers 4 bytes apart, 32-bit accesses.
    pub const REGDIST_4: u16 = 0x2;
    /// Bit 2 clear: framebuffer consoles are 1024x768.
    pub const FB_1024X768: u16 = 0x0;
    /// Framebuffer consoles: 1920x1080 instead of 1024x768.
    pub const FB_1920X1080: u16 = 0x4;
    /// Clear instead of set the clock gate bit.
    pub const INVERTED_GATE: u16 = 0x1000;
    /// TI K3 UARTs: apply the MDR register quirk.
    pub const MDR_QUIRK: u16 = 0x2000;
    pub const NAMES: &[(&str, u64)] = &[
        ("mmio", MMIO as u64),
        ("regdist_4", REGDIST_4 as u64),
        ("fb_1920x1080", FB_1920X1080 as u64),
        ("inverted_gate", INVERTED_GATE as u64),
        ("mdr_quirk", MDR_QUIRK as u64),
    ];
    pub const KNOWN: u16 = super::known(NAMES) as u16;
    pub const TYPE_NONE: u16 = 0;
    pub const TYPE_EFIFB: u16 = 1;
    pub const TYPE_8250: u16 = 2;
    pub const TYPE_PL011: u16 = 3;
    pub const TYPE_XUARTPS: u16 = 4;
    pub const TYPE_MVEBU: u16 = 5;
    pub const TYPE_HSCIF: u16 = 6;
    pub const TYPE_SCIFA: u16 = 7;
    pub const TYPE_IMX: u16 = 8;
    pub const TYPE_IMX_LPUART: u16 = 9;
    /// Console type names; other values are kept as numbers.
    pub const TYPES: &[(&str, u64)] = &[
        ("none", TYPE_NONE as u64),
        ("efifb", TYPE_EFIFB as u64),
        ("8250", TYPE_8250 as u64),
        ("pl011", TYPE_PL011 as u64),
        ("xuartps", TYPE_XUARTPS as u64),
        ("mvebu", TYPE_MVEBU as u64),
        ("hscif", TYPE_HSCIF as u64),
        ("scifa", TYPE_SCIFA as u64),
        ("imx", TYPE_IMX as u64),
        ("imx_lpuart", TYPE_IMX_LPUART as u64),
    ];
}

/// IOMMU unit types (slot type 0 is an unused slot) and the layout of the
/// 12 type-specific bytes that follow `size` in `jailhouse_iommu`.
pub mod iommu {
    pub const UNUSED: u32 = 0;
    pub const AMD: u32 = 1;
    pub const INTEL: u32 = 2;
    pub const SMMUV3: u32 = 3;
    /// TI's Peripheral Virtualization Unit (`JAILHOUSE_IOMMU_PVU`).
    pub const PVU: u32 = 4;
    pub const ARM_MMU500: u32 = 5;
    /// sysHyper extension, outside Jailhouse's `JAILHOUSE_IOMMU_*`
    /// numbers: a GICv3 ITS the hypervisor owns (base: its control frame;
    /// size: 128 KiB, control and translation frame), through which
    /// passed-through PCI devices of cells raise their MSIs
    /// (docs/passthrough.md "MSI").
    pub const GICV3_ITS: u32 = 0x1000;
    /// Bytes of a GICv3 ITS: the control frame and the translation frame.
    pub const GICV3_ITS_SIZE: u64 = 0x2_0000;
    /// Type names as Jailhouse's constants spell them (`JAILHOUSE_IOMMU_*`,
    /// lower case); other values are kept as numbers.
    pub const TYPES: &[(&str, u64)] = &[
        ("unused", UNUSED as u64),
        ("amd", AMD as u64),
        ("intel", INTEL as u64),
        ("smmuv3", SMMUV3 as u64),
        ("pvu", PVU as u64),
        ("arm_mmu500", ARM_MMU500 as u64),
        ("gicv3_its", GICV3_ITS as u64),
    ];
    /// Other spellings accepted on input (pyjailhouse's `TIPVU`, and this
    /// crate's earlier names).
    pub const ALIASES: &[(&str, u64)] = &[
        ("tipvu", PVU as u64),
        ("ti_pvu", PVU as u64),
        ("arm_smmuv3", SMMUV3 as u64),
        ("mmu500", ARM_MMU500 as u64),
    ];
    /// AMD: bdf u16 @0, base_cap u8 @2, msi_cap u8 @3, features u32 @4
    /// (bytes 8..12 unused).
    pub const AMD_DATA_USED: usize = 8;
    /// PVU: tlb_base u64 @0, tlb_size u32 @8.
    pub const PVU_DATA_USED: usize = 12;
}

/// A stream id entry (`union jailhouse_stream_id`): a plain 32-bit id for
/// SMMUv3 and PVU; for the MMU-500, the low half is the SMR id and the high
/// half the SMR mask of id bits to ignore (`mmu500.id`, `mmu500.mask_out`).
pub mod stream_id {
    /// Jailhouse's marker for "no stream id" (`JAILHOUSE_INVALID_STREAMID`).
    pub const INVALID: u32 = !0;
    pub const fn mmu500_id(raw: u32) -> u16 {
        raw as u16
    }
    pub const fn mmu500_mask_out(raw: u32) -> u16 {
        (raw >> 16) as u16
    }
    pub const fn mmu500(id: u16, mask_out: u16) -> u32 {
        (mask_out as u32) << 16 | id as u32
    }
}

/// Cache region flags and types.
pub mod cache {
    pub const L3_CODE: u8 = 0x01;
    pub const L3_DATA: u8 = 0x02;
    /// Code and data (`JAILHOUSE_CACHE_L3`).
    pub const L3: u8 = L3_CODE | L3_DATA;
    /// Type names; other values are kept as numbers.
    pub const TYPES: &[(&str, u64)] = &[
        ("l3_code", L3_CODE as u64),
        ("l3_data", L3_DATA as u64),
        ("l3", L3 as u64),
    ];
    pub const ROOTSHARED: u16 = 0x1;
    pub const NAMES: &[(&str, u64)] = &[("rootshared", ROOTSHARED as u64)];
    pub const KNOWN: u16 = super::known(NAMES) as u16;
}

/// PCI capability flags.
pub mod pci_cap {
    /// Set in a capability's `id` for an extended capability.
    pub const EXT_CAP: u16 = 0x8000;
    pub const WRITE: u16 = 0x1;
    pub const NAMES: &[(&str, u64)] = &[("write", WRITE as u64)];
    pub const KNOWN: u16 = super::known(NAMES) as u16;
}

/// PCI device types and MSI bitfield bits.
pub mod pci {
    pub const TYPE_DEVICE: u8 = 1;
    pub const TYPE_BRIDGE: u8 = 2;
    pub const TYPE_IVSHMEM: u8 = 3;
    pub const TYPES: &[(&str, u64)] = &[
        ("device", TYPE_DEVICE as u64),
        ("bridge", TYPE_BRIDGE as u64),
        ("ivshmem", TYPE_IVSHMEM as u64),
    ];
    pub const MSI_64BITS: u8 = 0x1;
    pub const MSI_MASKABLE: u8 = 0x2;
    pub const MSI_KNOWN: u8 = MSI_64BITS | MSI_MASKABLE;
}

/// ivshmem (virtual shared-memory PCI device) values.
pub mod ivshmem {
    /// Peers one link can have in Jailhouse's hypervisor; `shmem_dev_id`
    /// must be below it (Jailhouse refuses the cell otherwise).
    pub const MAX_PEERS: u8 = 12;
    /// Regions before the per-peer output sections: state table, R/W section.
    pub const COMMON_REGIONS: u32 = 2;
    pub const PROTO_UNDEFINED: u16 = 0x0000;
    pub const PROTO_VETH: u16 = 0x0001;
    /// 0x4000..0x7fff: custom protocols.
    pub const PROTO_CUSTOM: u16 = 0x4000;
    /// 0x8000..0xbfff: virtio front-end, low bits the virtio device type.
    pub const PROTO_VIRTIO_FRONT: u16 = 0x8000;
    /// 0xc000..0xffff: virtio back-end.
    pub const PROTO_VIRTIO_BACK: u16 = 0xc000;
    pub const VIRTIO_DEV_NET: u16 = 1;
    pub const VIRTIO_DEV_BLOCK: u16 = 2;
    pub const VIRTIO_DEV_CONSOLE: u16 = 3;
}

/// Interrupt IDs a cell may be granted: the shared peripheral interrupts.
pub mod irq {
    /// First SPI; SGIs and PPIs are per CPU and never granted.
    pub const FIRST_SPI: u32 = 32;
    /// One past the last SPI INTID (1020..1023 are special).
    pub const END_SPI: u32 = 1020;
    /// One past the last INTID a distributor bitmap may name (Jailhouse's
    /// per-cell bitmap covers 1024 interrupts).
    pub const END_INTID: u32 = 1024;
}

// Evaluated at compile time only (an out-of-range index would be a build
// error, not a run-time panic), where `get` is not available.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
const fn known(names: &[(&str, u64)]) -> u64 {
    let mut all = 0;
    let mut i = 0;
    while i < names.len() {
        all |= names[i].1;
        i += 1;
    }
    all
}

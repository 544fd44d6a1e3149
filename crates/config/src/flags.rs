//! Flag bits and fixed values of revision 14, with the names the TOML
//! format uses for them.

/// Page granule used for alignment rules.
pub const PAGE_SIZE: u64 = 0x1000;

/// The only revision this crate reads and writes.
pub const REVISION: u16 = 14;
/// Architecture byte for arm64 (0 is x86, 1 is arm).
pub const ARCH_ARM64: u8 = 2;
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
    pub const VCONSOLE_PERMITTED: u32 = 0x4000_0000;
    pub const VCONSOLE_ACTIVE: u32 = 0x8000_0000;
    pub const NAMES: &[(&str, u64)] = &[
        ("passive_commreg", PASSIVE_COMMREG as u64),
        ("test_device", TEST_DEVICE as u64),
        ("aarch32", AARCH32 as u64),
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
    pub const MMIO: u16 = 0x1;
    pub const REGDIST_4: u16 = 0x2;
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
    pub const TYPE_8250: u16 = 2;
    pub const TYPE_PL011: u16 = 3;
    /// Console type names; other values are kept as numbers.
    pub const TYPES: &[(&str, u64)] = &[
        ("none", 0),
        ("efifb", 1),
        ("8250", TYPE_8250 as u64),
        ("pl011", TYPE_PL011 as u64),
        ("xuartps", 4),
        ("mvebu", 5),
        ("hscif", 6),
        ("scifa", 7),
        ("imx", 8),
        ("imx_lpuart", 9),
    ];
}

/// IOMMU unit types (slot type 0 is an unused slot).
pub mod iommu {
    pub const AMD: u32 = 1;
    pub const INTEL: u32 = 2;
    pub const SMMUV3: u32 = 3;
    pub const TIPVU: u32 = 4;
    pub const ARM_MMU500: u32 = 5;
    /// Type names as Jailhouse's JAILHOUSE_IOMMU_* constants (lower case);
    /// `show` prints the first name of a value, so the older names
    /// arm_smmuv3 and ti_pvu are only read. Other values stay numbers.
    pub const TYPES: &[(&str, u64)] = &[
        ("unused", 0),
        ("amd", AMD as u64),
        ("intel", INTEL as u64),
        ("smmuv3", SMMUV3 as u64),
        ("pvu", TIPVU as u64),
        ("arm_mmu500", ARM_MMU500 as u64),
        ("arm_smmuv3", SMMUV3 as u64),
        ("ti_pvu", TIPVU as u64),
    ];
}

/// Cache region flags.
pub mod cache {
    pub const ROOTSHARED: u16 = 0x1;
    pub const NAMES: &[(&str, u64)] = &[("rootshared", ROOTSHARED as u64)];
    pub const KNOWN: u16 = super::known(NAMES) as u16;
}

/// PCI capability flags.
pub mod pci_cap {
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

/// Interrupt IDs a cell may be granted: the shared peripheral interrupts.
pub mod irq {
    /// First SPI; SGIs and PPIs are per CPU and never granted.
    pub const FIRST_SPI: u32 = 32;
    /// One past the last SPI INTID (1020..1023 are special).
    pub const END_SPI: u32 = 1020;
}

const fn known(names: &[(&str, u64)]) -> u64 {
    let mut all = 0;
    let mut i = 0;
    while i < names.len() {
        all |= names[i].1;
        i += 1;
    }
    all
}

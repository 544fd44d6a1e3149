//! Byte layouts of the revision-14 structures, as little-endian, alignment-1
//! types so that they can be viewed in place inside any byte buffer.
//!
//! Field names follow Jailhouse's `cell-config.h` so that the TOML keys and
//! the C sources can be compared side by side.

use core::mem::{offset_of, size_of};
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Implements the traits every layout struct shares.
macro_rules! layout {
    ($(#[$m:meta])* pub struct $name:ident { $($(#[$fm:meta])* pub $f:ident : $t:ty,)* }) => {
        $(#[$m])*
        #[derive(FromBytes, IntoBytes, Immutable, KnownLayout, Unaligned)]
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[repr(C)]
        pub struct $name { $($(#[$fm])* pub $f: $t,)* }
    };
}

layout! {
    /// `struct jailhouse_memory`: one guest mapping.
    pub struct MemoryRegion {
        pub phys_start: U64,
        pub virt_start: U64,
        pub size: U64,
        pub flags: U64,
    }
}

layout! {
    /// `struct jailhouse_cache`: a cache partition.
    pub struct CacheRegion {
        pub start: U32,
        pub size: U32,
        pub cache_type: u8,
        pub padding: u8,
        pub flags: U16,
    }
}

layout! {
    /// `struct jailhouse_irqchip`: interrupts granted on one interrupt controller.
    pub struct Irqchip {
        pub address: U64,
        pub id: U32,
        pub pin_base: U32,
        pub pin_bitmap: [U32; 4],
    }
}

layout! {
    /// `struct jailhouse_pio`: an x86 port range (kept for completeness).
    pub struct PioRegion {
        pub base: U16,
        pub length: U16,
    }
}

layout! {
    /// `struct jailhouse_pci_device`.
    pub struct PciDevice {
        pub pci_type: u8,
        pub iommu: u8,
        pub domain: U16,
        pub bdf: U16,
        pub bar_mask: [U32; 6],
        pub caps_start: U16,
        pub num_caps: U16,
        pub num_msi_vectors: u8,
        /// Bit 0 `msi_64bits`, bit 1 `msi_maskable` (C bitfields).
        pub msi_flags: u8,
        pub num_msix_vectors: U16,
        pub msix_region_size: U16,
        pub msix_address: U64,
        pub shmem_regions_start: U32,
        pub shmem_dev_id: u8,
        pub shmem_peers: u8,
        pub shmem_protocol: U16,
    }
}

layout! {
    /// `struct jailhouse_pci_capability`.
    pub struct PciCap {
        pub id: U16,
        pub start: U16,
        pub len: U16,
        pub flags: U16,
    }
}

layout! {
    /// `struct jailhouse_console`.
    pub struct Console {
        pub address: U64,
        pub size: U32,
        pub console_type: U16,
        pub flags: U16,
        pub divider: U32,
        pub gate_nr: U32,
        pub clock_reg: U64,
    }
}

layout! {
    /// `struct jailhouse_iommu`; the last 12 bytes depend on `iommu_type`.
    pub struct IommuUnit {
        pub iommu_type: U32,
        pub base: U64,
        pub size: U32,
        pub data: [u8; 12],
    }
}

layout! {
    /// `struct jailhouse_cell_desc`: the fixed part of a cell configuration.
    pub struct CellDesc {
        pub signature: [u8; 5],
        pub architecture: u8,
        pub revision: U16,
        pub name: [u8; 32],
        pub id: U32,
        pub flags: U32,
        pub cpu_set_size: U32,
        pub num_memory_regions: U32,
        pub num_cache_regions: U32,
        pub num_irqchips: U32,
        pub num_pio_regions: U32,
        pub num_pci_devices: U32,
        pub num_pci_caps: U32,
        pub num_stream_ids: U32,
        pub vpci_irq_base: U32,
        pub cpu_reset_address: U64,
        pub msg_reply_timeout: U64,
        pub console: Console,
    }
}

/// Number of IOMMU slots in the system descriptor.
pub const MAX_IOMMU_UNITS: usize = 8;

layout! {
    /// `struct jailhouse_system` with the arm variant of `platform_info`.
    pub struct SystemDesc {
        pub signature: [u8; 5],
        pub architecture: u8,
        pub revision: U16,
        pub flags: U32,
        pub hypervisor_memory: MemoryRegion,
        pub debug_console: Console,
        pub pci_mmconfig_base: U64,
        pub pci_mmconfig_end_bus: u8,
        pub pci_is_virtual: u8,
        pub pci_domain: U16,
        pub iommu_units: [IommuUnit; MAX_IOMMU_UNITS],
        pub maintenance_irq: u8,
        pub gic_version: u8,
        pub arm_padding: [u8; 2],
        pub gicd_base: U64,
        pub gicc_base: U64,
        pub gich_base: U64,
        pub gicv_base: U64,
        pub gicr_base: U64,
        pub root_cell: CellDesc,
    }
}

// The documented sizes and offsets (jailhouse-abi.md §4); a mismatch fails the build.
const _: () = {
    assert!(size_of::<MemoryRegion>() == 32);
    assert!(size_of::<CacheRegion>() == 12);
    assert!(size_of::<Irqchip>() == 32);
    assert!(size_of::<PioRegion>() == 4);
    assert!(size_of::<PciDevice>() == 56);
    assert!(size_of::<PciCap>() == 8);
    assert!(size_of::<Console>() == 32);
    assert!(size_of::<IommuUnit>() == 28);
    assert!(size_of::<CellDesc>() == 132);
    assert!(size_of::<SystemDesc>() == 488);

    assert!(offset_of!(Console, size) == 8);
    assert!(offset_of!(Console, console_type) == 12);
    assert!(offset_of!(Console, flags) == 14);
    assert!(offset_of!(Console, divider) == 16);
    assert!(offset_of!(Console, gate_nr) == 20);
    assert!(offset_of!(Console, clock_reg) == 24);

    assert!(offset_of!(IommuUnit, base) == 4);
    assert!(offset_of!(IommuUnit, size) == 12);
    assert!(offset_of!(IommuUnit, data) == 16);

    assert!(offset_of!(PciDevice, bdf) == 4);
    assert!(offset_of!(PciDevice, bar_mask) == 6);
    assert!(offset_of!(PciDevice, caps_start) == 30);
    assert!(offset_of!(PciDevice, num_caps) == 32);
    assert!(offset_of!(PciDevice, num_msi_vectors) == 34);
    assert!(offset_of!(PciDevice, msi_flags) == 35);
    assert!(offset_of!(PciDevice, num_msix_vectors) == 36);
    assert!(offset_of!(PciDevice, msix_region_size) == 38);
    assert!(offset_of!(PciDevice, msix_address) == 40);
    assert!(offset_of!(PciDevice, shmem_regions_start) == 48);
    assert!(offset_of!(PciDevice, shmem_dev_id) == 52);
    assert!(offset_of!(PciDevice, shmem_peers) == 53);
    assert!(offset_of!(PciDevice, shmem_protocol) == 54);

    assert!(offset_of!(CellDesc, architecture) == 5);
    assert!(offset_of!(CellDesc, revision) == 6);
    assert!(offset_of!(CellDesc, name) == 8);
    assert!(offset_of!(CellDesc, id) == 40);
    assert!(offset_of!(CellDesc, flags) == 44);
    assert!(offset_of!(CellDesc, cpu_set_size) == 48);
    assert!(offset_of!(CellDesc, num_memory_regions) == 52);
    assert!(offset_of!(CellDesc, num_cache_regions) == 56);
    assert!(offset_of!(CellDesc, num_irqchips) == 60);
    assert!(offset_of!(CellDesc, num_pio_regions) == 64);
    assert!(offset_of!(CellDesc, num_pci_devices) == 68);
    assert!(offset_of!(CellDesc, num_pci_caps) == 72);
    assert!(offset_of!(CellDesc, num_stream_ids) == 76);
    assert!(offset_of!(CellDesc, vpci_irq_base) == 80);
    assert!(offset_of!(CellDesc, cpu_reset_address) == 84);
    assert!(offset_of!(CellDesc, msg_reply_timeout) == 92);
    assert!(offset_of!(CellDesc, console) == 100);

    assert!(offset_of!(SystemDesc, architecture) == 5);
    assert!(offset_of!(SystemDesc, revision) == 6);
    assert!(offset_of!(SystemDesc, flags) == 8);
    assert!(offset_of!(SystemDesc, hypervisor_memory) == 12);
    assert!(offset_of!(SystemDesc, debug_console) == 44);
    assert!(offset_of!(SystemDesc, pci_mmconfig_base) == 76);
    assert!(offset_of!(SystemDesc, pci_mmconfig_end_bus) == 84);
    assert!(offset_of!(SystemDesc, pci_is_virtual) == 85);
    assert!(offset_of!(SystemDesc, pci_domain) == 86);
    assert!(offset_of!(SystemDesc, iommu_units) == 88);
    assert!(offset_of!(SystemDesc, maintenance_irq) == 312);
    assert!(offset_of!(SystemDesc, gic_version) == 313);
    assert!(offset_of!(SystemDesc, gicd_base) == 316);
    assert!(offset_of!(SystemDesc, gicc_base) == 324);
    assert!(offset_of!(SystemDesc, gich_base) == 332);
    assert!(offset_of!(SystemDesc, gicv_base) == 340);
    assert!(offset_of!(SystemDesc, gicr_base) == 348);
    assert!(offset_of!(SystemDesc, root_cell) == ROOT_CELL_OFFSET);
};

/// Offset of the root cell descriptor inside the system descriptor.
pub const ROOT_CELL_OFFSET: usize = 356;
/// Size of the system descriptor (its root cell's arrays follow).
pub const SYSTEM_DESC_SIZE: usize = size_of::<SystemDesc>();
/// Size of the cell descriptor (its arrays follow).
pub const CELL_DESC_SIZE: usize = size_of::<CellDesc>();

impl MemoryRegion {
    /// Builds a region from plain integers.
    pub fn new(phys_start: u64, virt_start: u64, size: u64, flags: u64) -> Self {
        Self {
            phys_start: phys_start.into(),
            virt_start: virt_start.into(),
            size: size.into(),
            flags: flags.into(),
        }
    }

    /// Jailhouse leaves all-zero entries as placeholders (for example the
    /// unused read/write section of an ivshmem device); they map nothing.
    pub fn is_placeholder(&self) -> bool {
        *self == Self::default()
    }

    /// Accesses are trapped and checked instead of mapped when the guest
    /// range is not page granular.
    pub fn is_subpage(&self) -> bool {
        (self.virt_start.get() | self.size.get()) & (crate::flags::PAGE_SIZE - 1) != 0
    }
}

impl Irqchip {
    /// INTIDs granted by the bitmap, ascending.
    pub fn granted(&self) -> impl Iterator<Item = u32> + '_ {
        let base = self.pin_base.get();
        (0u32..128).filter_map(move |bit| {
            let word = self
                .pin_bitmap
                .get((bit / 32) as usize)
                .map_or(0, |w| w.get());
            (word & (1 << (bit % 32)) != 0).then(|| base.wrapping_add(bit))
        })
    }
}

//! Read access to the system configuration the driver (or xtask) placed
//! after the per-CPU areas. Minimal bounds-checked reader of the fields the
//! core needs; full validation lives in `syshyper-config`.

/// System config header size; the root cell descriptor sits at 356.
pub const SYSTEM_SIZE: usize = 488;
const ROOT_CELL: usize = 356;
/// Cell descriptor size.
pub const CELL_DESC_SIZE: usize = 132;

/// Why a configuration was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// Too short for what its header announces.
    Truncated,
    /// Signature is not JHSYS/JHCLL.
    Signature,
    /// Revision other than 14.
    Revision(u16),
    /// Architecture other than arm64.
    Architecture(u8),
}

fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(off..off + 8)?.try_into().ok()?))
}
fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(off..off + 4)?.try_into().ok()?))
}
fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(off..off + 2)?.try_into().ok()?))
}

/// A memory region of a cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemRegion {
    pub phys_start: u64,
    pub virt_start: u64,
    pub size: u64,
    pub flags: u64,
}

/// Memory region flags.
pub mod mem_flags {
    pub const READ: u64 = 0x1;
    pub const WRITE: u64 = 0x2;
    pub const EXECUTE: u64 = 0x4;
    pub const IO: u64 = 0x10;
    pub const COMM_REGION: u64 = 0x20;
    pub const LOADABLE: u64 = 0x40;
    pub const ROOTSHARED: u64 = 0x80;
}

/// Cell flags.
pub mod cell_flags {
    pub const VCONSOLE_PERMITTED: u32 = 0x4000_0000;
}

/// A cell descriptor followed by its arrays.
#[derive(Clone, Copy, Debug)]
pub struct CellView<'a> {
    desc: &'a [u8],
}

impl<'a> CellView<'a> {
    /// Checks signature, revision and that every array fits in `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        if bytes.len() < CELL_DESC_SIZE {
            return Err(ConfigError::Truncated);
        }
        if &bytes[0..5] != b"JHCLL" {
            return Err(ConfigError::Signature);
        }
        let view = Self::unchecked(bytes);
        view.check_header()?;
        Ok(view)
    }

    /// Checks only the fixed descriptor (to learn the total size).
    pub fn parse_header(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        if bytes.len() < CELL_DESC_SIZE || &bytes[0..5] != b"JHCLL" {
            return Err(ConfigError::Signature);
        }
        let rev = u16_at(bytes, 6).ok_or(ConfigError::Truncated)?;
        if rev != 14 {
            return Err(ConfigError::Revision(rev));
        }
        if bytes[5] != 2 {
            return Err(ConfigError::Architecture(bytes[5]));
        }
        Ok(Self { desc: bytes })
    }

    /// A view of nothing (no CPUs, no regions).
    pub fn empty() -> Self {
        Self { desc: &[] }
    }

    fn unchecked(desc: &'a [u8]) -> Self {
        Self { desc }
    }

    fn check_header(&self) -> Result<(), ConfigError> {
        let rev = u16_at(self.desc, 6).ok_or(ConfigError::Truncated)?;
        if rev != 14 {
            return Err(ConfigError::Revision(rev));
        }
        let arch = self.desc[5];
        if arch != 2 {
            return Err(ConfigError::Architecture(arch));
        }
        if self.total_size().is_none_or(|s| s > self.desc.len()) {
            return Err(ConfigError::Truncated);
        }
        Ok(())
    }

    fn field(&self, off: usize) -> u32 {
        u32_at(self.desc, off).unwrap_or(0)
    }

    /// Bytes from the descriptor start to the end of its arrays.
    pub fn total_size(&self) -> Option<usize> {
        let n = |off: usize, each: usize| (self.field(off) as usize).checked_mul(each);
        let parts = [
            Some(CELL_DESC_SIZE),
            Some(self.field(48) as usize),
            n(52, 32),
            n(56, 12),
            n(60, 32),
            n(64, 4),
            n(68, 56),
            n(72, 8),
            n(76, 4),
        ];
        parts.iter().try_fold(0usize, |acc, p| acc.checked_add((*p)?))
    }

    /// The NUL-terminated name (lossy: invalid UTF-8 reads as "?").
    pub fn name(&self) -> &'a str {
        let raw = &self.desc[8..40];
        let len = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        core::str::from_utf8(&raw[..len]).unwrap_or("?")
    }

    /// Cell flags.
    pub fn flags(&self) -> u32 {
        self.field(44)
    }

    /// The cell's console descriptor (32 bytes at offset 100).
    pub fn console_bytes(&self) -> [u8; 32] {
        let mut c = [0u8; 32];
        if let Some(src) = self.desc.get(100..132) {
            c.copy_from_slice(src);
        }
        c
    }

    /// vPCI IRQ base.
    pub fn vpci_irq_base(&self) -> u32 {
        self.field(80)
    }

    /// The descriptor and its arrays.
    pub fn bytes(&self) -> &'a [u8] {
        self.desc
    }

    /// The CPUs of the cell as a bit mask (CPUs 0..63).
    pub fn cpu_mask(&self) -> u64 {
        (0..64).filter(|&c| self.has_cpu(c)).fold(0, |m, c| m | 1 << c)
    }

    /// Where the first CPU starts.
    pub fn cpu_reset_address(&self) -> u64 {
        u64_at(self.desc, 84).unwrap_or(0)
    }

    fn cpu_set(&self) -> &'a [u8] {
        let len = self.field(48) as usize;
        self.desc.get(CELL_DESC_SIZE..CELL_DESC_SIZE + len).unwrap_or(&[])
    }

    /// Whether `cpu` is in the cell's CPU set.
    pub fn has_cpu(&self, cpu: usize) -> bool {
        self.cpu_set().get(cpu / 8).is_some_and(|b| b & (1 << (cpu % 8)) != 0)
    }

    /// Highest CPU number + 1.
    pub fn cpu_limit(&self) -> usize {
        (0..self.cpu_set().len() * 8).rev().find(|&c| self.has_cpu(c)).map_or(0, |c| c + 1)
    }

    /// The memory regions.
    pub fn memory_regions(&self) -> impl Iterator<Item = MemRegion> + 'a {
        let start = CELL_DESC_SIZE + self.field(48) as usize;
        let desc = self.desc;
        (0..self.field(52) as usize).filter_map(move |i| {
            let o = start + i * 32;
            Some(MemRegion {
                phys_start: u64_at(desc, o)?,
                virt_start: u64_at(desc, o + 8)?,
                size: u64_at(desc, o + 16)?,
                flags: u64_at(desc, o + 24)?,
            })
        })
    }
}

/// An interrupt controller grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IrqChip {
    pub address: u64,
    pub pin_base: u32,
    pub pin_bitmap: [u32; 4],
}

impl IrqChip {
    /// The INTIDs this grant covers.
    pub fn irqs(&self) -> impl Iterator<Item = u32> + '_ {
        (0..128u32).filter(|i| self.pin_bitmap[(i / 32) as usize] & (1 << (i % 32)) != 0).map(|i| self.pin_base + i)
    }
}

impl<'a> CellView<'a> {
    /// The irqchip grants.
    pub fn irqchips(&self) -> impl Iterator<Item = IrqChip> + 'a {
        let start = CELL_DESC_SIZE + self.field(48) as usize + self.field(52) as usize * 32 + self.field(56) as usize * 12;
        let desc = self.desc;
        (0..self.field(60) as usize).filter_map(move |i| {
            let o = start + i * 32;
            Some(IrqChip {
                address: u64_at(desc, o)?,
                pin_base: u32_at(desc, o + 12)?,
                pin_bitmap: [u32_at(desc, o + 16)?, u32_at(desc, o + 20)?, u32_at(desc, o + 24)?, u32_at(desc, o + 28)?],
            })
        })
    }
}

/// The system configuration.
#[derive(Clone, Copy, Debug)]
pub struct SystemView<'a> {
    bytes: &'a [u8],
    root: CellView<'a>,
}

impl<'a> SystemView<'a> {
    /// Checks the header and the root cell's arrays.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, ConfigError> {
        if bytes.len() < SYSTEM_SIZE {
            return Err(ConfigError::Truncated);
        }
        if &bytes[0..5] != b"JHSYS" {
            return Err(ConfigError::Signature);
        }
        let rev = u16_at(bytes, 6).ok_or(ConfigError::Truncated)?;
        if rev != 14 {
            return Err(ConfigError::Revision(rev));
        }
        if bytes[5] != 2 {
            return Err(ConfigError::Architecture(bytes[5]));
        }
        let root = CellView::unchecked(&bytes[ROOT_CELL..]);
        root.check_header()?;
        Ok(Self { bytes, root })
    }

    /// Bytes of the whole system config.
    pub fn total_size(&self) -> usize {
        self.root.total_size().map_or(SYSTEM_SIZE, |s| ROOT_CELL + s)
    }

    /// The root cell.
    pub fn root(&self) -> CellView<'a> {
        self.root
    }

    /// Hypervisor memory: (phys_start, size).
    pub fn hypervisor_memory(&self) -> (u64, u64) {
        (u64_at(self.bytes, 12).unwrap_or(0), u64_at(self.bytes, 28).unwrap_or(0))
    }

    /// Debug console: (address, type).
    pub fn debug_console(&self) -> (u64, u16) {
        (u64_at(self.bytes, 44).unwrap_or(0), u16_at(self.bytes, 56).unwrap_or(0))
    }

    /// System flags.
    pub fn flags(&self) -> u32 {
        u32_at(self.bytes, 8).unwrap_or(0)
    }

    /// (gic_version, maintenance_irq, gicd_base, gicr_base).
    pub fn gic(&self) -> (u8, u8, u64, u64) {
        (
            self.bytes[313],
            self.bytes[312],
            u64_at(self.bytes, 316).unwrap_or(0),
            u64_at(self.bytes, 348).unwrap_or(0),
        )
    }
}

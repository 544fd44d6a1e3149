//! Reading and patching a Jailhouse cell configuration (`jailhouse_cell_desc`
//! and its arrays, jailhouse-abi.md §4) held in a byte buffer. Root-test uses
//! it to find where a cell's memory lies and to derive invalid or conflicting
//! configurations from a valid one. Pure (host-tested); every access is
//! bounds-checked and reports failure instead of panicking.

/// Bytes of the descriptor before the arrays.
pub const DESC_SIZE: usize = 132;
/// Bytes of one memory region.
pub const REGION_SIZE: usize = 32;
const NAME_OFF: usize = 8;
const NAME_LEN: usize = 32;
const CPU_SET_SIZE_OFF: usize = 48;
const NUM_MEMORY_REGIONS_OFF: usize = 52;
const NUM_IRQCHIPS_OFF: usize = 60;
const CPU_RESET_ADDRESS_OFF: usize = 84;
/// Array counts from @52 on (memory, cache, irqchips, pio, pci devices, pci
/// caps, stream ids) and their element sizes, in file order.
const ARRAYS: [(usize, usize); 7] = [
    (52, 32),
    (56, 12),
    (60, 32),
    (64, 4),
    (68, 56),
    (72, 8),
    (76, 4),
];

/// Memory region flags.
pub const MEM_READ: u64 = 0x1;
pub const MEM_WRITE: u64 = 0x2;
pub const MEM_IO: u64 = 0x10;
pub const MEM_COMM_REGION: u64 = 0x20;
pub const MEM_LOADABLE: u64 = 0x40;
pub const MEM_ROOTSHARED: u64 = 0x80;

/// One memory region of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemRegion {
    pub phys: u64,
    pub virt: u64,
    pub size: u64,
    pub flags: u64,
}

fn u32_at(cfg: &[u8], off: usize) -> Option<u32> {
    let b = cfg.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(cfg: &[u8], off: usize) -> Option<u64> {
    let b = cfg.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

fn put(cfg: &mut [u8], off: usize, bytes: &[u8]) -> bool {
    match off
        .checked_add(bytes.len())
        .and_then(|end| cfg.get_mut(off..end))
    {
        Some(dst) => {
            dst.copy_from_slice(bytes);
            true
        }
        None => false,
    }
}

/// The cell's name (up to the first NUL).
pub fn name(cfg: &[u8]) -> Option<&str> {
    let raw = cfg.get(NAME_OFF..NAME_OFF + NAME_LEN)?;
    let len = raw.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    core::str::from_utf8(&raw[..len]).ok()
}

/// Replaces the name (at most 31 bytes, NUL-padded).
pub fn set_name(cfg: &mut [u8], new: &str) -> bool {
    if new.len() >= NAME_LEN {
        return false;
    }
    let mut field = [0u8; NAME_LEN];
    field[..new.len()].copy_from_slice(new.as_bytes());
    put(cfg, NAME_OFF, &field)
}

pub fn cpu_set_size(cfg: &[u8]) -> Option<usize> {
    u32_at(cfg, CPU_SET_SIZE_OFF).map(|v| v as usize)
}

pub fn set_cpu_set_size(cfg: &mut [u8], size: u32) -> bool {
    put(cfg, CPU_SET_SIZE_OFF, &size.to_le_bytes())
}

pub fn num_memory_regions(cfg: &[u8]) -> Option<usize> {
    u32_at(cfg, NUM_MEMORY_REGIONS_OFF).map(|v| v as usize)
}

pub fn set_num_memory_regions(cfg: &mut [u8], n: u32) -> bool {
    put(cfg, NUM_MEMORY_REGIONS_OFF, &n.to_le_bytes())
}

pub fn set_num_irqchips(cfg: &mut [u8], n: u32) -> bool {
    put(cfg, NUM_IRQCHIPS_OFF, &n.to_le_bytes())
}

/// Bytes of the descriptor and all its arrays, as the header declares them
/// (may exceed the buffer; `None` on overflow).
pub fn total_size(cfg: &[u8]) -> Option<usize> {
    let mut total = DESC_SIZE.checked_add(cpu_set_size(cfg)?)?;
    for (off, size) in ARRAYS {
        total = total.checked_add((u32_at(cfg, off)? as usize).checked_mul(size)?)?;
    }
    Some(total)
}

pub fn cpu_reset_address(cfg: &[u8]) -> Option<u64> {
    u64_at(cfg, CPU_RESET_ADDRESS_OFF)
}

/// CPUs of the cell as a bit mask (CPUs 0..63).
pub fn cpus(cfg: &[u8]) -> Option<u64> {
    let size = cpu_set_size(cfg)?;
    let set = cfg.get(DESC_SIZE..DESC_SIZE.checked_add(size)?)?;
    Some(
        set.iter()
            .take(8)
            .enumerate()
            .fold(0u64, |m, (i, &b)| m | u64::from(b) << (8 * i)),
    )
}

/// Rewrites the CPU set to `mask` (within the existing cpu_set_size).
pub fn set_cpus(cfg: &mut [u8], mask: u64) -> bool {
    let Some(size) = cpu_set_size(cfg) else {
        return false;
    };
    let Some(set) = DESC_SIZE
        .checked_add(size)
        .and_then(|end| cfg.get_mut(DESC_SIZE..end))
    else {
        return false;
    };
    if size < 8 && mask >> (8 * size) != 0 {
        return false;
    }
    for (i, b) in set.iter_mut().enumerate() {
        *b = if i < 8 { (mask >> (8 * i)) as u8 } else { 0 };
    }
    true
}

fn region_offset(cfg: &[u8], index: usize) -> Option<usize> {
    if index >= num_memory_regions(cfg)? {
        return None;
    }
    DESC_SIZE
        .checked_add(cpu_set_size(cfg)?)?
        .checked_add(index.checked_mul(REGION_SIZE)?)
}

/// Memory region `index`.
pub fn memory_region(cfg: &[u8], index: usize) -> Option<MemRegion> {
    let off = region_offset(cfg, index)?;
    Some(MemRegion {
        phys: u64_at(cfg, off)?,
        virt: u64_at(cfg, off + 8)?,
        size: u64_at(cfg, off + 16)?,
        flags: u64_at(cfg, off + 24)?,
    })
}

/// Index and value of the first region carrying all of `flags` and none of
/// `without`.
pub fn find_region(cfg: &[u8], flags: u64, without: u64) -> Option<(usize, MemRegion)> {
    (0..num_memory_regions(cfg)?)
        .filter_map(|i| memory_region(cfg, i).map(|r| (i, r)))
        .find(|(_, r)| r.flags & flags == flags && r.flags & without == 0)
}

/// Moves region `index` to physical address `phys`.
pub fn set_region_phys(cfg: &mut [u8], index: usize, phys: u64) -> bool {
    match region_offset(cfg, index) {
        Some(off) => put(cfg, off, &phys.to_le_bytes()),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A descriptor with CPU 1 and two regions: RAM (loadable) and a
    /// root-shared page.
    fn sample() -> Vec<u8> {
        let mut c = vec![0u8; DESC_SIZE];
        c[..5].copy_from_slice(b"JHCLL");
        c[8..12].copy_from_slice(b"demo");
        c[48] = 8;
        c[52] = 2;
        c[84..92].copy_from_slice(&0x1000u64.to_le_bytes());
        c.extend_from_slice(&[0b10, 0, 0, 0, 0, 0, 0, 0]);
        for (p, v, s, f) in [
            (0x7fa0_0000u64, 0u64, 0x1_0000u64, MEM_READ | MEM_LOADABLE),
            (0x7f6f_0000, 0x10_0000, 0x1000, MEM_READ | MEM_ROOTSHARED),
        ] {
            for x in [p, v, s, f] {
                c.extend_from_slice(&x.to_le_bytes());
            }
        }
        c
    }

    #[test]
    fn reads_fields() {
        let c = sample();
        assert_eq!(name(&c), Some("demo"));
        assert_eq!(cpus(&c), Some(0b10));
        assert_eq!(cpu_reset_address(&c), Some(0x1000));
        let (i, r) = find_region(&c, MEM_LOADABLE, 0).unwrap();
        assert_eq!((i, r.phys, r.virt, r.size), (0, 0x7fa0_0000, 0, 0x1_0000));
        let (i, r) = find_region(&c, MEM_ROOTSHARED, MEM_IO).unwrap();
        assert_eq!((i, r.phys), (1, 0x7f6f_0000));
        assert!(find_region(&c, MEM_COMM_REGION, 0).is_none());
        assert!(find_region(&c, MEM_READ, MEM_LOADABLE | MEM_ROOTSHARED).is_none());
    }

    #[test]
    fn patches_fields() {
        let mut c = sample();
        assert!(set_name(&mut c, "other"));
        assert_eq!(name(&c), Some("other"));
        assert!(!set_name(&mut c, &"x".repeat(32)));
        assert!(set_cpus(&mut c, 0b1100));
        assert_eq!(cpus(&c), Some(0b1100));
        assert!(set_region_phys(&mut c, 0, 0x7f00_0000));
        assert_eq!(memory_region(&c, 0).unwrap().phys, 0x7f00_0000);
        assert!(!set_region_phys(&mut c, 2, 0));
        assert_eq!(total_size(&c), Some(c.len()));
        c[60] = 1; // one irqchip
        assert_eq!(total_size(&c), Some(c.len() + 32));
        assert!(set_num_irqchips(&mut c, 0));
        assert_eq!(total_size(&c), Some(c.len()));
    }

    #[test]
    fn oversized_counts_do_not_panic() {
        let mut c = sample();
        assert!(set_num_memory_regions(&mut c, u32::MAX));
        assert_eq!(memory_region(&c, 5), None);
        assert!(!set_region_phys(&mut c, 1 << 20, 0));
        let mut c = sample();
        assert!(set_cpu_set_size(&mut c, u32::MAX));
        assert_eq!(cpus(&c), None);
        assert!(!set_cpus(&mut c, 1));
        assert_eq!(memory_region(&c, 0), None);
        assert_eq!(name(&[0u8; 10]), None);
        assert_eq!(total_size(&[0u8; 10]), None);
        assert!(!set_num_memory_regions(&mut [0u8; 10], 1));
    }
}

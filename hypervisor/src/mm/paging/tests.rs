use super::*;
use std::collections::HashMap;

/// Host fake of the page pool: pages are entries of a map, addresses are
/// handed out from a counter, and a limit simulates an empty pool.
#[derive(Default)]
struct FakeMem {
    pages: HashMap<u64, Vec<u64>>,
    next: u64,
    limit: Option<usize>,
}

impl TableMemory for FakeMem {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        if self.limit.is_some_and(|l| self.pages.len() >= l) {
            return None;
        }
        self.next += 0x1000;
        let pa = 0x1_0000_0000 + self.next;
        self.pages.insert(pa, vec![0; ENTRIES]);
        Some(pa)
    }
    fn free_table(&mut self, table: PhysAddr) {
        assert!(self.pages.remove(&table).is_some(), "double free of {table:#x}");
    }
    fn read(&self, table: PhysAddr, idx: usize) -> u64 {
        self.pages[&table][idx]
    }
    fn write(&mut self, table: PhysAddr, idx: usize, value: u64) {
        self.pages.get_mut(&table).expect("write to unknown table")[idx] = value;
    }
}

fn s2(mem: &mut FakeMem) -> PageTable {
    PageTable::new(mem, Regime::Stage2, 39, 1).unwrap()
}

#[test]
fn aligned_gigabyte_uses_one_block() {
    let mut mem = FakeMem::default();
    let mut pt = s2(&mut mem);
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x4000_0000, Attrs::RWX).unwrap();
    assert_eq!(mem.pages.len(), 1, "only the root table");
    let (pa, bits) = pt.translate(&mem, 0x4123_4567).unwrap();
    assert_eq!(pa, 0x4123_4567);
    assert!(s2_writable(bits));
    assert_eq!(bits & XN, 0);
}

#[test]
fn reference_root_ram_uses_blocks_then_pages() {
    let mut mem = FakeMem::default();
    let mut pt = s2(&mut mem);
    // 0x4000_0000 + 0x3fa1_0000: 1 GiB block impossible (size), so 2 MiB blocks + a 4K tail.
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x3fa1_0000, Attrs::RWX).unwrap();
    assert_eq!(mem.pages.len(), 3, "root + one L2 + one L3 table");
    assert_eq!(pt.translate(&mem, 0x7fa0_f000).map(|t| t.0), Some(0x7fa0_f000));
    assert_eq!(pt.translate(&mem, 0x7fa1_0000), None);
    assert_eq!(pt.translate(&mem, 0x3fff_f000), None);
}

#[test]
fn unmap_splits_a_block_and_remap_merges_it_again() {
    let mut mem = FakeMem::default();
    let mut pt = s2(&mut mem);
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x4000_0000, Attrs::RWX).unwrap();
    pt.unmap(&mut mem, 0x7fa0_0000, 0x1_0000).unwrap();
    assert_eq!(pt.translate(&mem, 0x7fa0_0000), None);
    assert_eq!(pt.translate(&mem, 0x7fa0_f000), None);
    assert_eq!(pt.translate(&mem, 0x7fa1_0000).map(|t| t.0), Some(0x7fa1_0000));
    assert_eq!(pt.translate(&mem, 0x7f9f_f000).map(|t| t.0), Some(0x7f9f_f000));
    assert_eq!(mem.pages.len(), 3);
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x4000_0000, Attrs::RWX).unwrap();
    assert_eq!(mem.pages.len(), 1, "subtables freed when a block replaces them");
}

#[test]
fn giving_a_hole_back_merges_the_block_again() {
    let mut mem = FakeMem::default();
    let mut pt = s2(&mut mem);
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x3fa1_0000, Attrs::RWX).unwrap();
    let before = mem.pages.len();
    let block = pt.translate(&mem, 0x7f80_0000).unwrap();
    pt.unmap(&mut mem, 0x7f90_0000, 0x1_0000).unwrap();
    assert!(mem.pages.len() > before);
    pt.map(&mut mem, 0x7f90_0000, 0x7f90_0000, 0x1_0000, Attrs::RWX).unwrap();
    assert_eq!(mem.pages.len(), before, "the 2 MiB block is whole again");
    assert_eq!(pt.translate(&mem, 0x7f80_0000), Some(block));
    // Different attributes in the hole: no merge.
    pt.map(&mut mem, 0x7f90_0000, 0x7f90_0000, 0x1000, Attrs::RO).unwrap();
    assert!(mem.pages.len() > before);
}

#[test]
fn unmapping_everything_frees_the_tables() {
    let mut mem = FakeMem::default();
    let mut pt = PageTable::new(&mut mem, Regime::El2, 48, 0).unwrap();
    pt.map(&mut mem, 0xffff_f000_0000, 0x7fa0_0000, 0x1000, Attrs::RW).unwrap();
    assert_eq!(mem.pages.len(), 4);
    pt.unmap(&mut mem, 0xffff_f000_0000, 0x1000).unwrap();
    assert_eq!(mem.pages.len(), 1, "only the root is left");
}

#[test]
fn cell_memory_maps_at_other_guest_address() {
    let mut mem = FakeMem::default();
    let mut pt = s2(&mut mem);
    pt.map(&mut mem, 0, 0x7fa0_0000, 0x1_0000, Attrs::RWX).unwrap();
    pt.map(&mut mem, 0x8000_0000, 0x7000_0000, 0x1000, Attrs::RW).unwrap();
    assert_eq!(pt.translate(&mem, 0x1234).map(|t| t.0), Some(0x7fa0_1234));
    let (pa, bits) = pt.translate(&mem, 0x8000_0008).unwrap();
    assert_eq!(pa, 0x7000_0008);
    assert_ne!(bits & XN, 0);
}

#[test]
fn large_aligned_region_costs_few_tables() {
    let mut mem = FakeMem::default();
    let mut pt = s2(&mut mem);
    pt.map(&mut mem, 0x6000_0000, 0x6000_0000, 512 << 20, Attrs::RWX).unwrap();
    assert!(mem.pages.len() <= 2, "2 MiB blocks: {} tables", mem.pages.len());
}

#[test]
fn device_and_read_only_bits() {
    let mut mem = FakeMem::default();
    let mut pt = PageTable::new(&mut mem, Regime::El2, 48, 0).unwrap();
    pt.map(&mut mem, 0xffff_c000_0000, 0x7fc0_0000, 0x1000, Attrs::RO).unwrap();
    pt.map(&mut mem, 0xffff_d000_0000, 0x0900_0000, 0x1000, Attrs::DEVICE).unwrap();
    let (_, ro) = pt.translate(&mem, 0xffff_c000_0000).unwrap();
    assert_ne!(ro & (1 << 7), 0, "AP[2] read-only");
    let (pa, dev) = pt.translate(&mem, 0xffff_d000_0010).unwrap();
    assert_eq!(pa, 0x0900_0010);
    assert_eq!(dev & (7 << 2), 2 << 2, "MAIR index 2");
}

#[test]
fn out_of_memory_is_an_error_and_destroy_frees_everything() {
    let mut mem = FakeMem { limit: Some(2), ..Default::default() };
    let mut pt = s2(&mut mem);
    let err = pt.map(&mut mem, 0x1000, 0x1000, 0x1000, Attrs::RW);
    assert_eq!(err, Err(MapError::NoMemory));
    mem.limit = None;
    pt.map(&mut mem, 0x1000, 0x1000, 0x1000, Attrs::RW).unwrap();
    pt.destroy(&mut mem);
    assert!(mem.pages.is_empty());
}

#[test]
fn bad_ranges_are_rejected() {
    let mut mem = FakeMem::default();
    let mut pt = s2(&mut mem);
    assert_eq!(pt.map(&mut mem, 0x1001, 0, 0x1000, Attrs::RW), Err(MapError::BadRange));
    assert_eq!(pt.map(&mut mem, 0, 0, 0, Attrs::RW), Err(MapError::BadRange));
    assert_eq!(pt.map(&mut mem, 1 << 39, 0, 0x1000, Attrs::RW), Err(MapError::BadRange));
    assert_eq!(pt.map(&mut mem, u64::MAX - 0xfff, 0, 0x1000, Attrs::RW), Err(MapError::BadRange));
    assert_eq!(pt.unmap(&mut mem, 0, 0x800), Err(MapError::BadRange));
}

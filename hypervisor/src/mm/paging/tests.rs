use super::*;
use std::collections::HashMap;

/// What the walker did to its memory, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Ev {
    Alloc(u64),
    Free(u64),
    Write { table: u64, idx: usize, old: u64, new: u64 },
    Tlbi { scope: TlbScope, va: u64, size: u64 },
}

/// Host fake of the page pool: pages are entries of a map, addresses are
/// handed out from a counter, and a limit simulates an empty pool. Every
/// allocation, free, entry write and TLB invalidation is logged so tests
/// can check the order break-before-make demands.
#[derive(Default)]
pub(crate) struct FakeMem {
    pub pages: HashMap<u64, Vec<u64>>,
    next: u64,
    pub limit: Option<usize>,
    pub log: Vec<Ev>,
    /// Allocations so far, and the one (1-based) that fails.
    pub allocs: usize,
    pub fail_at: Option<usize>,
}

impl TableMemory for FakeMem {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        if self.limit.is_some_and(|l| self.pages.len() >= l) {
            return None;
        }
        self.allocs += 1;
        if self.fail_at == Some(self.allocs) {
            return None;
        }
        self.next += 0x1000;
        let pa = 0x1_0000_0000 + self.next;
        self.pages.insert(pa, vec![0; ENTRIES]);
        self.log.push(Ev::Alloc(pa));
        Some(pa)
    }
    fn alloc_root(&mut self, pages: usize) -> Option<PhysAddr> {
        if self.limit.is_some_and(|l| self.pages.len() + pages > l) {
            return None;
        }
        self.allocs += 1;
        if self.fail_at == Some(self.allocs) {
            return None;
        }
        // Aligned to the block, as the buddy pool does.
        let size = pages as u64 * 0x1000;
        self.next = (self.next + 0x1000).next_multiple_of(size);
        let pa = 0x1_0000_0000 + self.next;
        self.next += size - 0x1000;
        for p in 0..pages as u64 {
            self.pages.insert(pa + p * 0x1000, vec![0; ENTRIES]);
            self.log.push(Ev::Alloc(pa + p * 0x1000));
        }
        Some(pa)
    }
    fn free_table(&mut self, table: PhysAddr) {
        assert!(self.pages.remove(&table).is_some(), "double free of {table:#x}");
        self.log.push(Ev::Free(table));
    }
    fn read(&self, table: PhysAddr, idx: usize) -> u64 {
        self.pages[&table][idx]
    }
    fn write(&mut self, table: PhysAddr, idx: usize, value: u64) {
        let slot = &mut self.pages.get_mut(&table).expect("write to unknown table")[idx];
        let old = core::mem::replace(slot, value);
        self.log.push(Ev::Write { table, idx, old, new: value });
    }
    fn invalidate(&mut self, scope: TlbScope, va: u64, size: u64) {
        self.log.push(Ev::Tlbi { scope, va, size });
    }
}

fn valid(d: u64) -> bool {
    d & DESC_VALID != 0
}

/// Replays `log` (operations on the table rooted at `root`, whose top
/// level is `start_level`, in scope `scope`) and panics at the first
/// break of the rules: a valid entry replaced by a different valid one
/// without going through invalid; a new entry written into a broken slot
/// before a TLBI covering it; a table page freed before a TLBI covering
/// the entry that linked it; an invalidation still missing at the end.
/// Tables not yet linked (being filled) are free to write.
pub(crate) fn check_bbm(log: &[Ev], root: u64, start_level: usize, scope: TlbScope) {
    check_bbm_pages(log, root, 1, start_level, scope)
}

/// [`check_bbm`] for a root of `pages` concatenated tables.
pub(crate) fn check_bbm_pages(log: &[Ev], root: u64, pages: usize, start_level: usize, scope: TlbScope) {
    // Table page -> (first address it translates, its level).
    let page_span = ENTRIES as u64 * (1u64 << level_shift(start_level));
    let mut tables: HashMap<u64, (u64, usize)> =
        (0..pages as u64).map(|p| (root + p * 0x1000, (p * page_span, start_level))).collect();
    // Broken slots and unlinked table pages, each with the range a TLBI
    // must still cover.
    let mut broken: HashMap<(u64, usize), (u64, u64)> = HashMap::new();
    let mut orphans: HashMap<u64, (u64, u64)> = HashMap::new();
    for (n, ev) in log.iter().enumerate() {
        match *ev {
            Ev::Write { table, idx, old, new } => {
                let Some(&(base, level)) = tables.get(&table) else { continue };
                let span = 1u64 << level_shift(level);
                let va = base + idx as u64 * span;
                assert!(
                    !(valid(old) && valid(new) && old != new),
                    "event {n}: valid entry {old:#x} replaced by {new:#x} at {va:#x} without break"
                );
                assert!(
                    !(valid(new) && broken.contains_key(&(table, idx))),
                    "event {n}: entry at {va:#x} made before the TLBI after its break"
                );
                if valid(old) && !valid(new) {
                    broken.insert((table, idx), (va, va + span));
                    if is_table(old, level) {
                        for (&t, &(b, l)) in &tables {
                            if l > level && va <= b && b < va + span {
                                orphans.insert(t, (va, va + span));
                            }
                        }
                    }
                }
                if is_table(new, level) {
                    tables.insert(new & ADDR_MASK, (va, level + 1));
                }
            }
            Ev::Tlbi { scope: s, va, size } => {
                assert_eq!(s, scope, "event {n}: TLBI for the wrong VMID/regime");
                let covered = |r: &(u64, u64)| va <= r.0 && r.1 <= va + size;
                broken.retain(|_, r| !covered(r));
                orphans.retain(|_, r| !covered(r));
            }
            Ev::Free(pa) => {
                assert!(!orphans.contains_key(&pa), "event {n}: table {pa:#x} freed before the TLBI that unlinks it");
                tables.remove(&pa);
            }
            Ev::Alloc(_) => {}
        }
    }
    assert!(broken.is_empty(), "invalidations missing at the end: {broken:x?}");
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

/// Splits, merges, remaps with other attributes and unmaps on a live
/// table, each checked against the break-before-make rules.
#[test]
fn every_change_of_a_valid_entry_breaks_invalidates_then_makes() {
    let mut mem = FakeMem::default();
    let mut pt = PageTable::stage2(&mut mem, 7).unwrap();
    let root = pt.root();
    let scope = TlbScope::Stage2 { vmid: 7, root };
    let check_bbm = |log: &[Ev], root, level, scope| check_bbm_pages(log, root, 2, level, scope);
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x4000_0000, Attrs::RWX).unwrap();
    // Block → table (1 GiB, then 2 MiB) for a hole.
    pt.unmap(&mut mem, 0x7fa0_0000, 0x1_0000).unwrap();
    check_bbm(&mem.log, root, 1, scope);
    let splits = mem.log.iter().filter(|e| matches!(e, Ev::Tlbi { size: 0x4000_0000, .. })).count();
    assert!(splits >= 1, "the 1 GiB block split was invalidated: {:x?}", mem.log);
    // Remap with other attributes over valid pages, and over a block.
    pt.map(&mut mem, 0x7f9f_0000, 0x7f9f_0000, 0x1000, Attrs::RO).unwrap();
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x20_0000, Attrs::RO).unwrap();
    // Remap to another address.
    pt.map(&mut mem, 0x7f9f_1000, 0x9000_0000, 0x1000, Attrs::RW).unwrap();
    check_bbm(&mem.log, root, 1, scope);
    // Table → block merges all the way back up.
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x4000_0000, Attrs::RWX).unwrap();
    check_bbm(&mem.log, root, 1, scope);
    assert_eq!(mem.pages.len(), pt.root_pages(), "merged back into one block");
    // Unmap everything: frees only after the invalidation.
    pt.unmap(&mut mem, 0x4000_0000, 0x4000_0000).unwrap();
    check_bbm(&mem.log, root, 1, scope);
}

#[test]
fn a_freed_table_waits_for_its_invalidation() {
    let mut mem = FakeMem::default();
    let mut pt = PageTable::stage2(&mut mem, 3).unwrap();
    pt.map(&mut mem, 0x1000, 0x1000, 0x1000, Attrs::RW).unwrap();
    let roots = [pt.root(), pt.root() + 0x1000];
    let tables: Vec<u64> = mem.pages.keys().copied().filter(|p| !roots.contains(p)).collect();
    assert_eq!(tables.len(), 2);
    mem.log.clear();
    pt.unmap(&mut mem, 0x1000, 0x1000).unwrap();
    for t in tables {
        let freed = mem.log.iter().position(|e| *e == Ev::Free(t)).expect("table freed");
        let tlbi = mem.log.iter().position(|e| matches!(e, Ev::Tlbi { .. })).expect("a TLBI");
        assert!(tlbi < freed, "TLBI before free: {:x?}", mem.log);
    }
    check_bbm_pages(&mem.log, pt.root(), 2, 1, TlbScope::Stage2 { vmid: 3, root: pt.root() });
}

#[test]
fn the_checker_catches_a_make_before_invalidation() {
    // The checker itself must be able to fail.
    let root = 0x1000;
    let log = [
        Ev::Write { table: root, idx: 1, old: 0, new: 0x4000_0000 | 0x401 },
        Ev::Write { table: root, idx: 1, old: 0x4000_0000 | 0x401, new: 0 },
        Ev::Write { table: root, idx: 1, old: 0, new: 0x4000_0000 | 0x4c1 },
    ];
    let r = std::panic::catch_unwind(|| check_bbm(&log, root, 1, TlbScope::El2));
    assert!(r.is_err());
    let direct = [
        Ev::Write { table: root, idx: 1, old: 0, new: 0x4000_0000 | 0x401 },
        Ev::Write { table: root, idx: 1, old: 0x4000_0000 | 0x401, new: 0x4000_0000 | 0x4c1 },
    ];
    assert!(std::panic::catch_unwind(|| check_bbm(&direct, root, 1, TlbScope::El2)).is_err());
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

#[test]
fn revoke_stops_every_translation_and_restore_brings_them_back() {
    let mut mem = FakeMem::default();
    let mut pt = PageTable::stage2(&mut mem, 5).unwrap();
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x4000_0000, Attrs::RWX).unwrap();
    pt.map(&mut mem, 0x8000_0000, 0x9000_0000, 0x3fa1_0000, Attrs::RWX).unwrap();
    let before = mem.pages.clone();
    mem.log.clear();
    pt.revoke(&mut mem);
    for ipa in [0x4123_4567, 0x8000_0000, 0xbfa0_f000] {
        assert_eq!(pt.translate(&mem, ipa), None, "{ipa:#x} still translates");
    }
    // The top-level entries were written invalid, then one TLBI of the
    // whole IPA space in the table's VMID: nothing cached survives.
    let last = mem.log.last().cloned();
    assert_eq!(last, Some(Ev::Tlbi { scope: pt.scope(), va: 0, size: 1 << 40 }));
    assert!(mem.log.iter().all(|e| match e {
        Ev::Write { table, new, .. } => (*table == pt.root() || *table == pt.root() + 0x1000) && new & 1 == 0,
        Ev::Tlbi { .. } => true,
        _ => false,
    }));
    pt.restore(&mut mem);
    assert_eq!(mem.pages, before, "every entry as before");
    assert_eq!(pt.translate(&mem, 0x4123_4567).map(|t| t.0), Some(0x4123_4567));
    assert_eq!(pt.translate(&mem, 0x8000_1000).map(|t| t.0), Some(0x9000_1000));
    // Restoring a table that was never revoked changes nothing.
    pt.restore(&mut mem);
    assert_eq!(mem.pages, before);
    pt.destroy(&mut mem);
    assert!(mem.pages.is_empty(), "destroy after restore frees every table");
}

/// The stage 2 covers 40 bits through two concatenated root pages: an
/// address at 512 GiB and up (QEMU virt's high PCI window) is an entry of
/// the second page, maps, translates, is revoked and restored with the
/// rest, and every page (both root pages too) goes back on destroy.
#[test]
fn stage2_reaches_the_high_window_through_the_second_root_page() {
    let mut mem = FakeMem::default();
    let mut pt = PageTable::stage2(&mut mem, 9).unwrap();
    let root = pt.root();
    assert_eq!(pt.root_pages(), 2);
    assert_eq!(root % 0x2000, 0, "a concatenated root is aligned to its size");
    let bar = 0x80_0000_4000;
    pt.map(&mut mem, bar, bar, 0x4000, Attrs::DEVICE).unwrap();
    pt.map(&mut mem, 0x4000_0000, 0x4000_0000, 0x4000_0000, Attrs::RWX).unwrap();
    assert_eq!(pt.translate(&mem, bar + 0x10).map(|t| t.0), Some(bar + 0x10));
    assert_eq!(pt.translate(&mem, bar + 0x4000), None);
    // Entry 512 of the level-1 root = entry 0 of its second page.
    assert!(mem.pages[&(root + 0x1000)][0] & 1 != 0);
    assert_eq!(mem.pages[&root][0], 0, "nothing at 0..1 GiB");
    // The last GiB of the 40-bit space, and not one byte beyond.
    let top = (1u64 << 40) - 0x1000;
    pt.map(&mut mem, top, top, 0x1000, Attrs::RW).unwrap();
    assert!(mem.pages[&(root + 0x1000)][511] & 1 != 0);
    assert_eq!(pt.map(&mut mem, 1 << 40, 1 << 40, 0x1000, Attrs::RW), Err(MapError::BadRange));
    check_bbm_pages(&mem.log, root, 2, 1, pt.scope());
    pt.revoke(&mut mem);
    assert_eq!(pt.translate(&mem, bar), None);
    pt.restore(&mut mem);
    assert_eq!(pt.translate(&mem, bar).map(|t| t.0), Some(bar));
    pt.unmap(&mut mem, bar, 0x4000).unwrap();
    pt.unmap(&mut mem, top, 0x1000).unwrap();
    assert_eq!(mem.pages[&(root + 0x1000)][0], 0);
    check_bbm_pages(&mem.log, root, 2, 1, pt.scope());
    pt.destroy(&mut mem);
    assert!(mem.pages.is_empty(), "pages left: {:x?}", mem.pages.keys());
}

/// A DMA mirror (stage 1, no concatenation) covers the same 40 bits from
/// level 0 in one root page.
#[test]
fn dma_mirror_covers_forty_bits_from_level_zero() {
    let mut mem = FakeMem::default();
    let mut pt = PageTable::dma(&mut mem).unwrap();
    assert_eq!(pt.root_pages(), 1);
    pt.map(&mut mem, 0x80_0000_0000, 0x80_0000_0000, 0x1000, Attrs::RW).unwrap();
    assert!(mem.pages[&pt.root()][1] & 3 == 3, "level-0 entry 1 is a table");
    assert_eq!(pt.map(&mut mem, 1 << 40, 0, 0x1000, Attrs::RW), Err(MapError::BadRange));
    pt.destroy(&mut mem);
    assert!(mem.pages.is_empty());
}

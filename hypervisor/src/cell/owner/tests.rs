//! The ownership module against a fake machine: table memory with
//! injectable allocation failure (`mm::paging` tests' `FakeMem`), a fake
//! interrupt controller, and a record of cache maintenance.

use super::*;
use crate::cell::desc::tests::{cell_bytes, platform, root as root_desc, GICD, RW};
use crate::mm::paging::tests::{check_bbm, Ev, FakeMem};
use crate::sysconfig::{mem_flags, CellView};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug, PartialEq, Eq)]
enum Step {
    Tlbi(TlbScope, u64, u64),
    Clean(u64, u64),
    Ic,
    /// A stream re-pointed: (sid, new owner; None = aborted).
    Stream(u32, Option<u32>),
}

#[derive(Default)]
struct FakeHw {
    mem: FakeMem,
    /// SPI -> owner (absent: nobody's).
    spis: BTreeMap<u32, u8>,
    /// SPIs whose root configuration was saved by assign_spi.
    saved: BTreeMap<u32, bool>,
    steps: Vec<Step>,
    /// DMA through stage-1 mirrors.
    mirror: bool,
    /// Stream -> (owner, domain).
    streams: BTreeMap<u32, (u32, DmaDomain)>,
    /// Stream-table pages (one per 64 streams) made by prepare_stream,
    /// from the same memory as the tables (so a leak shows in snapshots).
    l2: BTreeMap<u32, PhysAddr>,
    /// The MSI doorbell page cells with MSI devices get.
    doorbell: Option<PhysAddr>,
}

impl TableMemory for FakeHw {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        self.mem.alloc_table()
    }
    fn free_table(&mut self, t: PhysAddr) {
        self.mem.free_table(t)
    }
    fn read(&self, t: PhysAddr, i: usize) -> u64 {
        self.mem.read(t, i)
    }
    fn write(&mut self, t: PhysAddr, i: usize, v: u64) {
        self.mem.write(t, i, v)
    }
    fn invalidate(&mut self, scope: TlbScope, va: u64, size: u64) {
        self.mem.invalidate(scope, va, size);
        self.steps.push(Step::Tlbi(scope, va, size));
    }
}

impl Hw for FakeHw {
    fn clean_inval(&mut self, pa: PhysAddr, size: u64) {
        self.steps.push(Step::Clean(pa, size));
    }
    fn icache_inval(&mut self) {
        self.steps.push(Step::Ic);
    }
    fn spi_owner(&self, irq: u32) -> Option<u8> {
        self.spis.get(&irq).copied()
    }
    fn assign_spi(&mut self, irq: u32, cell: u8, _mpidr: u64) {
        self.saved.insert(irq, true);
        self.spis.insert(irq, cell);
    }
    fn release_spi(&mut self, irq: u32) {
        self.saved.remove(&irq);
        self.spis.insert(irq, 0);
    }
    fn adopt_spi(&mut self, irq: u32) {
        self.spis.insert(irq, 0);
    }
    fn dma_mirror(&self) -> bool {
        self.mirror
    }
    fn msi_doorbell(&self, desc: &CellDesc) -> Option<PhysAddr> {
        self.doorbell.filter(|_| desc.has_msi())
    }
    fn stream_owner(&self, sid: u32) -> Option<u32> {
        self.streams.get(&sid).map(|s| s.0)
    }
    fn prepare_stream(&mut self, sid: u32) -> Result<()> {
        if !self.l2.contains_key(&(sid >> 6)) {
            let p = self.mem.alloc_table().ok_or(Error::NoMemory)?;
            self.l2.insert(sid >> 6, p);
        }
        Ok(())
    }
    fn release_stream_room(&mut self, sids: &[u32]) {
        let idle: Vec<u32> = self.l2.keys().copied().filter(|&i| sids.iter().any(|&s| s >> 6 == i) && !self.streams.keys().any(|&s| s >> 6 == i)).collect();
        for i in idle {
            if let Some(p) = self.l2.remove(&i) {
                self.mem.free_table(p);
            }
        }
    }
    fn assign_stream(&mut self, sid: u32, d: DmaDomain) {
        self.streams.insert(sid, (d.cell, d));
        self.steps.push(Step::Stream(sid, Some(d.cell)));
    }
    fn abort_stream(&mut self, sid: u32) {
        self.streams.remove(&sid);
        self.steps.push(Step::Stream(sid, None));
    }
}

/// Everything a failed prepare must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    pages: HashMap<u64, Vec<u64>>,
    ledger: Vec<ledger::Owned>,
    spis: BTreeMap<u32, u8>,
    saved: BTreeMap<u32, bool>,
}

struct World {
    hw: FakeHw,
    root_pt: PageTable,
    root_desc: CellDesc,
    ledger: Ledger,
}

impl World {
    fn new() -> Self {
        Self::with_root(root_desc())
    }

    fn with_root(root_desc: CellDesc) -> Self {
        let mut hw = FakeHw::default();
        let p = platform();
        let mut hidden = vec![p.hv];
        hidden.extend(p.reserved_io.iter().copied());
        let root_pt = build_root(&mut hw, &root_desc, &hidden, &[p.hv.start]).unwrap();
        for irq in [40, 41, 42] {
            hw.adopt_spi(irq);
        }
        World { hw, root_pt, root_desc, ledger: Ledger::new() }
    }

    fn snapshot(&self) -> Snapshot {
        Snapshot {
            pages: self.hw.mem.pages.clone(),
            ledger: self.ledger.spans().to_vec(),
            spis: self.hw.spis.clone(),
            saved: self.hw.saved.clone(),
        }
    }

    fn split(&mut self) -> (&mut FakeHw, Root<'_>) {
        (&mut self.hw, Root { stage2: &mut self.root_pt, desc: &self.root_desc, ledger: &mut self.ledger, dma: None })
    }

    fn root_maps(&self, pa: u64) -> bool {
        self.root_pt.translate(&self.hw.mem, pa).is_some()
    }

    /// Runs `prepare` with the k-th allocation failing, for k = 1, 2, ...
    /// until it succeeds; after every failure the state must be exactly
    /// as before. Returns the successful result.
    fn prepare_until_ok<T>(&mut self, mut prepare: impl FnMut(&mut FakeHw, &mut Root<'_>) -> Result<T>) -> T {
        for k in 1..10_000 {
            let before = self.snapshot();
            self.hw.mem.allocs = 0;
            self.hw.mem.fail_at = Some(k);
            let (hw, mut root) = self.split();
            let r = prepare(hw, &mut root);
            self.hw.mem.fail_at = None;
            match r {
                Ok(v) => {
                    assert!(k > 1, "the prepare allocates, so the first allocation failing must fail it");
                    return v;
                }
                Err(e) => {
                    assert_eq!(e, Error::NoMemory, "allocation {k}");
                    assert!(self.snapshot() == before, "state changed by a prepare failing at allocation {k}");
                }
            }
        }
        panic!("prepare never succeeded");
    }

    /// Runs a commit and checks it took nothing from the pool beyond its
    /// reserve.
    fn commit<T>(&mut self, f: impl FnOnce(&mut FakeHw, &mut Root<'_>) -> T) -> T {
        let allocs = self.hw.mem.allocs;
        let (hw, mut root) = self.split();
        let v = f(hw, &mut root);
        assert_eq!(self.hw.mem.allocs, allocs, "a commit allocated beyond its reserve");
        v
    }
}

const LOAD: u64 = 0x7000_0000;

/// A cell with a loadable region, a region whose edges split root blocks
/// down to pages, a ROOTSHARED page, a comm page and an SPI.
fn cell() -> CellDesc {
    let x = mem_flags::EXECUTE | mem_flags::LOADABLE;
    let bytes = cell_bytes(
        "c1",
        0b10,
        &[
            (LOAD, 0, 0x10_0000, RW | x),
            (0x6000_3000, 0x100_0000, 0x20_5000, RW),
            (0x0900_0000, 0x0900_0000, 0x1000, RW | mem_flags::IO | mem_flags::ROOTSHARED),
            (0, 0x8000_0000, 0x1000, RW | mem_flags::COMM_REGION),
        ],
        GICD,
        &[40],
    );
    CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &root_desc()).unwrap()
}

#[test]
fn every_prepare_survives_an_allocation_failure_at_every_step() {
    let mut w = World::new();
    let initial = w.snapshot();
    let desc = cell();

    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    let h = w.commit(|hw, root| commit_create(hw, root, &desc, 1, plan, 0x1));
    assert!(!w.root_maps(LOAD) && !w.root_maps(0x6000_3000) && !w.root_maps(0x6020_7000));
    assert!(w.root_maps(0x6000_2000) && w.root_maps(0x6020_8000), "neighbours stay the root's");
    assert!(w.root_maps(0x0900_0000), "ROOTSHARED stays mapped in the root");
    assert_eq!(w.hw.spis[&40], 1);
    assert_eq!(w.ledger.spans().len(), 2);
    assert_eq!(h.stage2.translate(&w.hw.mem, 0x8000_0010).map(|t| t.0), h.comm.map(|c| c + 0x10));
    assert_eq!(h.stage2.translate(&w.hw.mem, 0x100_0000).map(|t| t.0), Some(0x6000_3000));

    let r = w.prepare_until_ok(|hw, root| prepare_loadable(hw, root, &desc));
    w.commit(|hw, root| commit_loadable(hw, root, &desc, r));
    assert!(w.root_maps(LOAD) && !w.root_maps(0x6000_3000));

    let r = w.prepare_until_ok(|hw, _| prepare_start(hw, &desc));
    w.hw.steps.clear();
    w.commit(|hw, root| commit_start(hw, root, &desc, h.stage2.scope(), h.comm, r));
    assert!(!w.root_maps(LOAD));

    let r = w.prepare_until_ok(|hw, root| prepare_destroy(hw, root, &desc));
    w.commit(|hw, root| commit_destroy(hw, root, &desc, 1, h, r));
    let after = w.snapshot();
    assert_eq!(after.pages, initial.pages, "root tables as before the create, nothing leaked");
    assert_eq!(after, initial);
    check_bbm(&bbm_log(&w.hw.mem.log, &w.root_pt), w.root_pt.root(), 1, w.root_pt.scope());
}

/// The root table's part of the log (other tables' writes are skipped by
/// the checker; TLBIs of other VMIDs are dropped here).
fn bbm_log(log: &[Ev], root: &PageTable) -> Vec<Ev> {
    log.iter()
        .filter(|e| !matches!(e, Ev::Tlbi { scope, .. } if *scope != root.scope()))
        .cloned()
        .collect()
}

#[test]
fn start_unmaps_invalidates_cleans_then_invalidates_icache() {
    let mut w = World::new();
    let desc = cell();
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    let h = w.commit(|hw, root| commit_create(hw, root, &desc, 1, plan, 0));
    let r = w.prepare_until_ok(|hw, root| prepare_loadable(hw, root, &desc));
    w.commit(|hw, root| commit_loadable(hw, root, &desc, r));
    w.hw.steps.clear();
    let r = w.prepare_until_ok(|hw, _| prepare_start(hw, &desc));
    w.commit(|hw, root| commit_start(hw, root, &desc, h.stage2.scope(), h.comm, r));
    let steps = &w.hw.steps;
    let root_tlbi = steps
        .iter()
        .position(|s| matches!(*s, Step::Tlbi(TlbScope::Stage2 { vmid: 0, .. }, va, size) if va <= LOAD && LOAD + 0x10_0000 <= va + size))
        .expect("the root's TLB entries for the loadable memory are invalidated");
    let clean = steps.iter().position(|s| *s == Step::Clean(LOAD, 0x10_0000)).expect("loadable memory cleaned");
    let comm_clean = steps.iter().position(|s| *s == Step::Clean(h.comm.unwrap(), PAGE_SIZE)).expect("comm page cleaned");
    let ic = steps.iter().position(|s| *s == Step::Ic).expect("I-cache invalidated");
    assert!(root_tlbi < clean && clean < ic && comm_clean < ic, "{steps:x?}");
    assert!(!steps.contains(&Step::Clean(0x6000_3000, 0x20_5000)), "only loadable memory is cleaned");
}

#[test]
fn memory_or_interrupts_of_another_cell_are_refused_without_change() {
    let mut w = World::new();
    let desc = cell();
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    let _h = w.commit(|hw, root| commit_create(hw, root, &desc, 1, plan, 0));
    let before = w.snapshot();
    let (hw, mut root) = w.split();
    let e = prepare_create(hw, &mut root, &desc, 2, 2).unwrap_err();
    assert_eq!(e, Error::Busy);
    assert!(w.snapshot() == before);
    // Other memory, same SPI: still refused.
    let bytes = cell_bytes("c2", 0b100, &[(0x5000_0000, 0, 0x1000, RW)], GICD, &[40]);
    let d2 = CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &root_desc()).unwrap();
    let (hw, mut root) = w.split();
    assert_eq!(prepare_create(hw, &mut root, &d2, 2, 2).unwrap_err(), Error::Busy);
    assert!(w.snapshot() == before);
}

#[test]
fn destroy_gives_everything_back_even_with_an_empty_pool_after_prepare() {
    let mut w = World::new();
    let initial = w.snapshot();
    let desc = cell();
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    let h = w.commit(|hw, root| commit_create(hw, root, &desc, 1, plan, 0));
    let r = w.prepare_until_ok(|hw, root| prepare_destroy(hw, root, &desc));
    // The pool is empty from here: commit must live on its reserve.
    w.hw.mem.limit = Some(0);
    w.commit(|hw, root| commit_destroy(hw, root, &desc, 1, h, r));
    w.hw.mem.limit = None;
    assert_eq!(w.snapshot(), initial);
}

/// A root with 4 GiB of RAM: whole 1 GiB blocks above the hypervisor.
fn big_root() -> CellDesc {
    let bytes = cell_bytes("root", 0b1111, &[(0x4000_0000, 0x4000_0000, 0x1_0000_0000, RW | mem_flags::EXECUTE)], GICD, &[]);
    CellDesc::for_root(&CellView::parse(&bytes).unwrap(), &platform()).unwrap()
}

#[test]
fn the_reserve_bound_covers_worst_case_edges() {
    // Regions whose both edges sit inside 1 GiB blocks of the root: each
    // needs a full split chain (level 2 and level 3 table) at both ends.
    let mut w = World::with_root(big_root());
    let initial = w.snapshot();
    let splits = [(0x8000_1000u64, 0x4000_0000u64), (0x1_0000_3000, 0x2000), (0x1_2345_6000, 0x1000_0000)];
    for (n, (start, size)) in splits.into_iter().enumerate() {
        let bytes = cell_bytes("e", 0b10, &[(start, start, size, RW | mem_flags::LOADABLE)], GICD, &[]);
        let desc = CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &w.root_desc).unwrap();
        let id = n as u32 + 1;
        let pages = w.hw.mem.pages.len();
        let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, id, id as u16));
        let h = w.commit(|hw, root| commit_create(hw, root, &desc, id, plan, 0));
        assert!(!w.root_maps(start) && !w.root_maps(start + size - 1));
        assert!(w.root_maps(start - 1) && w.root_maps(start + size));
        let r = w.prepare_until_ok(|hw, root| prepare_loadable(hw, root, &desc));
        w.commit(|hw, root| commit_loadable(hw, root, &desc, r));
        let r = w.prepare_until_ok(|hw, _| prepare_start(hw, &desc));
        w.commit(|hw, root| commit_start(hw, root, &desc, h.stage2.scope(), h.comm, r));
        let r = w.prepare_until_ok(|hw, root| prepare_destroy(hw, root, &desc));
        w.commit(|hw, root| commit_destroy(hw, root, &desc, id, h, r));
        assert_eq!(w.hw.mem.pages.len(), pages);
    }
    assert_eq!(w.snapshot(), initial);
    check_bbm(&bbm_log(&w.hw.mem.log, &w.root_pt), w.root_pt.root(), 1, w.root_pt.scope());
}

/// A cell owning stream 8, which the root lists too, and stream 16,
/// which only the cell lists.
fn dma_cell() -> CellDesc {
    let mut d = cell();
    d.streams = vec![8, 16];
    d
}

#[test]
fn streams_follow_memory_in_the_safe_order() {
    let mut rd = root_desc();
    rd.streams = vec![8];
    let mut w = World::with_root(rd);
    let root_dom = DmaDomain { cell: 0, vmid: 0, s2_root: w.root_pt.root(), mirror: None };
    let desc = w.root_desc.clone();
    attach_root_streams(&mut w.hw, &desc, root_dom).unwrap();
    assert_eq!(w.hw.stream_owner(8), Some(0));
    assert_eq!(w.hw.stream_owner(16), None, "undescribed streams are nobody's (aborted)");

    let desc = dma_cell();
    w.hw.steps.clear();
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    let h = w.commit(|hw, root| commit_create(hw, root, &desc, 1, plan, 0));
    let steps = w.hw.steps.clone();
    let pos = |f: &dyn Fn(&Step) -> bool| steps.iter().position(f).unwrap();
    let root_unmap = pos(&|s| matches!(*s, Step::Tlbi(TlbScope::Stage2 { vmid: 0, .. }, va, size) if va <= LOAD && LOAD < va + size));
    let hroot = h.stage2.root();
    let cell_inval = pos(&|s| matches!(*s, Step::Tlbi(TlbScope::Stage2 { vmid: 1, root }, 0, _) if root == hroot));
    let given = pos(&|s| *s == Step::Stream(8, Some(1)));
    assert!(root_unmap < cell_inval && cell_inval < given, "{steps:x?}");
    assert_eq!(w.hw.streams[&8].1, h.domain(1));
    assert_eq!(w.hw.streams[&8].1.s2_root, h.stage2.root());

    // A second cell cannot take a stream the first holds.
    let mut other = dma_cell();
    other.regions.clear();
    let (hw, mut root) = w.split();
    assert_eq!(prepare_create(hw, &mut root, &other, 2, 2).map(|_| ()).unwrap_err(), Error::Busy);

    w.hw.steps.clear();
    let r = w.prepare_until_ok(|hw, root| prepare_destroy(hw, root, &desc));
    w.commit(|hw, root| commit_destroy(hw, root, &desc, 1, h, r));
    let steps = w.hw.steps.clone();
    let pos = |f: &dyn Fn(&Step) -> bool| steps.iter().position(f).unwrap();
    let back = pos(&|s| *s == Step::Stream(8, Some(0)));
    let aborted = pos(&|s| *s == Step::Stream(16, None));
    let cell_inval = pos(&|s| matches!(*s, Step::Tlbi(TlbScope::Stage2 { vmid: 1, root }, 0, _) if root == hroot));
    assert!(back < cell_inval && aborted < cell_inval, "streams leave the cell before its memory: {steps:x?}");
    assert!(w.root_maps(LOAD));
    assert_eq!(w.hw.streams[&8].1, root_dom);
    assert_eq!(w.hw.stream_owner(16), None);
}

#[test]
fn a_failed_create_gives_its_stream_table_pages_back() {
    let mut w = World::new();
    let initial = w.snapshot();
    let mut desc = cell();
    // A stream in a range of 64 nobody has described: its prepare makes
    // a stream-table page, which every later failure must return (the
    // snapshot compares all table memory).
    desc.streams = vec![0x100];
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    assert!(w.hw.l2.contains_key(&4));
    // The caller's later refusal (abandon) returns it as well.
    let before_abandon = w.hw.mem.pages.len();
    plan.abandon(&mut w.hw, &desc);
    assert!(w.hw.l2.is_empty(), "abandon keeps no stream-table page");
    assert!(w.hw.mem.pages.len() < before_abandon);
    assert!(w.snapshot() == initial, "nothing of the create remains");
}

#[test]
fn dma_mirror_follows_the_root_and_leaks_nothing() {
    let mut w = World::new();
    w.hw.mirror = true;
    let p = platform();
    let mut hidden = vec![p.hv];
    hidden.extend(p.reserved_io.iter().copied());
    let rd = w.root_desc.clone();
    let mut mirror = build_root_dma(&mut w.hw, &rd, &hidden).unwrap();
    assert!(mirror.translate(&w.hw.mem, LOAD).is_some());
    assert!(mirror.translate(&w.hw.mem, p.hv.start).is_none(), "no hypervisor page, not even read-only ones");
    let initial = w.hw.mem.pages.clone();
    let desc = dma_cell();
    let h = {
        let World { hw, root_pt, root_desc, ledger } = &mut w;
        let mut root = Root { stage2: root_pt, desc: root_desc, ledger, dma: Some(&mut mirror) };
        let plan = prepare_create(hw, &mut root, &desc, 1, 1).unwrap();
        commit_create(hw, &mut root, &desc, 1, plan, 0)
    };
    assert!(mirror.translate(&w.hw.mem, LOAD).is_none(), "the cell's memory left the root's DMA view");
    let cm = h.dma.as_ref().expect("a cell with streams gets a mirror");
    assert_eq!(cm.translate(&w.hw.mem, 0x100_0000).map(|t| t.0), Some(0x6000_3000));
    assert!(w.hw.steps.iter().any(|s| matches!(s, Step::Tlbi(TlbScope::Dma, ..))));
    {
        let World { hw, root_pt, root_desc, ledger } = &mut w;
        let mut root = Root { stage2: root_pt, desc: root_desc, ledger, dma: Some(&mut mirror) };
        let r = prepare_destroy(hw, &root, &desc).unwrap();
        commit_destroy(hw, &mut root, &desc, 1, h, r);
    }
    assert!(mirror.translate(&w.hw.mem, LOAD).is_some(), "and came back");
    assert_eq!(w.hw.mem.pages, initial, "nothing leaked");
}

/// 00:05.0's page of the real ECAM (desc tests' `EDU`).
const EDU_CFG: u64 = 0x40_1002_8000;

fn edu_cell() -> CellDesc {
    use crate::cell::desc::tests::{device_cell, root_with_ecam, EDU};
    let bytes = device_cell(EDU);
    CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &root_with_ecam()).unwrap()
}

#[test]
fn a_passed_through_device_takes_its_config_page_from_the_root_and_gives_it_back() {
    let mut w = World::with_root(crate::cell::desc::tests::root_with_ecam());
    let initial = w.snapshot();
    assert!(w.root_maps(EDU_CFG));
    let desc = edu_cell();
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    let h = w.commit(|hw, root| commit_create(hw, root, &desc, 1, plan, 0));
    assert!(!w.root_maps(EDU_CFG), "the root's accesses to the device's config space trap");
    assert!(w.root_maps(EDU_CFG - 0x1000) && w.root_maps(EDU_CFG + 0x1000), "only that function's page");
    assert!(h.stage2.translate(&w.hw.mem, EDU_CFG).is_none(), "the cell reaches it through its virtual host only");
    // Another cell with the same device: refused, nothing changed.
    let before = w.snapshot();
    let (hw, mut root) = w.split();
    assert_eq!(prepare_create(hw, &mut root, &edu_cell(), 2, 2).unwrap_err(), Error::Busy);
    assert!(w.snapshot() == before);
    let r = w.prepare_until_ok(|hw, root| prepare_destroy(hw, root, &desc));
    w.hw.mem.limit = Some(0);
    w.commit(|hw, root| commit_destroy(hw, root, &desc, 1, h, r));
    w.hw.mem.limit = None;
    assert!(w.root_maps(EDU_CFG));
    assert_eq!(w.snapshot(), initial);
}

/// A cell whose device shows its MSI capability gets the ITS doorbell
/// page mapped 1:1 (device, writable) in its stage 2, a cell without one
/// does not; a region over the page is refused; destroy
/// leaks nothing.
#[test]
fn an_msi_cell_gets_the_doorbell_page_and_nothing_else() {
    use crate::cell::desc::tests::{device_cell, root_with_ecam, EDU};
    const DOORBELL: u64 = 0x0809_0000;
    let its = Some(Span { start: 0x0808_0000, end: 0x080a_0000 });
    let msi = format!("{EDU}caps_start = 0\nnum_caps = 1\n[[cell.pci_cap]]\nid = 5\nstart = \"0x40\"\nlen = 16\nflags = [\"write\"]\n");
    let mut p = platform();
    p.its = its;
    let desc = CellDesc::for_cell(&CellView::parse(&device_cell(&msi)).unwrap(), &p, &root_with_ecam()).unwrap();
    assert!(desc.has_msi());
    let mut w = World::with_root(root_with_ecam());
    w.hw.doorbell = Some(DOORBELL);
    let initial = w.snapshot();
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &desc, 1, 1));
    let h = w.commit(|hw, root| commit_create(hw, root, &desc, 1, plan, 0));
    assert_eq!(h.stage2.translate(&w.hw.mem, DOORBELL + 0x40).map(|t| t.0), Some(DOORBELL + 0x40), "IPA = PA");
    assert!(h.stage2.translate(&w.hw.mem, DOORBELL - 0x1000).is_none(), "the control frame is not the cell's");
    assert!(h.stage2.translate(&w.hw.mem, DOORBELL + 0x1000).is_none(), "one page only");
    assert!(!w.root_maps(DOORBELL), "never the root's");
    let r = w.prepare_until_ok(|hw, root| prepare_destroy(hw, root, &desc));
    w.commit(|hw, root| commit_destroy(hw, root, &desc, 1, h, r));
    assert_eq!(w.snapshot(), initial);
    // Without the capability shown: no doorbell.
    let plain = CellDesc::for_cell(&CellView::parse(&device_cell(EDU)).unwrap(), &p, &root_with_ecam()).unwrap();
    let plan = w.prepare_until_ok(|hw, root| prepare_create(hw, root, &plain, 1, 1));
    let h = w.commit(|hw, root| commit_create(hw, root, &plain, 1, plan, 0));
    assert!(h.stage2.translate(&w.hw.mem, DOORBELL).is_none());
    let r = w.prepare_until_ok(|hw, root| prepare_destroy(hw, root, &plain));
    w.commit(|hw, root| commit_destroy(hw, root, &plain, 1, h, r));
    // A region whose guest addresses cover the page: refused, nothing changed.
    let mut over = desc.clone();
    if let Some(r) = over.regions.first_mut() {
        r.virt = DOORBELL;
    }
    let before = w.snapshot();
    let (hw, mut root) = w.split();
    assert_eq!(prepare_create(hw, &mut root, &over, 1, 1).unwrap_err(), Error::Invalid);
    assert!(w.snapshot() == before);
}

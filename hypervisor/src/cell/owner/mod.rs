//! The ownership module: every change of who maps what goes through here.
//!
//! Memory (owned regions, ROOTSHARED regions, the comm page), interrupts
//! (SPIs) and — in [`cpus`] — CPUs move between the root cell and the
//! other cells only through the transactions below, each in three steps:
//!
//! * **validate** — is the change allowed (nobody else owns the memory
//!   or the interrupt)? Nothing is touched.
//! * **prepare** — allocate everything the change needs: the new cell's
//!   complete stage 2 and comm page, room in the ledger, and a
//!   [`Reserve`] of pool pages big enough for every table split the
//!   root's stage 2 can need during commit. Can fail; on failure
//!   everything taken is given back and no state anyone can observe has
//!   changed (the allocation-failure tests inject a failure at every
//!   allocation of every prepare and compare the whole state).
//! * **commit** — make the change. Cannot fail: table edits draw only on
//!   the reserve (the walker gets its pages through [`Drawing`]); what is
//!   left of the reserve returns to the pool.
//!
//! Cache and TLB maintenance live here, once:
//! * every table edit does break-before-make and its TLB invalidation in
//!   the walker (`mm::paging`), so a root mapping removed by a commit is
//!   gone from every TLB when the edit returns;
//! * a cell's VMID is invalidated as a whole before it is first used
//!   (create: the VMID may have been another cell's) and before its
//!   tables are freed (destroy);
//! * on start: unmap the loadable memory from the root (root TLBs
//!   invalidated by the walker) → clean+invalidate that memory by VA to
//!   the point of coherency → `IC IALLUIS` (see [`commit_start`] for why
//!   this order);
//! * the comm page, written by the hypervisor through its cacheable
//!   mapping, is cleaned before the cell starts (it may read it with its
//!   MMU and caches off).
//!
//! The generic part is pure over [`Hw`], so the host tests run it against
//! a fake; `machine` (the pool, the remap window, the GIC) and `cpus` are the
//! target's halves.
//!
//! DMA streams (SMMU stream ids, `iommu`) are holdings too: validate (a
//! cell's stream is nobody else's), prepare (its stream-table page), and
//! commit, ordered so no device ever reaches memory its owner does not
//! hold:
//! * create: the cell's memory leaves the root (root VMID invalidated on
//!   CPUs and SMMU by the walker) → the cell's VMID invalidated (CPUs and
//!   SMMU: it may have been a destroyed cell's) → its streams re-pointed
//!   at its stage 2 (STE rewritten, CFGI_STE, TLBI of the old VMID, SYNC);
//! * destroy: its streams re-pointed first (back to the root if the root
//!   lists them, else aborted; the cell's VMID invalidated on the SMMU
//!   and SYNCed), so no DMA of the cell's devices is in flight through
//!   the cell's translation when its memory goes back to the root.
//!
//! On an SMMU without stage 2, each stage 2 has a stage-1 DMA mirror
//! (`Holdings::dma`, `Root::dma`) edited by the same commits, with
//! reserves doubled for its splits.

extern crate alloc;

pub mod ledger;
pub mod reserve;
#[cfg(target_os = "none")]
pub mod cpus;
#[cfg(target_os = "none")]
pub mod machine;
#[cfg(test)]
mod tests;

use crate::cell::desc::{CellDesc, Kind, Span, IPA_LIMIT, SPI_RANGE};
use crate::error::{refuse, Error, Result};
use crate::iommu::DmaDomain;
use crate::mm::paging::{Attrs, PageTable, TableMemory, TlbScope};
use crate::mm::{PhysAddr, PAGE_SIZE};
use ledger::Ledger;
pub use reserve::{Drawing, Reserve, TABLES_PER_RANGE};

/// What the ownership module needs from the machine besides table memory.
pub trait Hw: TableMemory {
    /// Cleans and invalidates `[pa, pa + size)` to the point of coherency
    /// (by VA, through whatever mapping the hypervisor has for it).
    fn clean_inval(&mut self, pa: PhysAddr, size: u64);
    /// Invalidates all instruction caches of the inner-shareable domain
    /// to the point of unification and waits (IC IALLUIS; DSB; ISB).
    fn icache_inval(&mut self);
    /// The cell owning SPI `irq`, if any.
    fn spi_owner(&self, irq: u32) -> Option<u8>;
    /// Gives SPI `irq` to `cell`, routed to `target_mpidr`.
    fn assign_spi(&mut self, irq: u32, cell: u8, target_mpidr: u64);
    /// Takes SPI `irq` back for the root, its root configuration restored.
    fn release_spi(&mut self, irq: u32);
    /// Records the root as the owner of SPI `irq` at enable.
    fn adopt_spi(&mut self, irq: u32);
    /// The interrupt controller's own mapping every cell gets, (ipa, pa,
    /// size), device memory: GICv2's GICV at the GICC address (not a
    /// configured region; the GIC's regions are reserved, so no configured
    /// region overlaps it).
    fn chip_mapping(&self) -> Option<(u64, u64, u64)> {
        None
    }
    /// The MSI doorbell page a cell with MSI devices gets, mapped at its
    /// physical address (device memory, read-write): the GICv3 ITS's
    /// GITS_TRANSLATER page. Hypervisor-owned (the system's ITS, which no
    /// configured region may overlap), shared into every such cell; the
    /// ledger holds only memory cells own, so it does not appear there.
    fn msi_doorbell(&self, _desc: &CellDesc) -> Option<PhysAddr> {
        None
    }
    /// Whether DMA translates through stage-1 mirrors of the stage-2
    /// tables (an SMMU without stage 2).
    fn dma_mirror(&self) -> bool {
        false
    }
    /// The cell stream `sid` translates for (`None`: aborted, or no SMMU).
    fn stream_owner(&self, _sid: u32) -> Option<u32> {
        None
    }
    /// Prepare: room for `sid`'s stream-table entry.
    fn prepare_stream(&mut self, _sid: u32) -> Result<()> {
        Ok(())
    }
    /// Undo: the room [`Hw::prepare_stream`] made for `sids` goes back
    /// where no live stream needs it (a create failed after preparing,
    /// or a destroy aborted the streams).
    fn release_stream_room(&mut self, _sids: &[u32]) {}
    /// Commit: `sid` translates through `d`; when this returns the unit
    /// holds nothing of the stream's previous translation.
    fn assign_stream(&mut self, _sid: u32, _d: DmaDomain) {}
    /// Commit: `sid` is aborted; likewise complete on return.
    fn abort_stream(&mut self, _sid: u32) {}
}

/// Reserve multiplier: every root edit is done twice with a DMA mirror.
fn copies(hw: &impl Hw) -> usize {
    if hw.dma_mirror() {
        2
    } else {
        1
    }
}

/// Maps [`Hw::chip_mapping`] into a stage 2 being built.
fn map_chip(hw: &mut impl Hw, t: &mut PageTable) -> Result<()> {
    if let Some((ipa, pa, size)) = hw.chip_mapping() {
        t.map(hw, ipa, pa, size, Attrs::DEVICE)?;
    }
    Ok(())
}

/// What a non-root cell holds besides its description.
#[derive(Debug)]
pub struct Holdings {
    pub stage2: PageTable,
    pub vmid: u16,
    /// The comm page (a pool page), if the cell has a comm region.
    pub comm: Option<PhysAddr>,
    /// The stage-1 DMA mirror of `stage2` (SMMU without stage 2).
    pub dma: Option<PageTable>,
}

impl Holdings {
    /// What the cell's streams translate through.
    pub fn domain(&self, cell: u32) -> DmaDomain {
        DmaDomain { cell, vmid: self.vmid, s2_root: self.stage2.root(), mirror: self.dma.as_ref().map(PageTable::root) }
    }
}

/// The root's side of every hand-over: its live stage 2, its description
/// (which memory it has, with which attributes) and the ledger of what
/// the other cells own.
pub struct Root<'a> {
    pub stage2: &'a mut PageTable,
    pub desc: &'a CellDesc,
    pub ledger: &'a mut Ledger,
    /// The root's stage-1 DMA mirror (SMMU without stage 2).
    pub dma: Option<&'a mut PageTable>,
}

impl Root<'_> {
    /// What the root's streams translate through.
    pub fn domain(&self) -> DmaDomain {
        DmaDomain { cell: 0, vmid: 0, s2_root: self.stage2.root(), mirror: self.dma.as_deref().map(PageTable::root) }
    }
}

/// The whole guest-physical address space of a cell.
const ALL: (u64, u64) = (0, IPA_LIMIT);

/// The part of `s` a stage 2 can map (below the IPA limit), if any.
fn below_ipa_limit(s: Span) -> Option<Span> {
    s.intersect(&Span { start: 0, end: IPA_LIMIT })
}

/// Where a range of owned memory goes when it returns to the root: the
/// parts of it inside each page-granular root region, with that region's
/// attributes (later regions win, as when the root's map was built).
fn root_pieces(root: &CellDesc, span: Span) -> impl Iterator<Item = (Span, Attrs)> + '_ {
    root.regions
        .iter()
        .filter(|r| r.kind == Kind::Owned)
        .filter_map(move |r| r.phys_span().intersect(&span).and_then(below_ipa_limit).map(|s| (s, r.attrs())))
}

/// Reserve for giving `spans` back to the root.
fn map_back_reserve(root: &CellDesc, spans: impl Iterator<Item = Span>) -> usize {
    spans.map(|s| root_pieces(root, s).count()).sum::<usize>() * TABLES_PER_RANGE
}

/// Everything that leaves the root's stage 2 while the cell exists: its
/// owned memory and the pages of the real PCI ECAM of its passed-through
/// devices (which the cell does not map: it reaches them through its
/// virtual PCI host; the root's accesses there are trapped and read as
/// no device, `pci::passthru`).
fn taken(desc: &CellDesc) -> impl Iterator<Item = Span> + '_ {
    desc.owned().map(|r| r.phys_span()).chain(desc.cfg_pages())
}

/// Removes `span` from the root's stage 2 (commit step).
fn unmap_from_root(hw: &mut impl Hw, root: &mut Root<'_>, reserve: &mut Reserve, span: Span) {
    let Some(s) = below_ipa_limit(span) else { return };
    let mut d = Drawing { mem: hw, reserve };
    if let Err(e) = root.stage2.unmap(&mut d, s.start, s.len()) {
        log::error!("ownership: unmapping {:#x}-{:#x} from the root failed ({e:?})", s.start, s.end);
    }
    if let Some(m) = root.dma.as_deref_mut() {
        if let Err(e) = m.unmap(&mut d, s.start, s.len()) {
            log::error!("ownership: unmapping {:#x}-{:#x} from the root's DMA mirror failed ({e:?})", s.start, s.end);
        }
    }
}

/// Maps `span` back into the root's stage 2 where the root has memory
/// (commit step).
fn map_to_root(hw: &mut impl Hw, root: &mut Root<'_>, reserve: &mut Reserve, span: Span) {
    let desc = root.desc;
    for (s, attrs) in root_pieces(desc, span) {
        let mut d = Drawing { mem: &mut *hw, reserve: &mut *reserve };
        if let Err(e) = root.stage2.map(&mut d, s.start, s.start, s.len(), attrs) {
            log::error!("ownership: mapping {:#x}-{:#x} back into the root failed ({e:?})", s.start, s.end);
        }
        if let Some(m) = root.dma.as_deref_mut() {
            if let Err(e) = m.map(&mut d, s.start, s.start, s.len(), attrs) {
                log::error!("ownership: mapping {:#x}-{:#x} back into the root's DMA mirror failed ({e:?})", s.start, s.end);
            }
        }
    }
}

/// The root cell's stage 2: its page-granular regions mapped 1:1, minus
/// `hidden` (hypervisor memory, the trapped GIC), plus `read_only` pages
/// (which may lie inside `hidden`).
pub fn build_root(hw: &mut impl Hw, desc: &CellDesc, hidden: &[Span], read_only: &[PhysAddr]) -> Result<PageTable> {
    let t = PageTable::stage2(hw, 0)?;
    fill_root(hw, t, desc, hidden, read_only, true)
}

/// The root's DMA mirror (SMMU without stage 2): as its stage 2, without
/// the read-only hypervisor pages and the interrupt controller.
pub fn build_root_dma(hw: &mut impl Hw, desc: &CellDesc, hidden: &[Span]) -> Result<PageTable> {
    let t = PageTable::dma(hw)?;
    fill_root(hw, t, desc, hidden, &[], false)
}

/// Attaches the root's streams (enable): each translates through the
/// root's stage 2 (or mirror) from now on.
pub fn attach_root_streams(hw: &mut impl Hw, desc: &CellDesc, d: DmaDomain) -> Result<()> {
    for &sid in &desc.streams {
        hw.prepare_stream(sid)?;
    }
    for &sid in &desc.streams {
        hw.assign_stream(sid, d);
    }
    Ok(())
}

fn fill_root(hw: &mut impl Hw, mut t: PageTable, desc: &CellDesc, hidden: &[Span], read_only: &[PhysAddr], chip: bool) -> Result<PageTable> {
    let r = (|| -> Result<()> {
        for r in desc.regions.iter().filter(|r| r.kind == Kind::Owned) {
            t.map(hw, r.virt, r.phys, r.size, r.attrs())?;
        }
        for h in hidden.iter().filter(|h| !h.is_empty()) {
            let start = h.start & !(PAGE_SIZE - 1);
            if let Some(s) = below_ipa_limit(Span { start, end: crate::mm::page_align_up(h.end) }) {
                t.unmap(hw, s.start, s.len())?;
            }
        }
        for &p in read_only {
            t.map(hw, p, p, PAGE_SIZE, Attrs::RO)?;
        }
        if chip {
            map_chip(hw, &mut t)?;
        }
        Ok(())
    })();
    match r {
        Ok(()) => Ok(t),
        Err(e) => {
            t.destroy(hw);
            Err(e)
        }
    }
}

/// The root takes the SPIs its configuration lists (at enable; the
/// hardware is left as the boot loader or Linux set it up).
pub fn adopt_root_irqs(hw: &mut impl Hw, desc: &CellDesc) {
    for irq in desc.spis.iter() {
        hw.adopt_spi(irq);
    }
}

/// A prepared create.
#[derive(Debug)]
pub struct CreatePlan {
    holdings: Holdings,
    reserve: Reserve,
}

impl CreatePlan {
    /// Gives everything back (the caller's later checks of the cell
    /// `desc` failed).
    pub fn abandon(self, hw: &mut impl Hw, desc: &CellDesc) {
        let CreatePlan { holdings, reserve } = self;
        release_holdings(hw, holdings);
        reserve.give_back(hw);
        hw.release_stream_room(&desc.streams);
    }
}

fn release_holdings(hw: &mut impl Hw, h: Holdings) {
    if let Some(m) = h.dma {
        // No stream translates through it any more (destroy re-pointed
        // them first); the unit's cached walks of it go before its pages.
        hw.invalidate(TlbScope::Dma, ALL.0, ALL.1);
        m.destroy(hw);
    }
    h.stage2.destroy(hw);
    if let Some(p) = h.comm {
        hw.free_table(p);
    }
}

/// Validates and prepares the creation of cell `id` (VMID `vmid`) from
/// `desc`: its memory owned by nobody else, its interrupts the root's.
pub fn prepare_create(hw: &mut impl Hw, root: &mut Root<'_>, desc: &CellDesc, id: u32, vmid: u16) -> Result<CreatePlan> {
    let r = prepare_create_inner(hw, root, desc, id, vmid);
    if r.is_err() {
        // Stream-table pages made for this cell's streams would
        // otherwise stay allocated (and unused) after the refusal.
        hw.release_stream_room(&desc.streams);
    }
    r
}

fn prepare_create_inner(hw: &mut impl Hw, root: &mut Root<'_>, desc: &CellDesc, id: u32, vmid: u16) -> Result<CreatePlan> {
    for span in taken(desc) {
        if let Some(other) = root.ledger.other_owner(&span, id) {
            return Err(refuse(Error::Busy, format_args!("memory {:#x}-{:#x} belongs to cell {other}", span.start, span.end)));
        }
    }
    if let Some(irq) = desc.spis.iter().find(|&i| hw.spi_owner(i) != Some(0)) {
        return Err(refuse(Error::Busy, format_args!("interrupt {irq} is not the root cell's")));
    }
    for &sid in &desc.streams {
        if let Some(other) = hw.stream_owner(sid).filter(|&o| o != 0) {
            return Err(refuse(Error::Busy, format_args!("DMA stream {sid:#x} belongs to cell {other}")));
        }
        hw.prepare_stream(sid)?;
    }
    root.ledger.reserve(taken(desc).count())?;
    let mut stage2 = PageTable::stage2(hw, vmid)?;
    let mut comm = None;
    let mut dma = None;
    let built = (|| -> Result<()> {
        for r in desc.mapped() {
            stage2.map(hw, r.virt, r.phys, r.size, r.attrs())?;
        }
        map_chip(hw, &mut stage2)?;
        let doorbell = hw.msi_doorbell(desc);
        if let Some(pa) = doorbell {
            let page = Span { start: pa, end: pa + PAGE_SIZE };
            if let Some(r) = desc.mapped().find(|r| Span::sized(r.virt, r.size).is_some_and(|v| v.overlaps(&page))) {
                return Err(refuse(
                    Error::Invalid,
                    format_args!("region at guest {:#x} covers the MSI doorbell page {pa:#x} the cell's devices need", r.virt),
                ));
            }
            stage2.map(hw, pa, pa, PAGE_SIZE, Attrs::DEVICE)?;
        }
        if let Some(c) = desc.comm() {
            let page = hw.alloc_table().ok_or(Error::NoMemory)?;
            comm = Some(page);
            stage2.map(hw, c.virt, page, PAGE_SIZE, c.attrs())?;
        }
        if hw.dma_mirror() && !desc.streams.is_empty() {
            let mut m = PageTable::dma(hw)?;
            let r = desc.mapped().try_for_each(|r| m.map(hw, r.virt, r.phys, r.size, r.attrs()));
            // The device's MSI write must pass the SMMU too.
            let r = r.and_then(|()| doorbell.map_or(Ok(()), |pa| m.map(hw, pa, pa, PAGE_SIZE, Attrs::DEVICE)));
            dma = Some(m);
            r?;
        }
        Ok(())
    })();
    let holdings = Holdings { stage2, vmid, comm, dma };
    if let Err(e) = built {
        release_holdings(hw, holdings);
        return Err(e);
    }
    match Reserve::take(hw, taken(desc).count() * TABLES_PER_RANGE * copies(hw)) {
        Ok(reserve) => Ok(CreatePlan { holdings, reserve }),
        Err(e) => {
            release_holdings(hw, holdings);
            Err(e)
        }
    }
}

/// Commits a create: the owned memory leaves the root, the ledger records
/// it, the SPIs go to the cell (routed to `target_mpidr`). Cannot fail.
pub fn commit_create(hw: &mut impl Hw, root: &mut Root<'_>, desc: &CellDesc, id: u32, plan: CreatePlan, target_mpidr: u64) -> Holdings {
    let CreatePlan { holdings, mut reserve } = plan;
    for span in taken(desc) {
        unmap_from_root(hw, root, &mut reserve, span);
    }
    for span in taken(desc) {
        root.ledger.insert(span, id);
    }
    for irq in desc.spis.iter() {
        hw.assign_spi(irq, id as u8, target_mpidr);
    }
    // The VMID may have been a destroyed cell's: nothing of it may be
    // used for this one (CPUs and, through the pool's hook, the SMMU).
    hw.invalidate(holdings.stage2.scope(), ALL.0, ALL.1);
    // Only now the cell's devices: their memory left the root above, so
    // from here on they reach the cell's memory and nothing else.
    let d = holdings.domain(id);
    for &sid in &desc.streams {
        hw.assign_stream(sid, d);
    }
    reserve.give_back(hw);
    holdings
}

/// Prepares set_loadable: the reserve for mapping the loadable memory
/// back into the root.
pub fn prepare_loadable(hw: &mut impl Hw, root: &Root<'_>, desc: &CellDesc) -> Result<Reserve> {
    Reserve::take(hw, map_back_reserve(root.desc, desc.owned().filter(|r| r.loadable()).map(|r| r.phys_span())) * copies(hw))
}

/// Commits set_loadable: the root maps the cell's loadable memory again
/// (with its own attributes) to write an image into it. The cell's CPUs
/// are stopped (the caller parked them).
pub fn commit_loadable(hw: &mut impl Hw, root: &mut Root<'_>, desc: &CellDesc, mut reserve: Reserve) {
    for r in desc.owned().filter(|r| r.loadable()) {
        map_to_root(hw, root, &mut reserve, r.phys_span());
    }
    reserve.give_back(hw);
}

/// Prepares a start: the reserve for unmapping the loadable memory from
/// the root again (splits of root blocks at the region edges).
pub fn prepare_start(hw: &mut impl Hw, desc: &CellDesc) -> Result<Reserve> {
    Reserve::take(hw, desc.owned().filter(|r| r.loadable()).count() * TABLES_PER_RANGE * copies(hw))
}

/// Commits a start (the caller filled the comm page and will release
/// the CPUs afterwards). Order and why:
/// 1. unmap the loadable memory from the root; the walker's
///    break-before-make invalidation of the root's VMID has completed
///    when this returns, so no root CPU can write it any more — a clean
///    done earlier could be undone by a later root store;
/// 2. clean+invalidate it by VA to the point of coherency: the image the
///    root wrote sits partly in dirty cache lines; the cell may run with
///    its MMU and caches off (non-cacheable accesses go past the caches)
///    and must see the image, and no dirty root line may later be evicted
///    over what the cell wrote; invalidation also drops clean lines the
///    cell could otherwise hit with different contents;
/// 3. the comm page likewise (written through the hypervisor's cacheable
///    mapping);
/// 4. IC IALLUIS + DSB + ISB: the image holds code written as data; the
///    instruction caches are not coherent with data writes and may hold
///    lines of the previous contents of that memory. Done after the
///    clean, so a refill fetches the cleaned data;
/// 5. the cell's VMID invalidated once more, so its CPUs start with no
///    translation older than this start.
///
/// `cell` is the scope of the cell's stage 2 (`PageTable::scope`).
pub fn commit_start(hw: &mut impl Hw, root: &mut Root<'_>, desc: &CellDesc, cell: TlbScope, comm: Option<PhysAddr>, mut reserve: Reserve) {
    for r in desc.owned().filter(|r| r.loadable()) {
        unmap_from_root(hw, root, &mut reserve, r.phys_span());
    }
    for r in desc.owned().filter(|r| r.loadable()) {
        hw.clean_inval(r.phys, r.size);
    }
    if let Some(c) = comm {
        hw.clean_inval(c, PAGE_SIZE);
    }
    hw.icache_inval();
    hw.invalidate(cell, ALL.0, ALL.1);
    reserve.give_back(hw);
}

/// Prepares a destroy: the reserve for mapping all owned memory back into
/// the root, taken before anything of the cell is touched, so destroy
/// never stops half-way.
pub fn prepare_destroy(hw: &mut impl Hw, root: &Root<'_>, desc: &CellDesc) -> Result<Reserve> {
    Reserve::take(hw, map_back_reserve(root.desc, taken(desc)) * copies(hw))
}

/// Commits a destroy (the cell's CPUs are parked and will be handed back
/// by the caller): the cell's translations are invalidated and its
/// tables and comm page freed; its memory returns to the root and leaves
/// the ledger; its SPIs return to the root with the root's configuration.
pub fn commit_destroy(hw: &mut impl Hw, root: &mut Root<'_>, desc: &CellDesc, id: u32, h: Holdings, mut reserve: Reserve) {
    // The cell's devices first: when each stream is re-pointed the unit
    // has dropped the cell's VMID, so nothing of the cell's translation
    // is used for DMA once its memory is the root's again (below).
    let rd = root.domain();
    for &sid in &desc.streams {
        if hw.stream_owner(sid) != Some(id) {
            continue;
        }
        if root.desc.streams.binary_search(&sid).is_ok() {
            hw.assign_stream(sid, rd);
        } else {
            hw.abort_stream(sid);
        }
    }
    // Stream-table pages only this cell's (now aborted) streams used go
    // back too, so a create/destroy cycle leaves the pool as it was.
    hw.release_stream_room(&desc.streams);
    hw.invalidate(h.stage2.scope(), ALL.0, ALL.1);
    release_holdings(hw, h);
    for span in taken(desc) {
        map_to_root(hw, root, &mut reserve, span);
    }
    root.ledger.release(id);
    for irq in SPI_RANGE {
        if hw.spi_owner(irq) == Some(id as u8) {
            hw.release_spi(irq);
        }
    }
    reserve.give_back(hw);
}

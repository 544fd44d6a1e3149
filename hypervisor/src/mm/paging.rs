//! VMSAv8-64 translation tables (4 KiB granule) for the EL2 stage-1 map and
//! the per-cell stage-2 maps. Pure logic over a `TableMemory`, so it runs as
//! a host test with a fake memory; allocation failure is an error, never a
//! panic. Block mappings are used wherever size and alignment allow.
//!
//! Break-before-make (ARM ARM D8.14, "Using break-before-make when
//! updating translation table entries"): a table may be live on other CPUs
//! (the root cell's stage 2 always is), and the architecture allows a CPU
//! to hold the old and the new translation of an address at once — a TLB
//! conflict abort, or a loss of coherency if the two disagree on address
//! or attributes — unless every change of a *valid* entry into a
//! *different valid* entry goes through an invalid one:
//!   1. write the entry invalid;
//!   2. invalidate every TLB and walk-cache entry that may hold the old
//!      translation, on all CPUs of the inner-shareable domain, and wait
//!      for completion (`TableMemory::invalidate`: DSB before, so the
//!      walkers see the invalid entry; DSB after, so no CPU still uses an
//!      old entry);
//!   3. write the new entry.
//!
//! The walker does this for block→table splits, table→block merges and
//! remaps with other attributes or addresses. Table pages that become
//! unreachable are freed only after step 2 has completed, so no walker
//! (nor a cached walk entry) can read a page the pool has handed to
//! someone else. A valid entry that only becomes invalid (unmap) needs no
//! "make" step: its invalidation is batched to the end of the operation
//! (one ranged TLBI instead of one per block), unless a table page under
//! it must be freed, which waits for an immediate invalidation.
//!
//! Why not the `aarch64-paging` crate (evaluated at 0.12.3): its stage-2
//! regime has no VMID (it writes VTTBR_EL2 without one and issues TLBI
//! IPAS2E1IS against whatever VMID is current, with no following TLBI
//! VMALLE1IS for combined stage-1+2 entries); it refuses live changes that
//! need break-before-make (`BreakBeforeMakeViolation`) instead of doing
//! them, expecting the table to be deactivated first, which the root
//! cell's stage 2 (live on other CPUs) cannot be; its `Translation::
//! allocate_table` cannot report an empty pool; and it never merges tables
//! back into blocks, so pool use would grow with history. Our own walker
//! is small and host-tested, so the dependency was dropped.

use super::PhysAddr;

/// Entries per table.
pub const ENTRIES: usize = 512;
const PAGE_SHIFT: usize = 12;
const PAGE: u64 = 1 << PAGE_SHIFT;

/// Input address size of every stage 2 (and of its DMA mirror): 40 bits,
/// 1 TiB, so 64-bit PCI windows such as QEMU virt's high one (512 GiB at
/// 512 GiB) can be given to cells. Walked from level 1 with two
/// concatenated root tables (1024 entries of 1 GiB, 8 KiB aligned), not
/// from level 0: a level-0 start with the 4 KiB granule is reserved on
/// CPUs with a PA range under 44 bits (AArch64.S2InvalidSL), which
/// includes the Cortex-A53's 40 bits; concatenation at level 1 is valid
/// for every PA range from 40 bits up. `regval::vtcr` and the SMMU's
/// stream table entries use the same geometry.
pub const STAGE2_IPA_BITS: usize = 40;
/// Start level of every stage 2.
pub const STAGE2_START_LEVEL: usize = 1;
const ADDR_MASK: u64 = 0x0000_ffff_ffff_f000;
const DESC_VALID: u64 = 1;
const DESC_TABLE: u64 = 1 << 1; // table at levels 0..2, page at level 3
const AF: u64 = 1 << 10;
const SH_INNER: u64 = 3 << 8;
const XN: u64 = 1 << 54;

/// Which TLB entries an invalidation is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlbScope {
    /// The EL2 stage-1 regime (TLBI VAE2IS / ALLE2IS).
    El2,
    /// Stage 2 of one VMID, and the combined stage-1+2 entries of that
    /// VMID (TLBI IPAS2E1IS, then VMALLE1IS; or VMALLS12E1IS). `root` is
    /// the table of that VMID: TLBI by IPA takes the VMID from VTTBR_EL2,
    /// and VTTBR_EL2 must then hold a matching pair, so a speculative
    /// walk meanwhile can only cache that VMID's own translations.
    Stage2 { vmid: u16, root: PhysAddr },
    /// A DMA mirror: a stage-1 table only an SMMU walks (`iommu`); its
    /// invalidation is the SMMU's, not the CPUs'.
    Dma,
}

/// Where table pages come from, how they are read and written, and how
/// stale translations are invalidated (the one hardware hook the walker
/// needs, so it stays pure and host-testable).
pub trait TableMemory {
    /// A zeroed page for a new table, or `None` when the pool is empty.
    fn alloc_table(&mut self) -> Option<PhysAddr>;
    /// `pages` (a power of two) zeroed contiguous pages aligned to their
    /// total size, for a root of concatenated tables; `None` when the
    /// pool has no such block. Each page goes back by `free_table`.
    fn alloc_root(&mut self, pages: usize) -> Option<PhysAddr>;
    /// Gives a table page back.
    fn free_table(&mut self, table: PhysAddr);
    /// Reads entry `idx` of the table at `table`.
    fn read(&self, table: PhysAddr, idx: usize) -> u64;
    /// Writes entry `idx` of the table at `table`.
    fn write(&mut self, table: PhysAddr, idx: usize, value: u64);
    /// Invalidates every TLB and walk-cache entry (all levels) that may
    /// translate an address of `[va, va + size)` in `scope`, on every CPU
    /// of the inner-shareable domain, after making the entries written so
    /// far visible to the table walkers; returns when the invalidation
    /// has completed. Invalidating more than asked is always correct.
    fn invalidate(&mut self, scope: TlbScope, va: u64, size: u64);
}

/// Which translation regime the descriptors are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Regime {
    /// EL2 stage 1 (MAIR index 0 normal, 2 device nGnRE).
    El2,
    /// Stage 2 of a cell (VTCR_EL2-controlled).
    Stage2,
}

/// Memory type of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemType {
    /// Normal memory, write-back cacheable, inner shareable.
    Normal,
    /// Device-nGnRE.
    Device,
}

/// Attributes of a mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attrs {
    /// Readable (stage 2 only: stage 1 EL2 mappings are always readable).
    pub read: bool,
    /// Writable.
    pub write: bool,
    /// Executable.
    pub exec: bool,
    /// Memory type.
    pub mem: MemType,
}

impl Attrs {
    /// Read-write normal memory, not executable.
    pub const RW: Attrs = Attrs { read: true, write: true, exec: false, mem: MemType::Normal };
    /// Read-write-execute normal memory.
    pub const RWX: Attrs = Attrs { read: true, write: true, exec: true, mem: MemType::Normal };
    /// Read-only normal memory.
    pub const RO: Attrs = Attrs { read: true, write: false, exec: false, mem: MemType::Normal };
    /// Read-write device memory.
    pub const DEVICE: Attrs = Attrs { read: true, write: true, exec: false, mem: MemType::Device };

    fn leaf_bits(self, regime: Regime) -> u64 {
        let mut bits = DESC_VALID | AF;
        if self.mem == MemType::Normal {
            bits |= SH_INNER;
        }
        if !self.exec {
            bits |= XN;
        }
        match regime {
            Regime::El2 => {
                bits |= 1 << 6; // AP[1] is RES1 in the EL2 regime
                if !self.write {
                    bits |= 1 << 7;
                }
                if self.mem == MemType::Device {
                    bits |= 2 << 2;
                }
            }
            Regime::Stage2 => {
                bits |= match self.mem {
                    MemType::Normal => 0xf << 2,
                    MemType::Device => 0x1 << 2,
                };
                if self.read {
                    bits |= 1 << 6;
                }
                if self.write {
                    bits |= 1 << 7;
                }
            }
        }
        bits
    }
}

/// Why a map or unmap failed. The table stays consistent either way: what
/// was done before the failure remains mapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// The page pool is empty.
    NoMemory,
    /// Address, size or alignment is not usable.
    BadRange,
}

/// A translation table tree.
#[derive(Debug)]
pub struct PageTable {
    root: PhysAddr,
    /// Entries of the root level (concatenated tables: more than one
    /// page's worth; a small input size: fewer).
    root_entries: usize,
    start_level: usize,
    va_bits: usize,
    regime: Regime,
    scope: TlbScope,
    /// Hull of entries made invalid (unmap) whose invalidation is still
    /// due at the end of the current operation.
    pending: Option<(u64, u64)>,
}

fn level_shift(level: usize) -> usize {
    PAGE_SHIFT + 9 * (3 - level)
}

/// Where entry `idx` of the (possibly concatenated) table at `table`
/// lives: the page holding it and its index there.
fn slot(table: PhysAddr, idx: usize) -> (PhysAddr, usize) {
    (table + (idx / ENTRIES) as u64 * PAGE, idx % ENTRIES)
}

impl PageTable {
    /// Allocates an empty table. `va_bits` and `start_level` must agree
    /// (48/0 for EL2, 40/1 for stage 2 with two concatenated root pages,
    /// 40/0 for a DMA mirror): at most 16 root pages.
    pub fn new(mem: &mut impl TableMemory, regime: Regime, va_bits: usize, start_level: usize) -> Result<Self, MapError> {
        let root_bits = va_bits.checked_sub(level_shift(start_level)).filter(|b| *b <= 13).ok_or(MapError::BadRange)?;
        let root_entries = 1usize << root_bits;
        let pages = root_entries.div_ceil(ENTRIES);
        let root = if pages == 1 { mem.alloc_table() } else { mem.alloc_root(pages) }.ok_or(MapError::NoMemory)?;
        let scope = match regime {
            Regime::El2 => TlbScope::El2,
            Regime::Stage2 => TlbScope::Stage2 { vmid: 0, root },
        };
        Ok(Self { root, root_entries, start_level, va_bits, regime, scope, pending: None })
    }

    /// An empty stage-2 table ([`STAGE2_IPA_BITS`], start level
    /// [`STAGE2_START_LEVEL`]) for `vmid`: its break-before-make
    /// invalidations name that VMID.
    pub fn stage2(mem: &mut impl TableMemory, vmid: u16) -> Result<Self, MapError> {
        let mut t = Self::new(mem, Regime::Stage2, STAGE2_IPA_BITS, STAGE2_START_LEVEL)?;
        t.scope = TlbScope::Stage2 { vmid, root: t.root };
        Ok(t)
    }

    /// An empty DMA mirror: a stage-1 table of the stage 2's input size
    /// in the EL2 descriptor format for an SMMU without stage 2 (stage 1
    /// has no concatenation: 40 bits start at level 0, two root entries);
    /// its break-before-make invalidations go to the SMMU
    /// ([`TlbScope::Dma`]).
    pub fn dma(mem: &mut impl TableMemory) -> Result<Self, MapError> {
        let mut t = Self::new(mem, Regime::El2, STAGE2_IPA_BITS, 0)?;
        t.scope = TlbScope::Dma;
        Ok(t)
    }

    /// Which TLB entries this table's translations live in.
    pub fn scope(&self) -> TlbScope {
        self.scope
    }

    /// Physical address of the root table (for TTBR0_EL2 / VTTBR_EL2).
    pub fn root(&self) -> PhysAddr {
        self.root
    }

    /// Pages of the root table (concatenated tables: more than one).
    pub fn root_pages(&self) -> usize {
        self.root_entries.div_ceil(ENTRIES)
    }

    /// Entries of a table at `level` (the root may differ).
    fn entries(&self, level: usize) -> usize {
        if level == self.start_level {
            self.root_entries
        } else {
            ENTRIES
        }
    }

    fn check(&self, va: u64, pa: u64, size: u64) -> Result<(), MapError> {
        let page = (1u64 << PAGE_SHIFT) - 1;
        let end = va.checked_add(size).ok_or(MapError::BadRange)?;
        if size == 0 || (va | pa | size) & page != 0 || end > (1u64 << self.va_bits) {
            return Err(MapError::BadRange);
        }
        pa.checked_add(size).filter(|e| *e <= ADDR_MASK + 0x1000).ok_or(MapError::BadRange)?;
        Ok(())
    }

    /// Maps `[va, va + size)` to `[pa, pa + size)`, replacing what was there.
    pub fn map(&mut self, mem: &mut impl TableMemory, va: u64, pa: u64, size: u64, attrs: Attrs) -> Result<(), MapError> {
        self.check(va, pa, size)?;
        let leaf = attrs.leaf_bits(self.regime);
        let r = self.walk(mem, self.root, self.start_level, va, size, Some((pa, leaf)));
        self.flush_pending(mem);
        r
    }

    /// Removes every mapping in `[va, va + size)`. When it returns, no
    /// CPU translates an address of the range any more.
    pub fn unmap(&mut self, mem: &mut impl TableMemory, va: u64, size: u64) -> Result<(), MapError> {
        self.check(va, 0, size)?;
        let r = self.walk(mem, self.root, self.start_level, va, size, None);
        self.flush_pending(mem);
        r
    }

    /// Step 2 of break-before-make for the entry covering `[va, va +
    /// span)`, now: after it, nothing translates through the old entry or
    /// the tables under it.
    fn invalidate_now(&mut self, mem: &mut impl TableMemory, va: u64, span: u64) {
        mem.invalidate(self.scope, va, span);
    }

    /// Notes an entry made invalid whose invalidation can wait until the
    /// end of the operation (nothing is written over it, nothing freed).
    fn invalidate_later(&mut self, va: u64, span: u64) {
        let end = va + span;
        self.pending = Some(match self.pending {
            Some((s, e)) => (s.min(va), e.max(end)),
            None => (va, end),
        });
    }

    /// Completes the batched invalidations of the current operation.
    fn flush_pending(&mut self, mem: &mut impl TableMemory) {
        if let Some((s, e)) = self.pending.take() {
            mem.invalidate(self.scope, s, e - s);
        }
    }

    /// One level of map (`target = Some`) or unmap (`None`).
    fn walk(
        &mut self,
        mem: &mut impl TableMemory,
        table: PhysAddr,
        level: usize,
        mut va: u64,
        size: u64,
        target: Option<(u64, u64)>,
    ) -> Result<(), MapError> {
        let shift = level_shift(level);
        let span = 1u64 << shift;
        let end = va + size;
        let mut pa = target.map_or(0, |t| t.0);
        let mask = self.entries(level) as u64 - 1;
        while va < end {
            // The page and index of the entry (a concatenated root spans
            // pages; below the root this is `table` itself).
            let (table, idx) = slot(table, ((va >> shift) & mask) as usize);
            let entry_end = (va & !(span - 1)) + span;
            let chunk_end = entry_end.min(end);
            let chunk = chunk_end - va;
            let old = mem.read(table, idx);
            let whole = va & (span - 1) == 0 && chunk == span;
            let leaf_ok = level == 3 || (level >= 1 && pa & (span - 1) == 0);
            if whole && (target.is_none() || leaf_ok) {
                let new = match target {
                    Some((_, bits)) => pa | bits | if level == 3 { DESC_TABLE } else { 0 },
                    None => 0,
                };
                if old & DESC_VALID == 0 {
                    // Nothing to break: an invalid entry is never cached.
                    if new != 0 {
                        mem.write(table, idx, new);
                    }
                } else if old != new {
                    // Break.
                    mem.write(table, idx, 0);
                    if new != 0 || is_table(old, level) {
                        // A make follows, or tables under the old entry
                        // are freed: both wait for the invalidation.
                        self.invalidate_now(mem, va, span);
                    } else {
                        self.invalidate_later(va, span);
                    }
                    if is_table(old, level) {
                        self.free_subtree(mem, old & ADDR_MASK, level + 1);
                    }
                    // Make.
                    if new != 0 {
                        mem.write(table, idx, new);
                    }
                }
            } else if target.is_some() || old & DESC_VALID != 0 {
                let base = va & !(span - 1);
                let sub = self.subtable(mem, table, idx, level, base)?;
                let r = self.walk(mem, sub, level + 1, va, chunk, target.map(|(_, bits)| (pa, bits)));
                // A complete map leaves a valid entry in `sub`, a complete
                // unmap an invalid one; a failed walk may have left either.
                let (may_be_empty, may_be_run) = match (&r, target) {
                    (Ok(()), Some(_)) => (false, true),
                    (Ok(()), None) => (true, false),
                    (Err(_), _) => (true, true),
                };
                self.collapse(mem, table, idx, level, sub, base, may_be_empty, may_be_run);
                r?;
            }
            pa += chunk;
            va = chunk_end;
        }
        Ok(())
    }

    /// Returns the next-level table under entry `idx`, creating it (and
    /// splitting a block into equivalent smaller mappings) if needed.
    /// `base` is the first address the entry translates.
    fn subtable(&mut self, mem: &mut impl TableMemory, table: PhysAddr, idx: usize, level: usize, base: u64) -> Result<PhysAddr, MapError> {
        let old = mem.read(table, idx);
        if is_table(old, level) {
            return Ok(old & ADDR_MASK);
        }
        let sub = mem.alloc_table().ok_or(MapError::NoMemory)?;
        let va_base = base;
        if old & DESC_VALID != 0 {
            let child_span = 1u64 << level_shift(level + 1);
            let base = old & ADDR_MASK;
            let attrs = old & !ADDR_MASK & !DESC_TABLE;
            let kind = if level + 1 == 3 { DESC_TABLE } else { 0 };
            for i in 0..ENTRIES {
                mem.write(sub, i, (base + i as u64 * child_span) | attrs | kind);
            }
            // Block → table is a change of a valid entry: break, wait
            // for the invalidation (which also makes the new table's
            // contents visible to the walkers before the table entry can
            // be), make. An access in between faults, and the fault
            // handler retries it once the change is complete.
            mem.write(table, idx, 0);
            self.invalidate_now(mem, va_base, 1u64 << level_shift(level));
        }
        mem.write(table, idx, sub | DESC_VALID | DESC_TABLE);
        Ok(sub)
    }

    /// Replaces the subtable under entry `idx` when it no longer needs to
    /// exist: all invalid (the entry becomes invalid) or one contiguous run
    /// with the same attributes (the entry becomes a block). Keeps the pool
    /// use of a table a function of what is mapped, not of its history.
    /// `va` is the first address the entry translates.
    /// `may_be_empty` / `may_be_run`: which of the two outcomes the change
    /// can have produced (a map leaves a valid entry, so `sub` cannot be
    /// all invalid; an unmap leaves an invalid one, so it cannot be one
    /// run). Only those are checked: each check scans up to 511 entries,
    /// after every change of every table on the way.
    #[allow(clippy::too_many_arguments)]
    fn collapse(
        &mut self,
        mem: &mut impl TableMemory,
        table: PhysAddr,
        idx: usize,
        level: usize,
        sub: PhysAddr,
        va: u64,
        may_be_empty: bool,
        may_be_run: bool,
    ) {
        let first = mem.read(sub, 0);
        let span = 1u64 << level_shift(level);
        if first == 0 {
            if may_be_empty && (1..ENTRIES).all(|i| mem.read(sub, i) == 0) {
                // Table → invalid: the table page is freed only after no
                // walk cache can point at it any more.
                mem.write(table, idx, 0);
                self.invalidate_now(mem, va, span);
                mem.free_table(sub);
            }
            return;
        }
        let child = level + 1;
        let leaf_kind = if child == 3 { DESC_VALID | DESC_TABLE } else { DESC_VALID };
        let child_span = 1u64 << level_shift(child);
        let base = first & ADDR_MASK;
        let attrs = first & !ADDR_MASK;
        if !may_be_run || level == 0 || first & (DESC_VALID | DESC_TABLE) != leaf_kind || base & (span - 1) != 0 {
            return;
        }
        // The last entry first: a run that stops short is the common
        // case (a region ending inside the table) and is seen at once.
        let expected = |i: usize| (base + i as u64 * child_span) | attrs;
        let uniform = mem.read(sub, ENTRIES - 1) == expected(ENTRIES - 1)
            && (1..ENTRIES - 1).all(|i| mem.read(sub, i) == expected(i));
        if uniform {
            // Table → block: break, invalidate, make, then free.
            mem.write(table, idx, 0);
            self.invalidate_now(mem, va, span);
            mem.write(table, idx, base | (attrs & !DESC_TABLE));
            mem.free_table(sub);
        }
    }

    fn free_subtree(&mut self, mem: &mut impl TableMemory, table: PhysAddr, level: usize) {
        if level < 3 {
            for i in 0..ENTRIES {
                let e = mem.read(table, i);
                if is_table(e, level) {
                    self.free_subtree(mem, e & ADDR_MASK, level + 1);
                }
            }
        }
        mem.free_table(table);
    }

    /// The table at `level` that translates `va`, made (empty) where
    /// missing; `BadRange` if a block already covers `va` above that
    /// level. For a fixed window whose level-`level` entries the owner
    /// writes itself (the EL2 remap window): nobody may map or unmap that
    /// range through the walker afterwards, which would merge or free it.
    pub fn table_for(&mut self, mem: &mut impl TableMemory, va: u64, level: usize) -> Result<PhysAddr, MapError> {
        if va >= 1u64 << self.va_bits || level > 3 || level < self.start_level {
            return Err(MapError::BadRange);
        }
        let mut table = self.root;
        for l in self.start_level..level {
            let (t, idx) = slot(table, ((va >> level_shift(l)) & (self.entries(l) as u64 - 1)) as usize);
            let e = mem.read(t, idx);
            table = if is_table(e, l) {
                e & ADDR_MASK
            } else if e & DESC_VALID != 0 {
                return Err(MapError::BadRange);
            } else {
                let sub = mem.alloc_table().ok_or(MapError::NoMemory)?;
                mem.write(t, idx, sub | DESC_VALID | DESC_TABLE);
                sub
            };
        }
        Ok(table)
    }

    /// Looks up `va`: the physical address and the leaf descriptor's
    /// attribute bits, if mapped.
    pub fn translate(&self, mem: &impl TableMemory, va: u64) -> Option<(u64, u64)> {
        if va >= 1u64 << self.va_bits {
            return None;
        }
        let mut table = self.root;
        for level in self.start_level..=3 {
            let shift = level_shift(level);
            let (t, idx) = slot(table, ((va >> shift) & (self.entries(level) as u64 - 1)) as usize);
            let e = mem.read(t, idx);
            if e & DESC_VALID == 0 {
                return None;
            }
            if is_table(e, level) {
                table = e & ADDR_MASK;
                continue;
            }
            let off = va & ((1u64 << shift) - 1);
            return Some(((e & ADDR_MASK & !((1u64 << shift) - 1)) + off, e & !ADDR_MASK));
        }
        None
    }

    /// Frees every table page, the root included. The table must not be
    /// live: no CPU uses it, and its VMID's TLB entries were invalidated.
    /// Revokes every translation of the table at once, keeping them for
    /// [`Self::restore`]: each valid top-level entry loses its valid bit
    /// (nothing else: an entry that is nonzero but invalid is one this
    /// made, as no other operation leaves one), then the whole range is
    /// invalidated in the table's scope (break without make: when this
    /// returns, no CPU translates through the table, so a CPU running on
    /// it takes a translation fault at its next instruction fetch). Only
    /// while nothing else maps, unmaps or destroys the table.
    pub fn revoke(&mut self, mem: &mut impl TableMemory) {
        for idx in 0..self.root_entries {
            let (t, i) = slot(self.root, idx);
            let e = mem.read(t, i);
            if e & DESC_VALID != 0 {
                mem.write(t, i, e & !DESC_VALID);
            }
        }
        mem.invalidate(self.scope, 0, 1u64 << self.va_bits);
    }

    /// Undoes [`Self::revoke`]: the entries it kept become valid again
    /// (invalid to valid: a make with nothing to break, an invalid entry
    /// is never cached). The caller orders the writes before the CPUs
    /// run on the table again (DSB ISHST).
    pub fn restore(&mut self, mem: &mut impl TableMemory) {
        for idx in 0..self.root_entries {
            let (t, i) = slot(self.root, idx);
            let e = mem.read(t, i);
            if e != 0 && e & DESC_VALID == 0 {
                mem.write(t, i, e | DESC_VALID);
            }
        }
    }

    pub fn destroy(self, mem: &mut impl TableMemory) {
        let mut this = self;
        let (root, level) = (this.root, this.start_level);
        // Each page of a concatenated root is a table of its own for
        // this purpose (entries past `root_entries` are never written).
        for page in 0..this.root_pages() {
            this.free_subtree(mem, root + page as u64 * PAGE, level);
        }
    }
}

/// A level-3 (page) descriptor for `pa` in `regime`.
pub fn page_desc(regime: Regime, pa: PhysAddr, attrs: Attrs) -> u64 {
    (pa & ADDR_MASK) | attrs.leaf_bits(regime) | DESC_TABLE
}

fn is_table(desc: u64, level: usize) -> bool {
    level < 3 && desc & (DESC_VALID | DESC_TABLE) == DESC_VALID | DESC_TABLE
}

/// Whether a leaf descriptor's stage-2 attributes allow writing.
pub fn s2_writable(bits: u64) -> bool {
    bits & (1 << 7) != 0
}

#[cfg(test)]
pub(crate) mod tests;

//! Translation tables backed by the page pool, and the EL2 address space.

use crate::hv::{self, IO_BASE, POOL, VIRT_BASE};
use crate::irqchip::{Regions, MAX_REGIONS};
use crate::mm::paging::{page_desc, Attrs, MapError, PageTable, Regime, TableMemory, TlbScope};
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::sync::Mutex;
use core::sync::atomic::{AtomicU64, Ordering};

/// Table pages from the global pool, accessed through the linear map.
#[derive(Debug)]
pub struct PoolMem;

fn table_va(pa: PhysAddr) -> *mut u64 {
    // The offset is a plain atomic, not `hv::get()`: table walks read
    // entries by the thousand, and each read paid the `Once` check.
    pa.wrapping_add(hv::phys_virt_offset()) as *mut u64
}

impl TableMemory for PoolMem {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        let pa = POOL.lock().as_mut()?.alloc(1)?;
        // SAFETY: a fresh pool page, inside hypervisor memory which the EL2
        // table maps read-write; nobody else holds it.
        unsafe { crate::arch::zero_normal(table_va(pa) as u64, PAGE_SIZE) };
        // The zeroes must be visible to every table walker before any
        // entry pointing at this page can be (a walker that saw the new
        // table entry but the page's old contents would use garbage as
        // translations): DSB ISHST completes the stores before the
        // caller's later store that publishes the table.
        crate::arch::dsb_ishst();
        Some(pa)
    }

    fn alloc_root(&mut self, pages: usize) -> Option<PhysAddr> {
        let size = pages as u64 * PAGE_SIZE;
        let pa = POOL.lock().as_mut()?.alloc(pages)?;
        // The buddy pool hands out blocks aligned to their size; a root
        // of concatenated tables must be (VTTBR_EL2.BADDR), so anything
        // else is refused rather than walked wrongly.
        if !pa.is_multiple_of(size) {
            for p in 0..pages as u64 {
                self.free_table(pa + p * PAGE_SIZE);
            }
            return None;
        }
        // SAFETY: fresh pool pages, inside hypervisor memory which the EL2
        // table maps read-write; nobody else holds them.
        unsafe { crate::arch::zero_normal(table_va(pa) as u64, size) };
        // As in `alloc_table`: zeroes visible to the walkers before the
        // root is published (VTTBR_EL2 or an STE).
        crate::arch::dsb_ishst();
        Some(pa)
    }

    fn free_table(&mut self, table: PhysAddr) {
        if let Some(pool) = POOL.lock().as_mut() {
            pool.free(table, 1);
        }
    }

    fn read(&self, table: PhysAddr, idx: usize) -> u64 {
        // SAFETY: `table` is a table page from the pool (mapped), idx < 512.
        unsafe { table_va(table).add(idx % 512).read_volatile() }
    }

    fn write(&mut self, table: PhysAddr, idx: usize, value: u64) {
        // SAFETY: as in `read`; the table walker may see the entry at any
        // time, and a single aligned 64-bit store is atomic for it.
        unsafe { table_va(table).add(idx % 512).write_volatile(value) }
    }

    fn invalidate(&mut self, scope: TlbScope, va: u64, size: u64) {
        match scope {
            TlbScope::El2 => crate::arch::tlbi_el2(va, size),
            TlbScope::Stage2 { vmid, root } => {
                crate::arch::tlbi_stage2(vmid, root, va, size);
                // Devices translating with this VMID hold TLB entries
                // too: the walker's step completes for them as well.
                crate::iommu::tlbi_stage2(vmid);
            }
            TlbScope::Dma => crate::iommu::tlbi_dma(),
        }
    }
}

/// A table owned by someone; its pages return to the pool on drop.
#[derive(Debug)]
pub struct OwnedTable(Option<PageTable>);

impl OwnedTable {
    /// An empty stage-2 table (`paging::STAGE2_IPA_BITS`) for `vmid`.
    pub fn stage2(vmid: u16) -> Result<Self, MapError> {
        Ok(Self(Some(PageTable::stage2(&mut PoolMem, vmid)?)))
    }

    /// Takes ownership of a table built elsewhere from pool pages.
    pub fn from_table(t: PageTable) -> Self {
        Self(Some(t))
    }

    /// The table, for edits through another `TableMemory` (the ownership
    /// module's reserve).
    pub fn table_mut(&mut self) -> Option<&mut PageTable> {
        self.0.as_mut()
    }

    /// Gives the table up without freeing it (the ownership module frees
    /// it after invalidating its VMID).
    pub fn into_table(mut self) -> Option<PageTable> {
        self.0.take()
    }

    /// An empty EL2 stage-1 table.
    pub fn el2() -> Result<Self, MapError> {
        Ok(Self(Some(PageTable::new(&mut PoolMem, Regime::El2, 48, 0)?)))
    }

    /// Which TLB entries its translations live in.
    pub fn scope(&self) -> Option<TlbScope> {
        self.0.as_ref().map(PageTable::scope)
    }

    /// Root table address.
    pub fn root(&self) -> PhysAddr {
        self.0.as_ref().map_or(0, |p| p.root())
    }

    /// Maps a range.
    pub fn map(&mut self, va: u64, pa: u64, size: u64, attrs: Attrs) -> Result<(), MapError> {
        // The table is only ever absent after `into_table`, which
        // consumes `self`: `BadRange` cannot happen, but is no panic.
        self.0.as_mut().ok_or(MapError::BadRange)?.map(&mut PoolMem, va, pa, size, attrs)
    }

    /// Unmaps a range.
    pub fn unmap(&mut self, va: u64, size: u64) -> Result<(), MapError> {
        self.0.as_mut().ok_or(MapError::BadRange)?.unmap(&mut PoolMem, va, size)
    }

    /// Translates an address.
    pub fn translate(&self, va: u64) -> Option<(u64, u64)> {
        self.0.as_ref()?.translate(&PoolMem, va)
    }
}

impl Drop for OwnedTable {
    fn drop(&mut self) {
        if let Some(pt) = self.0.take() {
            pt.destroy(&mut PoolMem);
        }
    }
}

/// A stage-2 root table with no valid entry (start level 1, both
/// concatenated pages, aligned to their 8 KiB like every stage-2 root):
/// where a parked CPU's VTTBR_EL2 points (`arch::park_stage2`). Never
/// written; only the table walker reads it.
#[repr(C, align(8192))]
struct EmptyTable([u64; 1024]);
static EMPTY_STAGE2: EmptyTable = EmptyTable([0; 1024]);

/// Physical address of the empty stage-2 table (the image is linearly
/// mapped: physical = virtual - offset).
pub fn empty_stage2() -> PhysAddr {
    let va = core::ptr::addr_of!(EMPTY_STAGE2) as u64;
    hv::get().map_or(0, |h| va.wrapping_sub(h.phys_virt_offset()))
}

static EL2_TABLE: Mutex<Option<OwnedTable>> = Mutex::new(None);
static EL2_ROOT: AtomicU64 = AtomicU64::new(0);

/// Keeps the runtime EL2 table (first CPU, once).
pub fn install_el2_table(t: OwnedTable) {
    EL2_ROOT.store(t.root(), Ordering::Release);
    *EL2_TABLE.lock() = Some(t);
}

/// Root of the runtime EL2 table.
pub fn el2_root() -> u64 {
    EL2_ROOT.load(Ordering::Acquire)
}

/// EL2 window for temporary mappings of memory outside hypervisor memory
/// (copying a cell configuration or a boot image, cache maintenance when
/// memory changes owner).
pub const REMAP_BASE: u64 = IO_BASE + 0x1000_0000;
/// Size of the window: one level-3 table's worth, 2 MiB.
pub const REMAP_SIZE: u64 = 0x20_0000;

/// The window's own level-3 table, made when the EL2 map is built and
/// never seen by the table walker again, so mapping a page through the
/// window is one entry write and never allocates. The lock around it is
/// the token of the window's one user: [`with_remap`] holds it for the
/// whole use, so two users cannot exist.
#[derive(Debug)]
struct Window {
    l3: PhysAddr,
}

static WINDOW: Mutex<Option<Window>> = Mutex::new(None);

/// Memory mapped through the remap window for the duration of one
/// [`with_remap`] call (it cannot outlive the call: the closure gets only
/// a reference). Accesses are volatile copies: the memory belongs to a
/// guest, which may change it at any time, so no Rust reference to it is
/// ever made.
#[derive(Debug)]
pub struct Remapped {
    va: u64,
    len: u64,
}

impl Remapped {
    fn span(&self, off: usize, n: usize) -> Option<u64> {
        let end = (off as u64).checked_add(n as u64)?;
        (end <= self.len).then_some(self.va + off as u64)
    }

    /// Copies `out.len()` bytes from offset `off`; false if out of range.
    pub fn read(&self, off: usize, out: &mut [u8]) -> bool {
        let Some(va) = self.span(off, out.len()) else { return false };
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: inside the window mapping of this call (checked).
            *b = unsafe { ((va + i as u64) as *const u8).read_volatile() };
        }
        true
    }

    /// Copies `data` to offset `off`; false if out of range.
    pub fn write(&self, off: usize, data: &[u8]) -> bool {
        let Some(va) = self.span(off, data.len()) else { return false };
        for (i, b) in data.iter().enumerate() {
            // SAFETY: inside the window mapping of this call (checked).
            unsafe { ((va + i as u64) as *mut u8).write_volatile(*b) };
        }
        true
    }

    /// Cleans and invalidates the mapped bytes to the point of coherency.
    pub fn clean_inval(&self) {
        crate::arch::dcache_clean_inval(self.va, self.len);
    }

    /// Bytes mapped.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Runs `f` with `[pa, pa + size)` (at most 2 MiB, not crossing a 2 MiB
/// boundary) mapped read-write through the window. Never allocates.
pub fn with_remap<R>(pa: u64, size: u64, f: impl FnOnce(&Remapped) -> R) -> Result<R, MapError> {
    let base = pa & !(REMAP_SIZE - 1);
    if size == 0 || size > REMAP_SIZE || (pa - base) + size > REMAP_SIZE {
        return Err(MapError::BadRange);
    }
    let page_pa = pa & !(PAGE_SIZE - 1);
    let pages = (page_end(pa + size) - page_pa) / PAGE_SIZE;
    let first = ((page_pa - base) / PAGE_SIZE) as usize;
    let window = WINDOW.lock();
    let w = window.as_ref().ok_or(MapError::BadRange)?;
    for i in 0..pages as usize {
        // Invalid → valid: nothing to break (invalid entries are never
        // cached), the previous user left every entry invalid.
        PoolMem.write(w.l3, first + i, page_desc(Regime::El2, page_pa + i as u64 * PAGE_SIZE, Attrs::RW));
    }
    // The entries reach this CPU's table walker before the first access.
    crate::arch::dsb_ish();
    crate::arch::isb();
    let r = f(&Remapped { va: REMAP_BASE + (pa - base), len: size });
    for i in 0..pages as usize {
        PoolMem.write(w.l3, first + i, 0);
    }
    // No CPU may translate through the window once the token is released.
    PoolMem.invalidate(TlbScope::El2, REMAP_BASE + (page_pa - base), pages * PAGE_SIZE);
    drop(window);
    Ok(r)
}

/// Cleans and invalidates `[pa, pa + size)` (outside hypervisor memory)
/// to the point of coherency, 2 MiB at a time through the window.
pub fn clean_inval_phys(pa: u64, size: u64) {
    let mut at = pa;
    let end = pa.saturating_add(size);
    while at < end {
        let chunk = (REMAP_SIZE - at % REMAP_SIZE).min(end - at);
        if with_remap(at, chunk, Remapped::clean_inval).is_err() {
            log::error!("cannot clean {at:#x}+{chunk:#x}: no remap window");
        }
        at += chunk;
    }
}

fn page_end(x: u64) -> u64 {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// EL2 virtual addresses of the devices the hypervisor maps.
#[derive(Debug, Clone, Copy)]
pub struct IoMap {
    pub uart: u64,
    /// Interrupt-controller region `k` (`irqchip::Regions`) at `gic[k]`.
    pub gic: [u64; MAX_REGIONS],
}

/// EL2 (address, room) of each interrupt-controller region. Region 0
/// (GICv3's 64 KiB GICD) shares the UART's 2 MiB block, so one level-3
/// table serves both; region 1 has room for 384 GICv3 redistributor frame
/// pairs; all end far below the remap window.
const GIC_SLOTS: [(u64, u64); MAX_REGIONS] = [
    (IO_BASE + 0x10_0000, 0xf0_0000),
    (IO_BASE + 0x100_0000, 0x300_0000),
    (IO_BASE + 0x400_0000, 0x100_0000),
    (IO_BASE + 0x500_0000, 0x100_0000),
];
const _: () = assert!(IO_BASE + 0x600_0000 <= REMAP_BASE);

/// Builds the runtime EL2 map: the image (text executable, the rest
/// read-write), hypervisor memory, the identity-mapped trampoline page and
/// the debug UART, and the interrupt controller's regions.
pub fn build_el2_map(hv: &hv::Hv, uart_phys: u64, gic: &Regions) -> Result<(OwnedTable, IoMap), MapError> {
    extern "C" {
        static __trampoline_start: u8;
        static __rodata_start: u8;
    }
    let (tramp, rodata) =
        (core::ptr::addr_of!(__trampoline_start) as u64, core::ptr::addr_of!(__rodata_start) as u64);
    let mut t = OwnedTable::el2()?;
    let text_size = rodata - VIRT_BASE;
    t.map(VIRT_BASE, hv.phys_base, text_size, Attrs { write: false, exec: true, ..Attrs::RW })?;
    t.map(rodata, hv.phys_base + text_size, hv.hv_size - text_size, Attrs::RW)?;
    let tramp_phys = tramp - VIRT_BASE + hv.phys_base;
    t.map(tramp_phys, tramp_phys, PAGE_SIZE, Attrs { write: false, exec: true, ..Attrs::RW })?;
    let uart = IO_BASE + (uart_phys & (PAGE_SIZE - 1));
    if uart_phys != 0 {
        t.map(IO_BASE, uart_phys & !(PAGE_SIZE - 1), PAGE_SIZE, Attrs::DEVICE)?;
    }
    let mut gic_va = [0; MAX_REGIONS];
    for ((r, &(slot, room)), va) in gic.as_slice().iter().zip(&GIC_SLOTS).zip(&mut gic_va) {
        *va = slot;
        if r.size > room {
            return Err(MapError::BadRange);
        }
        if r.base != 0 && r.size != 0 {
            t.map(*va, r.base, r.size, Attrs::DEVICE)?;
        }
    }
    let l3 = t.table_mut().ok_or(MapError::BadRange)?.table_for(&mut PoolMem, REMAP_BASE, 3)?;
    *WINDOW.lock() = Some(Window { l3 });
    Ok((t, IoMap { uart, gic: gic_va }))
}

/// One page from the pool, returned on drop (the comm region page). A
/// cell maps it, so the hypervisor only copies in and out of it (volatile
/// accesses), never holds a reference to its contents.
#[derive(Debug)]
pub struct PoolPage(PhysAddr);

impl PoolPage {
    /// A zeroed page.
    pub fn new() -> Option<Self> {
        PoolMem.alloc_table().map(Self)
    }

    /// Takes ownership of a pool page allocated elsewhere (the ownership
    /// module's prepare).
    pub fn adopt(pa: PhysAddr) -> Self {
        Self(pa)
    }

    /// Gives the page up without freeing it.
    pub fn into_phys(self) -> PhysAddr {
        let pa = self.0;
        core::mem::forget(self);
        pa
    }

    /// Its physical address.
    pub fn phys(&self) -> PhysAddr {
        self.0
    }

    fn va(&self, off: usize, n: usize) -> Option<*mut u8> {
        let end = off.checked_add(n)?;
        (end <= PAGE_SIZE as usize).then(|| (table_va(self.0) as u64 + off as u64) as *mut u8)
    }

    /// Copies `data` to offset `off`; false if it does not fit.
    pub fn write_bytes(&self, off: usize, data: &[u8]) -> bool {
        let Some(p) = self.va(off, data.len()) else { return false };
        for (i, b) in data.iter().enumerate() {
            // SAFETY: inside this pool page (checked), mapped read-write in
            // the EL2 linear map; volatile, as the cell may access it.
            unsafe { p.add(i).write_volatile(*b) };
        }
        true
    }

    /// Copies from offset `off` into `out`; false if out of range.
    pub fn read(&self, off: usize, out: &mut [u8]) -> bool {
        let Some(p) = self.va(off, out.len()) else { return false };
        for (i, b) in out.iter_mut().enumerate() {
            // SAFETY: as in `write_bytes`.
            *b = unsafe { p.add(i).read_volatile() };
        }
        true
    }

    /// The aligned 32-bit word at `off` (one volatile load: a word the
    /// cell writes at once is never seen torn); 0 if out of range.
    pub fn read_u32(&self, off: usize) -> u32 {
        match self.va(off, 4) {
            // SAFETY: inside this pool page (checked) and 4-byte aligned
            // (asserted), mapped read-write in the EL2 linear map.
            Some(p) if off.is_multiple_of(4) => unsafe { (p as *const u32).read_volatile() },
            _ => 0,
        }
    }

    /// Writes the aligned 32-bit word at `off` (one volatile store);
    /// false if out of range or unaligned.
    pub fn write_u32(&self, off: usize, value: u32) -> bool {
        match self.va(off, 4) {
            Some(p) if off.is_multiple_of(4) => {
                // SAFETY: as in `read_u32`.
                unsafe { (p as *mut u32).write_volatile(value) };
                true
            }
            _ => false,
        }
    }

    /// Zeroes the page.
    pub fn zero(&self) {
        // SAFETY: this pool page, held by `self`, mapped read-write in the
        // EL2 linear map; a cell that maps it can only see zeroes appear.
        unsafe { crate::arch::zero_normal(table_va(self.0) as u64, PAGE_SIZE) };
    }
}

impl Drop for PoolPage {
    fn drop(&mut self) {
        PoolMem.free_table(self.0);
    }
}

/// EL2 window of the sub-page regions' device pages (`mmio::window`):
/// [`crate::mmio::window::SLOTS`] pages, one level-3 table, between the
/// remap window and the top of the 48-bit EL2 address space.
pub const SUBPAGE_BASE: u64 = IO_BASE + 0x1800_0000;
const _: () = assert!(SUBPAGE_BASE + crate::mmio::window::SLOTS as u64 * PAGE_SIZE <= 1 << 48);
const _: () = assert!(SUBPAGE_BASE >= REMAP_BASE + REMAP_SIZE);

/// Maps device memory `[pa, pa + size)` at EL2 `va` (sub-page windows);
/// the caller invalidates the EL2 TLBs.
pub fn map_el2_device(va: u64, pa: u64, size: u64) -> Result<(), MapError> {
    let mut t = EL2_TABLE.lock();
    t.as_mut().ok_or(MapError::BadRange)?.map(va, pa, size, Attrs::DEVICE)
}

/// Unmaps `[va, va + size)` at EL2; the caller invalidates the EL2 TLBs.
pub fn unmap_el2(va: u64, size: u64) -> Result<(), MapError> {
    let mut t = EL2_TABLE.lock();
    t.as_mut().ok_or(MapError::BadRange)?.unmap(va, size)
}

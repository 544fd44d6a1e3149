//! Translation tables backed by the page pool, and the EL2 address space.

use crate::hv::{self, IO_BASE, POOL, VIRT_BASE};
use crate::mm::paging::{Attrs, MapError, PageTable, Regime, TableMemory};
use crate::mm::{PhysAddr, PAGE_SIZE};
use crate::sync::Mutex;
use core::sync::atomic::{AtomicU64, Ordering};

/// Table pages from the global pool, accessed through the linear map.
#[derive(Debug)]
pub struct PoolMem;

fn table_va(pa: PhysAddr) -> *mut u64 {
    hv::get().map_or(0, |h| h.phys_to_virt(pa)) as *mut u64
}

impl TableMemory for PoolMem {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        let pa = POOL.lock().as_mut()?.alloc(1)?;
        // SAFETY: a fresh pool page, inside hypervisor memory which the EL2
        // table maps read-write; nobody else holds it.
        unsafe { core::ptr::write_bytes(table_va(pa) as *mut u8, 0, PAGE_SIZE as usize) };
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
}

/// A table owned by someone; its pages return to the pool on drop.
#[derive(Debug)]
pub struct OwnedTable(Option<PageTable>);

impl OwnedTable {
    /// An empty stage-2 table (39-bit IPA, start level 1).
    pub fn stage2() -> Result<Self, MapError> {
        Ok(Self(Some(PageTable::new(&mut PoolMem, Regime::Stage2, 39, 1)?)))
    }

    /// An empty EL2 stage-1 table.
    pub fn el2() -> Result<Self, MapError> {
        Ok(Self(Some(PageTable::new(&mut PoolMem, Regime::El2, 48, 0)?)))
    }

    fn pt(&mut self) -> &mut PageTable {
        self.0.as_mut().expect("table present until drop")
    }

    /// Root table address.
    pub fn root(&self) -> PhysAddr {
        self.0.as_ref().map_or(0, |p| p.root())
    }

    /// Maps a range.
    pub fn map(&mut self, va: u64, pa: u64, size: u64, attrs: Attrs) -> Result<(), MapError> {
        self.pt().map(&mut PoolMem, va, pa, size, attrs)
    }

    /// Unmaps a range.
    pub fn unmap(&mut self, va: u64, size: u64) -> Result<(), MapError> {
        self.pt().unmap(&mut PoolMem, va, size)
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

/// EL2 window for temporary mappings of guest memory (copying a cell
/// config, cache maintenance when memory changes owner).
pub const REMAP_BASE: u64 = IO_BASE + 0x1000_0000;
/// Size of the window: one 2 MiB block.
pub const REMAP_SIZE: u64 = 0x20_0000;

/// Runs `f` with `[pa, pa + size)` (at most 2 MiB, not crossing a 2 MiB
/// boundary) mapped read-write at the returned EL2 address. The caller
/// holds the management lock, so the window has one user at a time.
pub fn with_remap<R>(pa: u64, size: u64, f: impl FnOnce(u64) -> R) -> Result<R, MapError> {
    let base = pa & !(REMAP_SIZE - 1);
    if size == 0 || size > REMAP_SIZE || (pa - base) + size > REMAP_SIZE {
        return Err(MapError::BadRange);
    }
    let (page_pa, span) = (pa & !(PAGE_SIZE - 1), page_end(pa + size) - (pa & !(PAGE_SIZE - 1)));
    let va = REMAP_BASE + (page_pa - base);
    {
        let mut t = EL2_TABLE.lock();
        let t = t.as_mut().ok_or(MapError::BadRange)?;
        t.map(va, page_pa, span, Attrs::RW)?;
    }
    crate::arch::flush_el2_tlb();
    let r = f(REMAP_BASE + (pa - base));
    if let Some(t) = EL2_TABLE.lock().as_mut() {
        let _ = t.unmap(va, span);
    }
    crate::arch::flush_el2_tlb();
    Ok(r)
}

fn page_end(x: u64) -> u64 {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// EL2 virtual addresses of the devices the hypervisor maps.
#[derive(Debug, Clone, Copy)]
pub struct IoMap {
    pub uart: u64,
    pub gicd: u64,
    pub gicr: u64,
}

/// Where the GIC is: (GICD phys, GICR phys, GICR bytes).
#[derive(Debug, Clone, Copy)]
pub struct GicPhys {
    pub gicd: u64,
    pub gicr: u64,
    pub gicr_size: u64,
}

/// Builds the runtime EL2 map: the image (text executable, the rest
/// read-write), hypervisor memory, the identity-mapped trampoline page and
/// the debug UART.
pub fn build_el2_map(hv: &hv::Hv, uart_phys: u64, gic: GicPhys) -> Result<(OwnedTable, IoMap), MapError> {
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
    let (gicd, gicr) = (IO_BASE + 0x10_0000, IO_BASE + 0x100_0000);
    if gic.gicd != 0 {
        t.map(gicd, gic.gicd, crate::gic::dist::GICD_SIZE, Attrs::DEVICE)?;
    }
    if gic.gicr != 0 && gic.gicr_size != 0 {
        t.map(gicr, gic.gicr, gic.gicr_size, Attrs::DEVICE)?;
    }
    Ok((t, IoMap { uart, gicd, gicr }))
}

/// One page from the pool, returned on drop (the comm region page).
#[derive(Debug)]
pub struct PoolPage(PhysAddr);

impl PoolPage {
    /// A zeroed page.
    pub fn new() -> Option<Self> {
        PoolMem.alloc_table().map(Self)
    }

    /// Its physical address.
    pub fn phys(&self) -> PhysAddr {
        self.0
    }

    /// Its contents.
    pub fn bytes_mut(&mut self) -> &mut [u8; 4096] {
        // The cell may write the page concurrently only through its own
        // mapping, and only plain bytes, which cannot form invalid values.
        // SAFETY: a pool page owned by this value alone, page aligned and
        // mapped read-write in the EL2 linear map.
        unsafe { &mut *(table_va(self.0) as *mut [u8; 4096]) }
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

//! Pool pages taken ahead of a commit: prepare fills a reserve (the only
//! step that can run out of memory), commit's table edits draw from it
//! and cannot fail, and whatever is left goes back to the pool.

extern crate alloc;

use crate::error::{Error, Result};
use crate::mm::paging::{TableMemory, TlbScope};
use crate::mm::PhysAddr;
use alloc::vec::Vec;

/// Tables a change of one contiguous range of an identity-mapped stage 2
/// (start level 1) or DMA mirror (start level 0) can allocate. A new
/// table is made only under an entry the range covers partly (a wholly
/// covered entry becomes a block or invalid: the addresses are identical,
/// so always block-aligned), or, in a mirror, under a level-0 entry
/// (never a block) with no table yet; at each level only the entries
/// holding the range's two edges can be partly covered: at most two new
/// tables at each of levels 1 (mirrors only), 2 and 3.
pub const TABLES_PER_RANGE: usize = 2 * 3;

/// Zeroed pool pages set aside for one commit.
#[derive(Debug, Default)]
pub struct Reserve {
    pages: Vec<PhysAddr>,
    /// Pages a commit had to take from the pool because the reserve was
    /// short (a wrong bound; logged, counted so tests can assert zero).
    pub overdrawn: usize,
}

impl Reserve {
    /// Takes `n` pages from `mem`; on failure gives back what it took and
    /// changes nothing.
    pub fn take(mem: &mut impl TableMemory, n: usize) -> Result<Self> {
        let mut r = Reserve::default();
        r.pages.try_reserve_exact(n)?;
        for _ in 0..n {
            match mem.alloc_table() {
                Some(p) => r.pages.push(p),
                None => {
                    r.give_back(mem);
                    return Err(Error::NoMemory);
                }
            }
        }
        Ok(r)
    }

    /// Returns the pages not drawn to the pool.
    pub fn give_back(mut self, mem: &mut impl TableMemory) {
        for p in self.pages.drain(..) {
            mem.free_table(p);
        }
    }

    /// Pages still held.
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether none are held.
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }
}

impl Drop for Reserve {
    fn drop(&mut self) {
        // Every path hands its reserve to `give_back`; pages still held
        // here would be lost to the pool, which the accounting tests see.
        if !self.pages.is_empty() {
            log::error!("ownership: a reserve of {} pages was dropped, not given back", self.pages.len());
        }
    }
}

/// `mem` with table allocations served from a reserve: what commit edits
/// the root's tables through.
pub struct Drawing<'a, M: TableMemory> {
    pub mem: &'a mut M,
    pub reserve: &'a mut Reserve,
}

impl<M: TableMemory> TableMemory for Drawing<'_, M> {
    fn alloc_table(&mut self) -> Option<PhysAddr> {
        if let Some(p) = self.reserve.pages.pop() {
            // Reserve pages are still zero: nothing wrote them since the
            // pool zeroed them.
            return Some(p);
        }
        self.reserve.overdrawn += 1;
        log::error!("ownership: reserve exhausted during a commit, drawing on the pool");
        self.mem.alloc_table()
    }
    fn alloc_root(&mut self, pages: usize) -> Option<PhysAddr> {
        // Roots are made with a table, never by a commit's edits.
        self.mem.alloc_root(pages)
    }
    fn free_table(&mut self, table: PhysAddr) {
        self.mem.free_table(table);
    }
    fn read(&self, table: PhysAddr, idx: usize) -> u64 {
        self.mem.read(table, idx)
    }
    fn write(&mut self, table: PhysAddr, idx: usize, value: u64) {
        self.mem.write(table, idx, value);
    }
    fn invalidate(&mut self, scope: TlbScope, va: u64, size: u64) {
        self.mem.invalidate(scope, va, size);
    }
}

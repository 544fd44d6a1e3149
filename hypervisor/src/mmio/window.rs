//! EL2 mappings of the device pages behind sub-page regions.
//!
//! Why a mapping per region, made at create, and not a temporary mapping
//! per access (as Jailhouse does): a per-access map needs a TLB
//! invalidation on every trapped access (broadcast, since the EL2 table is
//! shared and other CPUs may walk it speculatively), takes the EL2 table
//! lock on the access path, and can fail there for want of a table page,
//! turning a hypervisor resource shortage into a failed cell at an
//! arbitrary moment. Mapped at create, the failure is a clean -ENOMEM of
//! the create with nothing changed, and an access is one load or store.
//!
//! The pages live in a fixed window of [`SLOTS`] pages at EL2 (one level-3
//! table's worth). [`Slots`] hands out runs of them; a run is given back
//! only after its pages were unmapped and the EL2 TLBs invalidated, so a
//! reused slot never translates through a stale entry.

#[cfg(target_os = "none")]
use crate::error::Error;
use crate::error::Result;

/// Pages in the window.
pub const SLOTS: usize = 512;

/// Which pages of the window are in use (bit set: used).
#[derive(Debug, Clone)]
pub struct Slots([u64; SLOTS / 64]);

impl Default for Slots {
    fn default() -> Self {
        Self::new()
    }
}

impl Slots {
    /// An empty window.
    pub const fn new() -> Self {
        Self([0; SLOTS / 64])
    }

    fn used(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn set(&mut self, i: usize, v: bool) {
        if let Some(w) = self.0.get_mut(i / 64) {
            if v {
                *w |= 1 << (i % 64);
            } else {
                *w &= !(1 << (i % 64));
            }
        }
    }

    /// Takes the first run of `n` free pages; its first index.
    pub fn alloc(&mut self, n: usize) -> Option<usize> {
        if n == 0 || n > SLOTS {
            return None;
        }
        // n <= SLOTS and start + n <= SLOTS in the loop: no sum overflows.
        let mut start = 0usize;
        while start.saturating_add(n) <= SLOTS {
            let run = start..start.saturating_add(n);
            match run.clone().find(|&i| self.used(i)) {
                Some(busy) => start = busy.saturating_add(1),
                None => {
                    run.for_each(|i| self.set(i, true));
                    return Some(start);
                }
            }
        }
        None
    }

    /// Gives back `n` pages from `first`.
    pub fn free(&mut self, first: usize, n: usize) {
        (first..first.saturating_add(n).min(SLOTS)).for_each(|i| self.set(i, false));
    }

    /// Pages in use.
    pub fn in_use(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }
}

/// Where a [`super::Table`] maps the device pages of its sub-page
/// regions. Associated functions, not methods: the table calls `unmap`
/// from its `Drop`, where no context can be passed.
pub trait Window {
    /// Maps `pages` device pages from physical `phys` (page aligned);
    /// returns their EL2 virtual address. Fails with nothing mapped.
    fn map(phys: u64, pages: u64) -> Result<u64>;
    /// Unmaps what `map` returned, invalidates, then frees the slots.
    fn unmap(va: u64, pages: u64);
}

/// The real window in the EL2 address space.
#[cfg(target_os = "none")]
#[derive(Debug)]
pub struct El2Window;

#[cfg(target_os = "none")]
static EL2_SLOTS: crate::sync::Mutex<Slots> = crate::sync::Mutex::new(Slots::new());

#[cfg(target_os = "none")]
impl Window for El2Window {
    fn map(phys: u64, pages: u64) -> Result<u64> {
        use crate::memmap::{map_el2_device, unmap_el2, SUBPAGE_BASE};
        use crate::mm::PAGE_SIZE;
        let n = usize::try_from(pages).map_err(|_| Error::NoMemory)?;
        let first = EL2_SLOTS.lock().alloc(n).ok_or(Error::NoMemory)?;
        // first + pages <= SLOTS (512): the window is 2 MiB.
        let va = SUBPAGE_BASE.wrapping_add((first as u64).wrapping_mul(PAGE_SIZE));
        let size = pages.saturating_mul(PAGE_SIZE);
        if let Err(e) = map_el2_device(va, phys, size) {
            // A partial run may be mapped: remove it and invalidate before
            // the slots can be handed out again.
            let _ = unmap_el2(va, size);
            crate::arch::tlbi_el2(va, size);
            EL2_SLOTS.lock().free(first, n);
            return Err(e.into());
        }
        // The entries were invalid before (a freed slot was invalidated when
        // it was freed), so no break-before-make is needed; the barrier in
        // the flush makes the new entries visible to this CPU's walks.
        crate::arch::tlbi_el2(va, size);
        Ok(va)
    }

    fn unmap(va: u64, pages: u64) {
        use crate::memmap::{unmap_el2, SUBPAGE_BASE};
        use crate::mm::PAGE_SIZE;
        let size = pages.saturating_mul(PAGE_SIZE);
        // Level-3 entries only: unmapping them never allocates.
        if unmap_el2(va, size).is_err() {
            log::error!("cannot unmap the sub-page window at {va:#x}: its slots stay taken");
            return;
        }
        crate::arch::tlbi_el2(va, size);
        let first = (va.wrapping_sub(SUBPAGE_BASE) / PAGE_SIZE) as usize;
        EL2_SLOTS.lock().free(first, pages as usize);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_are_first_fit_and_reusable() {
        let mut s = Slots::new();
        assert_eq!(s.alloc(1), Some(0));
        assert_eq!(s.alloc(2), Some(1));
        assert_eq!(s.alloc(1), Some(3));
        s.free(1, 2);
        assert_eq!(s.in_use(), 2);
        // A run of 3 does not fit in the hole of 2.
        assert_eq!(s.alloc(3), Some(4));
        assert_eq!(s.alloc(2), Some(1));
        assert_eq!(s.in_use(), 7);
    }

    #[test]
    fn exhaustion_and_bad_sizes() {
        let mut s = Slots::new();
        assert_eq!(s.alloc(0), None);
        assert_eq!(s.alloc(SLOTS + 1), None);
        assert_eq!(s.alloc(SLOTS), Some(0));
        assert_eq!(s.alloc(1), None);
        s.free(SLOTS - 1, 10);
        assert_eq!(s.alloc(1), Some(SLOTS - 1));
        s.free(0, SLOTS);
        assert_eq!(s.in_use(), 0);
    }
}

//! The page pool: every page of hypervisor memory after the system config.
//! Page tables and other dynamic per-cell state come from here; they go
//! back when their owner is dropped, so "pool used" is an exact leak check.

use super::{PhysAddr, PAGE_SIZE};
use buddy_system_allocator::FrameAllocator;

/// Buddy allocator over the pool's page frames, with usage accounting.
pub struct FramePool {
    frames: FrameAllocator<24>,
    start: PhysAddr,
    total: usize,
    used: usize,
}

impl core::fmt::Debug for FramePool {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "FramePool({:#x}, {} of {} used)", self.start, self.used, self.total)
    }
}

impl FramePool {
    /// A pool over the pages of `[start, end)` (page aligned).
    pub fn new(start: PhysAddr, end: PhysAddr) -> Self {
        let mut frames = FrameAllocator::new();
        let (first, last) = ((start / PAGE_SIZE) as usize, (end / PAGE_SIZE) as usize);
        if last > first {
            frames.add_frame(first, last);
        }
        Self { frames, start, total: last.saturating_sub(first), used: 0 }
    }

    /// Allocates `count` contiguous pages.
    pub fn alloc(&mut self, count: usize) -> Option<PhysAddr> {
        let frame = self.frames.alloc(count)?;
        self.used += count;
        Some(frame as u64 * PAGE_SIZE)
    }

    /// Returns pages allocated by [`FramePool::alloc`] with the same count.
    pub fn free(&mut self, pa: PhysAddr, count: usize) {
        self.frames.dealloc((pa / PAGE_SIZE) as usize, count);
        self.used -= count;
    }

    /// Pages in the pool.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Pages handed out.
    pub fn used(&self) -> usize {
        self.used
    }

    /// First byte of the pool.
    pub fn start(&self) -> PhysAddr {
        self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_follows_alloc_and_free() {
        let mut pool = FramePool::new(0x7fd0_0000, 0x8000_0000);
        assert_eq!(pool.total(), 0x300);
        let a = pool.alloc(1).unwrap();
        let b = pool.alloc(4).unwrap();
        assert!((0x7fd0_0000..0x8000_0000).contains(&a));
        assert_eq!(b % (4 * PAGE_SIZE), 0, "buddy blocks are naturally aligned");
        assert_eq!(pool.used(), 5);
        pool.free(a, 1);
        pool.free(b, 4);
        assert_eq!(pool.used(), 0);
    }

    #[test]
    fn exhaustion_returns_none() {
        let mut pool = FramePool::new(0x4000, 0x8000);
        let pages: Vec<_> = (0..4).map(|_| pool.alloc(1).unwrap()).collect();
        assert_eq!(pool.alloc(1), None);
        for p in pages {
            pool.free(p, 1);
        }
        assert!(pool.alloc(4).is_some());
    }
}

//! Memory management: the page pool, translation tables, the heap.

pub mod frame;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod heap;
pub mod paging;

/// A physical address.
pub type PhysAddr = u64;

/// Size of a page.
pub const PAGE_SIZE: u64 = 4096;

/// Rounds `x` up to a page boundary (saturating).
pub const fn page_align_up(x: u64) -> u64 {
    x.saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

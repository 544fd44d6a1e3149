//! The hypervisor heap: a fixed arena in .bss behind a buddy allocator.

use crate::sync::Mutex;
use buddy_system_allocator::Heap;
use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{addr_of_mut, null_mut, NonNull};

const HEAP_SIZE: usize = 512 * 1024;

#[repr(align(4096))]
struct Arena([u8; HEAP_SIZE]);

static mut ARENA: Arena = Arena([0; HEAP_SIZE]);

struct LockedHeap(Mutex<Heap<32>>);

#[global_allocator]
static HEAP: LockedHeap = LockedHeap(Mutex::new(Heap::empty()));

/// Hands the arena to the allocator. Called once by the first CPU.
pub fn init() {
    // SAFETY: ARENA is used by nothing else; this runs once, before any
    // allocation, on the single CPU doing global init.
    unsafe {
        let start = addr_of_mut!(ARENA.0) as usize;
        HEAP.0.lock().init(start, HEAP_SIZE);
    }
}

// SAFETY: allocation and deallocation are serialised by the mutex and
// delegated to the buddy heap, which hands out disjoint blocks.
unsafe impl GlobalAlloc for LockedHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.0.lock().alloc(layout).map_or(null_mut(), |p| p.as_ptr())
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(p) = NonNull::new(ptr) {
            // SAFETY: the caller guarantees `ptr` came from `alloc` with `layout`.
            unsafe { self.0.lock().dealloc(p, layout) };
        }
    }
}

//! Access to memory the hypervisor does not own: copying a cell
//! configuration out of root guest-physical memory, and cache maintenance
//! when memory changes owner.

extern crate alloc;

use crate::cell::CELLS;
use crate::errno::*;
use crate::memmap::{with_remap, REMAP_SIZE};
use crate::mm::paging::s2_writable;
use crate::mm::PAGE_SIZE;
use alloc::vec::Vec;

/// Copies `len` bytes at root guest-physical `gpa`. Every page must be
/// mapped in the root's stage 2 and must not be hypervisor memory.
pub fn copy_from_root(gpa: u64, len: usize) -> Result<Vec<u8>, i64> {
    let end = gpa.checked_add(len as u64).ok_or(-EINVAL)?;
    let hv = crate::hv::get().ok_or(-EINVAL)?;
    let hv_range = hv.phys_base..hv.phys_base + hv.hv_size;
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| -ENOMEM)?;
    let mut at = gpa;
    while at < end {
        let chunk = (PAGE_SIZE - at % PAGE_SIZE).min(end - at);
        let pa = {
            let cells = CELLS.lock();
            let root = cells.first().ok_or(-EINVAL)?;
            let (pa, bits) = root.stage2.translate(at).ok_or(-EINVAL)?;
            // Device mappings (writable or not) are never read as config.
            if bits & (0xf << 2) != 0xf << 2 || !(s2_writable(bits) || bits & (1 << 6) != 0) {
                return Err(-EINVAL);
            }
            pa
        };
        if hv_range.contains(&pa) {
            return Err(-EINVAL);
        }
        with_remap(pa, chunk, |va| {
            for i in 0..chunk {
                // SAFETY: `va..va+chunk` is the remap window mapping of the
                // root page just checked; volatile reads because the root
                // may write it concurrently (we only trust our copy).
                out.push(unsafe { ((va + i) as *const u8).read_volatile() });
            }
        })
        .map_err(|_| -ENOMEM)?;
        at += chunk;
    }
    Ok(out)
}

/// Cleans and invalidates `[pa, pa + size)` to the point of coherency.
pub fn flush_phys(pa: u64, size: u64) -> Result<(), i64> {
    let mut at = pa;
    let end = pa.checked_add(size).ok_or(-EINVAL)?;
    while at < end {
        let chunk = (REMAP_SIZE - at % REMAP_SIZE).min(end - at);
        with_remap(at, chunk, |va| crate::arch::dcache_clean_inval(va, chunk)).map_err(|_| -ENOMEM)?;
        at += chunk;
    }
    Ok(())
}

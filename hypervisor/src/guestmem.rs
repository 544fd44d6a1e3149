//! Access to memory the hypervisor does not own: copying a cell
//! configuration out of root guest-physical memory. (Cache maintenance
//! when memory changes owner lives in the ownership module.)

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

extern crate alloc;

use crate::cell::CELLS;
use crate::errno::*;
use crate::memmap::with_remap;
use crate::mm::paging::s2_writable;
use crate::mm::PAGE_SIZE;
use alloc::vec::Vec;

/// Copies `len` bytes at root guest-physical `gpa`. Every page must be
/// mapped in the root's stage 2 and must not be hypervisor memory.
pub fn copy_from_root(gpa: u64, len: usize) -> Result<Vec<u8>, i64> {
    let end = gpa.checked_add(len as u64).ok_or(-EINVAL)?;
    let hv = crate::hv::get().ok_or(-EINVAL)?;
    let hv_range = hv.phys_base..hv.phys_base.saturating_add(hv.hv_size);
    let mut out = Vec::new();
    out.try_reserve_exact(len).map_err(|_| -ENOMEM)?;
    let mut at = gpa;
    while at < end {
        // at < end, so both differences are positive.
        let chunk = PAGE_SIZE.wrapping_sub(at % PAGE_SIZE).min(end.wrapping_sub(at));
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
        let old = out.len();
        // Within the capacity reserved above: no allocation.
        out.resize(old.saturating_add(chunk as usize), 0);
        // The root may write the page meanwhile: we only trust our copy.
        let dst = out.get_mut(old..).ok_or(-EINVAL)?;
        let copied = with_remap(pa, chunk, |m| m.read(0, dst)).map_err(|_| -ENOMEM)?;
        if !copied {
            return Err(-EINVAL);
        }
        at = at.saturating_add(chunk);
    }
    Ok(out)
}

//! Boot-first mode: cells handed over by the boot loader in a bundle are
//! created, loaded and started before the root cell runs.
//!
//! Bundle entries: `cell:<name>` is a cell configuration; `image:<name>:<hex>`
//! is an image for cell `<name>` at guest-physical address `<hex>`.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

extern crate alloc;

use crate::cell::desc::Span;
use crate::cell::{manage, CELLS};
use crate::errno::*;
use crate::memmap::with_remap;
use alloc::vec::Vec;

const MAGIC: &[u8; 8] = b"SHBUNDL1";

/// Reads physical memory `[pa, pa + len)` into a vector.
fn read_phys(pa: u64, len: u64) -> Result<Vec<u8>, i64> {
    let mut out = Vec::new();
    out.try_reserve_exact(len as usize).map_err(|_| -ENOMEM)?;
    let end = pa.checked_add(len).ok_or(-EINVAL)?;
    let mut at = pa;
    while at < end {
        // at < end: both differences are positive.
        let chunk = 0x1000u64.wrapping_sub(at % 0x1000).min(end.wrapping_sub(at));
        let old = out.len();
        // Within the capacity reserved above: no allocation.
        out.resize(old.saturating_add(chunk as usize), 0);
        let dst = out.get_mut(old..).ok_or(-EINVAL)?;
        if !with_remap(at, chunk, |m| m.read(0, dst)).map_err(|_| -ENOMEM)? {
            return Err(-EINVAL);
        }
        at = at.saturating_add(chunk);
    }
    Ok(out)
}

fn write_phys(pa: u64, data: &[u8]) -> Result<(), i64> {
    let mut done = 0usize;
    while done < data.len() {
        let at = pa.checked_add(done as u64).ok_or(-EINVAL)?;
        // done < data.len(): both differences are positive.
        let chunk = (0x1000u64.wrapping_sub(at % 0x1000) as usize).min(data.len().wrapping_sub(done));
        let part = data.get(done..done.saturating_add(chunk)).ok_or(-EINVAL)?;
        if !with_remap(at, chunk as u64, |m| m.write(0, part)).map_err(|_| -ENOMEM)? {
            return Err(-EINVAL);
        }
        done = done.saturating_add(chunk);
    }
    // The image is cleaned to the point of coherency (and the I-cache
    // invalidated) by the ownership module when the cell starts: images
    // go only into loadable memory, which start cleans.
    Ok(())
}

struct Entry {
    name: Vec<u8>,
    offset: u64,
    size: u64,
}

fn entries(bundle: u64) -> Result<Vec<Entry>, i64> {
    let head = read_phys(bundle, 16)?;
    if head.get(0..8) != Some(MAGIC.as_slice()) {
        return Err(-EINVAL);
    }
    let count_bytes = head.get(8..12).and_then(|b| <[u8; 4]>::try_from(b).ok()).ok_or(-EINVAL)?;
    let count = u64::from(u32::from_le_bytes(count_bytes).min(64));
    // count <= 64: the table is at most 3 KiB.
    let table = read_phys(bundle.checked_add(16).ok_or(-EINVAL)?, count.saturating_mul(48))?;
    Ok(table
        .chunks_exact(48)
        .map(|e| {
            let name = e.iter().take(32).copied().take_while(|&c| c != 0).collect();
            let num = |o: usize| u64::from_le_bytes(e.get(o..o.saturating_add(8)).and_then(|b| b.try_into().ok()).unwrap_or([0; 8]));
            Entry { name, offset: num(32), size: num(40) }
        })
        .collect())
}

/// Creates and starts every cell of the bundle at `bundle`.
pub fn start_all(bundle: u64) {
    let list = match entries(bundle) {
        Ok(l) => l,
        Err(e) => return log::warn!("boot bundle at {bundle:#x} unreadable ({e})"),
    };
    // Runs on the boot CPU, which belongs to the root cell.
    let Some(root) = manage::RootCaller::check() else {
        return log::error!("boot cells: the boot CPU is not the root cell's");
    };
    for cfg in list.iter().filter(|e| e.name.starts_with(b"cell:")) {
        let name = cfg.name.get(5..).unwrap_or_default();
        let result = bundle
            .checked_add(cfg.offset)
            .ok_or(-EINVAL)
            .and_then(|at| read_phys(at, cfg.size))
            .and_then(|c| manage::create_from_copy(&root, &c).map_err(crate::error::Error::errno))
            .and_then(|id| {
                load_images(bundle, &list, name, id)?;
                match manage::start(&root, u64::from(id), false) {
                    0 => Ok(id),
                    e => Err(e),
                }
            });
        let shown = core::str::from_utf8(name).unwrap_or("?");
        match result {
            Ok(id) => log::info!("boot cell \"{shown}\" started as cell {id}"),
            Err(e) => log::error!("boot cell \"{shown}\" failed: {e}"),
        }
    }
}

fn load_images(bundle: u64, list: &[Entry], cell: &[u8], id: u32) -> Result<(), i64> {
    for img in list.iter().filter(|e| e.name.starts_with(b"image:")) {
        let rest = img.name.get(6..).unwrap_or_default();
        let Some(colon) = rest.iter().position(|&c| c == b':') else { continue };
        let (owner, addr) = rest.split_at(colon);
        if owner != cell {
            continue;
        }
        let addr = core::str::from_utf8(addr.get(1..).unwrap_or_default())
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .ok_or(-EINVAL)?;
        let pa = {
            let cells = CELLS.lock();
            let c = cells.iter().find(|c| c.id == id).ok_or(-ENOENT)?;
            let r = c
                .desc
                .owned()
                .find(|r| r.loadable() && r.virt_span().contains(&Span { start: addr, end: addr.saturating_add(img.size) }))
                .ok_or(-EINVAL)?;
            // Inside the region: addr - virt < size, and phys + size was
            // checked for wrap-around when the region was described.
            r.phys.wrapping_add(addr.wrapping_sub(r.virt))
        };
        let data = read_phys(bundle.checked_add(img.offset).ok_or(-EINVAL)?, img.size)?;
        write_phys(pa, &data)?;
    }
    Ok(())
}

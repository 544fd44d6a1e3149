//! Boot-first mode: cells handed over by the boot loader in a bundle are
//! created, loaded and started before the root cell runs.
//!
//! Bundle entries: `cell:<name>` is a cell configuration; `image:<name>:<hex>`
//! is an image for cell `<name>` at guest-physical address `<hex>`.

extern crate alloc;

use crate::cell::{manage, CELLS};
use crate::errno::*;
use crate::memmap::with_remap;
use alloc::vec::Vec;

const MAGIC: &[u8; 8] = b"SHBUNDL1";

/// Reads physical memory `[pa, pa + len)` into a vector.
fn read_phys(pa: u64, len: u64) -> Result<Vec<u8>, i64> {
    let mut out = Vec::new();
    out.try_reserve_exact(len as usize).map_err(|_| -ENOMEM)?;
    let mut at = pa;
    while at < pa + len {
        let chunk = (0x1000 - at % 0x1000).min(pa + len - at);
        let old = out.len();
        // Within the capacity reserved above: no allocation.
        out.resize(old + chunk as usize, 0);
        if !with_remap(at, chunk, |m| m.read(0, &mut out[old..])).map_err(|_| -ENOMEM)? {
            return Err(-EINVAL);
        }
        at += chunk;
    }
    Ok(out)
}

fn write_phys(pa: u64, data: &[u8]) -> Result<(), i64> {
    let mut done = 0usize;
    while done < data.len() {
        let at = pa + done as u64;
        let chunk = ((0x1000 - at % 0x1000) as usize).min(data.len() - done);
        let part = data.get(done..done + chunk).ok_or(-EINVAL)?;
        if !with_remap(at, chunk as u64, |m| m.write(0, part)).map_err(|_| -ENOMEM)? {
            return Err(-EINVAL);
        }
        done += chunk;
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
    if &head[0..8] != MAGIC {
        return Err(-EINVAL);
    }
    let count = u32::from_le_bytes([head[8], head[9], head[10], head[11]]).min(64) as u64;
    let table = read_phys(bundle + 16, count * 48)?;
    Ok(table
        .chunks_exact(48)
        .map(|e| {
            let name = e[..32].iter().copied().take_while(|&c| c != 0).collect();
            let num = |o: usize| u64::from_le_bytes(e[o..o + 8].try_into().unwrap_or([0; 8]));
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
        let name = &cfg.name[5..];
        let result = read_phys(bundle + cfg.offset, cfg.size)
            .and_then(|c| manage::create_from_copy(&root, &c).map_err(crate::error::Error::errno))
            .and_then(|id| {
                load_images(bundle, &list, name, id)?;
                match manage::start(&root, u64::from(id)) {
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
        let rest = &img.name[6..];
        let Some(colon) = rest.iter().position(|&c| c == b':') else { continue };
        if &rest[..colon] != cell {
            continue;
        }
        let addr = core::str::from_utf8(&rest[colon + 1..])
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
            .ok_or(-EINVAL)?;
        let pa = {
            let cells = CELLS.lock();
            let c = cells.iter().find(|c| c.id == id).ok_or(-ENOENT)?;
            let r = c
                .desc
                .owned()
                .find(|r| r.loadable() && r.virt <= addr && addr.saturating_add(img.size) <= r.virt + r.size)
                .ok_or(-EINVAL)?;
            r.phys + (addr - r.virt)
        };
        let data = read_phys(bundle + img.offset, img.size)?;
        write_phys(pa, &data)?;
    }
    Ok(())
}

//! Checks across a system configuration and the cells meant to run on it
//! (tool side). Each finding names the file, the array, the index and the
//! addresses involved.

use crate::flags::mem::{COMM_REGION, ROOTSHARED};
use crate::layout::MemoryRegion;
use crate::{cpuset, CellConfig, SystemConfig};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

/// One conflict, printed as `file: array[index]: message` (`file: message`
/// when `array` is empty because the message names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrossError {
    pub file: String,
    pub array: &'static str,
    pub index: Option<u64>,
    pub message: String,
}

impl fmt::Display for CrossError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            _ if self.array.is_empty() => write!(f, "{}: {}", self.file, self.message),
            Some(i) => write!(f, "{}: {}[{i}]: {}", self.file, self.array, self.message),
            None => write!(f, "{}: {}: {}", self.file, self.array, self.message),
        }
    }
}

/// A cell configuration with the name of the file it came from.
#[derive(Clone, Copy, Debug)]
pub struct NamedCell<'a> {
    pub file: &'a str,
    pub config: CellConfig<'a>,
}

/// Physical range `[start, end)` of a region; overflow was ruled out by parsing.
fn phys_range(m: &MemoryRegion) -> (u64, u64) {
    let start = m.phys_start.get();
    (start, start.saturating_add(m.size.get()))
}

/// Regions that take physical memory (comm regions are allocated by the
/// hypervisor, placeholders map nothing).
fn owned_regions<'a>(cell: &CellConfig<'a>) -> impl Iterator<Item = (u64, &'a MemoryRegion)> {
    (0u64..)
        .zip(cell.memory_regions())
        .filter(|(_, m)| !m.is_placeholder() && m.flags.get() & COMM_REGION == 0)
}

/// Whether `[start, end)` is covered by the union of `ranges`.
fn covered(mut start: u64, end: u64, ranges: &[(u64, u64)]) -> bool {
    // `ranges` is sorted by start; walk forward while coverage continues.
    for &(s, e) in ranges {
        if s > start {
            break;
        }
        if e > start {
            start = e;
        }
        if start >= end {
            return true;
        }
    }
    start >= end
}

/// Runs every cross-configuration rule; an empty result means no conflict.
pub fn check(system: &SystemConfig<'_>, cells: &[NamedCell<'_>]) -> Vec<CrossError> {
    let mut errors = Vec::new();
    let mut err = |file: &str, array: &'static str, index: Option<u64>, message: String| {
        errors.push(CrossError {
            file: file.into(),
            array,
            index,
            message,
        })
    };
    let root = system.root_cell();
    let gicd = system.gicd_base();
    let hv = phys_range(system.hypervisor_memory());

    let mut root_ranges: Vec<(u64, u64)> =
        owned_regions(&root).map(|(_, m)| phys_range(m)).collect();
    root_ranges.sort_unstable();

    for (ci, cell) in cells.iter().enumerate() {
        let c = &cell.config;
        if c.name() == root.name() {
            err(
                cell.file,
                "header",
                None,
                format!("name \"{}\" is the root cell's name", c.name()),
            );
        }
        if let Err(e) = c.check_irqchips_against(gicd) {
            // The error text already names the array and index.
            err(cell.file, "", None, format!("{e}"));
        }
        for cpu in c.cpus() {
            if !cpuset::contains(root.cpu_set(), cpu) {
                err(
                    cell.file,
                    "cpu_set",
                    Some(cpu.into()),
                    format!("CPU {cpu} is not in the root cell's cpu_set"),
                );
            }
        }
        for (i, m) in owned_regions(c) {
            let (start, end) = phys_range(m);
            if !covered(start, end, &root_ranges) {
                err(
                    cell.file,
                    "memory_regions",
                    Some(i),
                    format!("phys {start:#x}-{end:#x} is not inside the root cell's memory"),
                );
            }
            if start < hv.1 && hv.0 < end {
                err(
                    cell.file,
                    "memory_regions",
                    Some(i),
                    format!(
                        "phys {start:#x}-{end:#x} overlaps the hypervisor memory {:#x}-{:#x}",
                        hv.0, hv.1
                    ),
                );
            }
        }
        // Pairwise against the cells before this one, so each conflict is reported once.
        for other in &cells[..ci] {
            let o = &other.config;
            if o.name() == c.name() {
                err(
                    cell.file,
                    "header",
                    None,
                    format!("name \"{}\" is also used by {}", c.name(), other.file),
                );
            }
            for cpu in c.cpus().filter(|&cpu| cpuset::contains(o.cpu_set(), cpu)) {
                err(
                    cell.file,
                    "cpu_set",
                    Some(cpu.into()),
                    format!("CPU {cpu} is also assigned to {}", other.file),
                );
            }
            for (i, m) in owned_regions(c) {
                let (start, end) = phys_range(m);
                for (j, n) in owned_regions(o) {
                    let (os, oe) = phys_range(n);
                    let shared = m.flags.get() & n.flags.get() & ROOTSHARED != 0;
                    if start < oe && os < end && !shared {
                        err(cell.file, "memory_regions", Some(i), format!(
                            "phys {start:#x}-{end:#x} overlaps {}: memory_regions[{j}] {os:#x}-{oe:#x} \
                             (only regions both flagged rootshared may be shared)", other.file));
                    }
                }
            }
            for (i, chip) in (0u64..)
                .zip(c.irqchips())
                .filter(|(_, ch)| ch.address.get() == gicd)
            {
                for intid in chip.granted() {
                    let clash = (0u64..).zip(o.irqchips()).find(|(_, oc)| {
                        oc.address.get() == gicd && oc.granted().any(|x| x == intid)
                    });
                    if let Some((j, _)) = clash {
                        err(
                            cell.file,
                            "irqchips",
                            Some(i),
                            format!(
                                "INTID {intid} is also granted to {}: irqchips[{j}]",
                                other.file
                            ),
                        );
                    }
                }
            }
        }
    }
    errors
}

//! Checks across a system configuration and the cells meant to run on it
//! (tool side). Each finding names the file, the array, the index and the
//! addresses involved.

use crate::flags::mem::{COMM_REGION, ROOTSHARED};
use crate::layout::MemoryRegion;
use crate::{cpuset, CellConfig, SystemConfig};
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

/// One conflict, printed as `file: array[index]: message` (`file: message`
/// when `array` is empty because the message names it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrossError {
    /// Errors are what Jailhouse's own checker fails on, or what the
    /// hypervisor refuses at cell create; warnings are accepted and run.
    pub severity: Severity,
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

/// How serious a finding is; only errors make `config check` fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Warning,
    Error,
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

/// The rules of a `gicv3_its` unit (the hypervisor refuses to enable
/// otherwise): a GICv3 system, one unit, 64 KiB aligned, 128 KiB.
fn its_rules(system: &SystemConfig<'_>) -> Vec<(u64, String)> {
    use crate::flags::iommu::{GICV3_ITS, GICV3_ITS_SIZE};
    let mut out = Vec::new();
    let mut seen = false;
    for (i, u) in (0u64..).zip(system.iommu_units()) {
        if u.iommu_type.get() != GICV3_ITS {
            continue;
        }
        let (base, size) = (u.base.get(), u64::from(u.size.get()));
        if system.gic_version() != 3 {
            out.push((i, format!(
                "gicv3_its at {base:#x}: needs gic_version 3 (this system has {})",
                system.gic_version()
            )));
        }
        if seen {
            out.push((i, format!("gicv3_its at {base:#x}: a second ITS (one is used)")));
        }
        if size != GICV3_ITS_SIZE || !base.is_multiple_of(0x1_0000) {
            out.push((i, format!(
                "gicv3_its at {base:#x}: size {size:#x}: must be 64 KiB aligned and 128 KiB (control and translation frame)"
            )));
        }
        seen = true;
    }
    out
}

/// Runs every cross-configuration rule; an empty result means no conflict.
pub fn check(
    system_file: &str,
    system: &SystemConfig<'_>,
    cells: &[NamedCell<'_>],
) -> Vec<CrossError> {
    let mut errors = Vec::new();
    let mut push = |severity, file: &str, array: &'static str, index: Option<u64>, message| {
        errors.push(CrossError {
            severity,
            file: file.into(),
            array,
            index,
            message,
        })
    };
    for (i, m) in its_rules(system) {
        push(Severity::Error, system_file, "iommu", Some(i), m);
    }
    let root = system.root_cell();
    let root_file = system_file;
    let host = crate::ivshmem::virtual_host(system);
    let gicd_base = system.gicd_base();
    let mut all: Vec<NamedCell<'_>> = vec![NamedCell {
        file: root_file,
        config: root,
    }];
    all.extend_from_slice(cells);
    for cell in &all {
        for f in jailhouse_rules(system, &cell.config) {
            push(Severity::Error, cell.file, "memory_regions", Some(f.0), f.1);
        }
        let unknown = cell.config.console().flags.get() & !crate::flags::console::KNOWN;
        if unknown != 0 {
            push(
                Severity::Warning,
                cell.file,
                "console",
                None,
                format!("unknown flag bits {unknown:#x}"),
            );
        }
        // The ivshmem rules of docs/ivshmem.md, the hypervisor's own
        // (it refuses the cell, or the root at enable).
        if let Err(e) = crate::ivshmem::describe(&cell.config, host, gicd_base, |_| ()) {
            push(Severity::Error, cell.file, "", None, format!("{e}"));
        }
    }
    // A non-root cell shares its sections with the root.
    for cell in cells {
        let mut first = None;
        let _ = crate::ivshmem::describe(&cell.config, host, gicd_base, |d| {
            if first.is_none() {
                first = crate::ivshmem::check_rootshared(&d).err();
            }
        });
        if let Some(e) = first {
            push(Severity::Error, cell.file, "", None, format!("{e}"));
        }
    }
    // Peers of one link in different files must agree (the hypervisor
    // refuses the later cell's create).
    let described: Vec<(&str, Vec<crate::ivshmem::Ivshmem>)> = all
        .iter()
        .map(|c| {
            let mut v = Vec::new();
            let _ = crate::ivshmem::describe(&c.config, host, gicd_base, |d| v.push(d));
            (c.file, v)
        })
        .collect();
    // A cell granted another cell's ivshmem INTx (the root's, typically)
    // would share a virtual interrupt: the hypervisor refuses it.
    for (k, cell) in all.iter().enumerate().skip(1) {
        let grants = cell
            .config
            .irqchips()
            .iter()
            .filter(|c| c.address.get() == gicd_base)
            .flat_map(|c| c.granted());
        for intid in grants {
            let owner = described
                .iter()
                .enumerate()
                .find(|(j, (_, devs))| *j != k && devs.iter().any(|d| d.intid == intid));
            if let Some((_, (other, _))) = owner {
                push(
                    Severity::Error,
                    cell.file,
                    "irqchips",
                    None,
                    format!("INTID {intid} is the ivshmem INTx of {other}"),
                );
            }
        }
    }
    for (k, (file, devs)) in described.iter().enumerate() {
        for d in devs {
            for (other, theirs) in &described[..k] {
                for t in theirs.iter().filter(|t| t.domain == d.domain && t.bdf == d.bdf) {
                    if let Err(e) = crate::ivshmem::check_link(d, t) {
                        push(Severity::Error, file, "", None, format!("{e} ({other})"));
                    }
                }
            }
        }
    }
    let unknown = system.debug_console().flags.get() & !crate::flags::console::KNOWN;
    if unknown != 0 {
        push(
            Severity::Warning,
            root_file,
            "debug_console",
            None,
            format!("unknown flag bits {unknown:#x}"),
        );
    }
    let mut err = |file: &str, array: &'static str, index: Option<u64>, message: String| {
        push(Severity::Error, file, array, index, message)
    };
    let mut warnings = Vec::new();
    let gicd = system.gicd_base();

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
            // Jailhouse runs cells with memory the root never had.
            if !covered(start, end, &root_ranges) {
                warnings.push((
                    cell.file,
                    i,
                    format!("phys {start:#x}-{end:#x} is not inside the root cell's memory"),
                ));
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
    // Jailhouse's checker: the root must keep a CPU with every cell started.
    if !cells.is_empty() {
        let left = root
            .cpus()
            .filter(|&cpu| {
                !cells
                    .iter()
                    .any(|c| cpuset::contains(c.config.cpu_set(), cpu))
            })
            .count();
        if left == 0 {
            err(
                root_file,
                "cpu_set",
                None,
                "no root cell CPU is left when all non-root cells are started".into(),
            );
        }
    }
    for (file, i, message) in warnings {
        push(Severity::Warning, file, "memory_regions", Some(i), message);
    }
    errors
}

/// Whether two non-empty ranges `[a, a+asz)` and `[b, b+bsz)` share a byte.
fn overlaps(a: u64, asz: u64, b: u64, bsz: u64) -> bool {
    asz != 0 && bsz != 0 && a < b.saturating_add(bsz) && b < a.saturating_add(asz)
}

/// The rules of Jailhouse's own configuration checker, applied to one cell
/// (root included): regions overlapping each other, the hypervisor, PCI
/// MMCONFIG, an IOMMU or the GIC. Each is a failure there, so here too.
fn jailhouse_rules(system: &SystemConfig<'_>, cell: &CellConfig<'_>) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    let regions = cell.memory_regions();
    for (i, a) in (0u64..).zip(regions) {
        let (ap, av, asz) = (a.phys_start.get(), a.virt_start.get(), a.size.get());
        for (j, b) in (i + 1..).zip(&regions[i as usize + 1..]) {
            let (bp, bv, bsz) = (b.phys_start.get(), b.virt_start.get(), b.size.get());
            let how = match (overlaps(ap, asz, bp, bsz), overlaps(av, asz, bv, bsz)) {
                (true, true) => "physically and virtually",
                (true, false) => "physically",
                (false, true) => "virtually",
                (false, false) => continue,
            };
            out.push((i, format!("{how} overlaps memory_regions[{j}]")));
        }
    }
    let mut resources: Vec<(&str, u64, u64)> = Vec::new();
    let hv = system.hypervisor_memory();
    resources.push(("the hypervisor memory", hv.phys_start.get(), hv.size.get()));
    if system.pci_mmconfig_base() > 0 {
        let end_bus = u64::from(system.desc().pci_mmconfig_end_bus);
        resources.push((
            "PCI MMCONFIG",
            system.pci_mmconfig_base(),
            (end_bus + 1) << 20,
        ));
    }
    for u in system
        .iommu_units()
        .iter()
        .filter(|u| u.iommu_type.get() != 0)
    {
        let name = if u.iommu_type.get() == crate::flags::iommu::GICV3_ITS {
            "the GICv3 ITS"
        } else {
            "an IOMMU"
        };
        resources.push((name, u.base.get(), u.size.get().into()));
    }
    if system.gic_version() == 2 {
        resources.push(("GICD", system.gicd_base(), 0x1000));
        resources.push(("GICC", system.gicc_base(), 0x2000));
        resources.push(("GICH", system.gich_base(), 0x2000));
        resources.push(("GICV", system.gicv_base(), 0x2000));
    } else {
        resources.push(("GICD", system.gicd_base(), 0x10000));
        resources.push(("GICR", system.gicr_base(), 0x20000));
    }
    for (i, m) in (0u64..).zip(regions) {
        let (p, sz) = (m.phys_start.get(), m.size.get());
        for &(name, base, size) in &resources {
            if overlaps(p, sz, base, size) {
                out.push((
                    i,
                    format!(
                        "phys {p:#x}-{:#x} overlaps {name} {base:#x}-{:#x}",
                        p.saturating_add(sz),
                        base.saturating_add(size)
                    ),
                ));
            }
        }
    }
    out
}

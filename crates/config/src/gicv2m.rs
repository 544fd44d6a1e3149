//! The GICv2m rule (docs/passthrough.md "MSI", GICv2m): whoever can reach
//! a GICv2m MSI frame can raise every SPI of its range (a write of an SPI
//! number to MSI_SETSPI_NS), by a CPU store or a device's DMA. So a
//! non-root cell may map the frame only as memory of its own (not
//! rootshared) and only with all of the frame's SPIs; and while the root
//! maps the frame, no cell may take some of its SPIs, or the root (its
//! CPUs and its devices) could raise them. The hypervisor applies the
//! same rule at cell create (`cell::owner`), with the range it read from
//! the frame's MSI_TYPER; this side uses the range the configuration
//! states (`gicv2m_spi_base`, `gicv2m_spi_count`).

use crate::flags::iommu::{gicv2m_spis, GICV2M};
use crate::flags::mem::{COMM_REGION, ROOTSHARED};
use crate::flags::PAGE_SIZE;
use crate::{CellConfig, SystemConfig};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

/// One GICv2m frame of a system configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Its register page(s), `[start, end)`, page-rounded.
    pub start: u64,
    pub end: u64,
    /// (first INTID, count), when the configuration states them.
    pub spis: Option<(u32, u32)>,
}

impl Frame {
    /// INTIDs of the frame's range.
    pub fn intids(&self) -> core::ops::Range<u32> {
        self.spis.map_or(0..0, |(b, n)| b..b.saturating_add(n))
    }
}

/// The GICv2m frames the system configuration describes.
pub fn frames(system: &SystemConfig<'_>) -> Vec<Frame> {
    system
        .iommu_units()
        .iter()
        .filter(|u| u.iommu_type.get() == GICV2M)
        .map(|u| {
            let start = u.base.get() & !(PAGE_SIZE - 1);
            let end = u.base.get().saturating_add(u.size.get().max(1).into());
            let end = end.saturating_add(PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
            Frame { start, end, spis: gicv2m_spis(&u.data) }
        })
        .collect()
}

/// Whether `cell` has a region (not the comm region) reaching `f`; with
/// whether any such region is rootshared or not page-granular (then the
/// root keeps its mapping: the hypervisor refuses both).
fn maps(cell: &CellConfig<'_>, f: &Frame) -> (bool, bool) {
    let mut hit = (false, false);
    for m in cell.memory_regions().iter().filter(|m| m.flags.get() & COMM_REGION == 0 && m.size.get() != 0) {
        let start = m.phys_start.get();
        let end = start.saturating_add(m.size.get());
        if start < f.end && f.start < end {
            hit.0 = true;
            let sub_page = start % PAGE_SIZE != 0 || m.size.get() % PAGE_SIZE != 0;
            hit.1 |= m.flags.get() & ROOTSHARED != 0 || sub_page;
        }
    }
    hit
}

/// INTIDs `cell` is granted on the distributor at `gicd`.
fn granted(cell: &CellConfig<'_>, gicd: u64) -> Vec<u32> {
    let mut v: Vec<u32> = cell.irqchips().iter().filter(|c| c.address.get() == gicd).flat_map(|c| c.granted()).collect();
    v.sort_unstable();
    v
}

/// `a-b` or `a` for a sorted run list.
fn runs(ids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while let Some(&first) = ids.get(i) {
        let mut last = first;
        while ids.get(i + 1) == Some(&(last + 1)) {
            i += 1;
            last += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&if first == last { format!("{first}") } else { format!("{first}-{last}") });
        i += 1;
    }
    out
}

/// What breaks the rule for non-root cell `cell` on `system`: (error,
/// message) pairs; a warning when the range is not stated and the cell
/// maps the frame.
pub fn check_cell(system: &SystemConfig<'_>, cell: &CellConfig<'_>) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let gicd = system.gicd_base();
    let root = system.root_cell();
    let have = granted(cell, gicd);
    for f in frames(system) {
        let (mapped, shared) = maps(cell, &f);
        let at = f.start;
        if shared {
            out.push((true, format!("maps the GICv2m MSI frame at {at:#x} rootshared or in a sub-page region: the frame's SPIs would be raised by root and cell alike")));
        }
        let Some(_) = f.spis else {
            if mapped {
                out.push((false, format!("maps the GICv2m MSI frame at {at:#x}, whose SPI range the configuration does not state (gicv2m_spi_base/count): not checked")));
            }
            continue;
        };
        let range: Vec<u32> = f.intids().collect();
        let missing: Vec<u32> = range.iter().copied().filter(|i| have.binary_search(i).is_err()).collect();
        let taken: Vec<u32> = range.iter().copied().filter(|i| have.binary_search(i).is_ok()).collect();
        if mapped && !missing.is_empty() {
            out.push((true, format!(
                "maps the GICv2m MSI frame at {at:#x} without all of its SPIs (lacks INTIDs {}): whoever maps the frame can raise every SPI of {}",
                runs(&missing), runs(&range))));
        }
        if !mapped && !taken.is_empty() && maps(&root, &f).0 {
            out.push((true, format!(
                "takes INTIDs {} of the GICv2m MSI frame at {at:#x} without the frame, which the root maps: the root's CPUs and devices could raise them",
                runs(&taken))));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_of_ids() {
        assert_eq!(super::runs(&[80, 81, 82, 90, 143]), "80-82,90,143");
        assert_eq!(super::runs(&[]), "");
    }
}

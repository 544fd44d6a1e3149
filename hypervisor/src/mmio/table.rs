//! The per-cell table of trapped MMIO regions: guest-physical ranges and
//! the handler each access there goes to. Built once, at create (the root:
//! at enable), from the cell's validated description; fixed afterwards.
//!
//! A device is one handler variant plus the entries it adds in
//! [`Table::build`]: the interrupt controller's frames and the sub-page
//! regions and the virtual PCI host's ECAM (`Handler::PciEcam`). The
//! ivshmem register BARs are not entries: their addresses are the
//! guest's to program, so the table stays fixed and an access no entry
//! holds is offered to the cell's enabled BARs (`ivshmem::bar_access`).

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

extern crate alloc;

use super::subpage::{self, SubPage, IO_WIDTHS};
use super::window::Window;
use crate::cell::desc::{CellDesc, Platform, Region, Span};
use crate::error::{Error, Result};
use crate::mm::PAGE_SIZE;
use alloc::vec::Vec;
use core::marker::PhantomData;

/// What handles the accesses to an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Handler {
    /// Region `k` of the interrupt controller (`irqchip::access`; GICv3:
    /// 0 the distributor, 1 the redistributors), emulated per cell.
    Irqchip(u8),
    /// A sub-page region forwarded to its device (`subpage`).
    SubPage(SubPage),
    /// The virtual PCI host's ECAM (`pci`, `ivshmem`).
    PciEcam,
    /// The cell's virtual PL011 console (`vuart`; its state is the
    /// table's).
    VirtUart,
}

/// One trapped range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// Guest-physical start.
    pub base: u64,
    /// Bytes.
    pub size: u64,
    pub handler: Handler,
}

impl Entry {
    /// Whether `[addr, end)` lies wholly inside.
    fn holds(&self, addr: u64, end: u64) -> bool {
        self.base <= addr && end <= self.base.saturating_add(self.size)
    }
}

/// Reserves room for `n` entries; the heap in production, a fake in tests.
pub type Reserve = fn(&mut Vec<Entry>, usize) -> Result<()>;

fn heap_reserve(v: &mut Vec<Entry>, n: usize) -> Result<()> {
    Ok(v.try_reserve_exact(n)?)
}

/// A cell's trapped regions, sorted by base. Dropping it unmaps the EL2
/// windows of its sub-page regions (through `W`).
#[derive(Debug)]
pub struct Table<W: Window> {
    entries: Vec<Entry>,
    /// The virtual console's state, when the cell has one.
    pub vuart: Option<super::vuart::VirtUart>,
    /// The EL2 mappings of the real config spaces of the cell's
    /// passed-through devices, in the description's order.
    pub cfg: Vec<CfgWindow>,
    window: PhantomData<W>,
}

/// A passed-through device's page of the real ECAM, mapped at EL2, and
/// the cell's state of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CfgWindow {
    pub bdf: u16,
    /// EL2 address of its 4 KiB of config space.
    pub va: u64,
    pub state: crate::pci::passthru::PtState,
}

impl<W: Window> Table<W> {
    /// A table with no entries (allocates nothing).
    pub fn empty() -> Self {
        Self { entries: Vec::new(), vuart: None, cfg: Vec::new(), window: PhantomData }
    }

    /// The table of a cell (the root included) with `desc`: the interrupt
    /// controller's frames of `p` and the description's sub-page regions.
    /// Fails with [`Error::NoMemory`] (heap or EL2 window exhausted) with
    /// nothing allocated or mapped.
    pub fn for_cell(desc: &CellDesc, p: &Platform) -> Result<Self> {
        Self::build(desc, p, heap_reserve)
    }

    /// [`Table::for_cell`] with the reservation step given.
    pub fn build(desc: &CellDesc, p: &Platform, reserve: Reserve) -> Result<Self> {
        // `Platform` lists the GIC frames in a vector that a full heap can
        // leave empty; a cell without them would lose its interrupt
        // controller, so that is an allocation failure, not a table.
        if p.gicd_base != 0 && p.reserved_io.is_empty() {
            return Err(Error::NoMemory);
        }
        // The platform lists the interrupt controller's regions in the
        // order `irqchip::access` numbers them (empty ones included, so the
        // numbers stay right).
        let gic = (0u8..).zip(&p.reserved_io).filter(|(_, s)| !s.is_empty()).map(|(k, s)| Entry {
            base: s.start,
            size: s.len(),
            handler: Handler::Irqchip(k),
        });
        // Cells with functions on the virtual PCI host see its ECAM.
        let ecam = desc.ecam(p).map(|s| Entry { base: s.start, size: s.len(), handler: Handler::PciEcam });
        let vuart = desc.virtual_console(p).map(|s| Entry { base: s.start, size: s.len(), handler: Handler::VirtUart });
        let count = gic
            .clone()
            .count()
            .saturating_add(desc.sub_pages().filter(|r| forwardable(r, p)).count())
            .saturating_add(usize::from(ecam.is_some()))
            .saturating_add(usize::from(vuart.is_some()));
        let mut table = Self::empty();
        reserve(&mut table.entries, count)?;
        table.entries.extend(gic);
        table.entries.extend(ecam);
        if vuart.is_some() {
            table.vuart = Some(super::vuart::VirtUart::new());
        }
        table.entries.extend(vuart);
        for r in desc.sub_pages() {
            if !forwardable(r, p) {
                log::warn!("sub-page region {:#x}+{:#x} overlaps hypervisor memory or the GIC: not forwarded", r.phys, r.size);
                continue;
            }
            if r.flags & IO_WIDTHS == 0 {
                log::warn!(
                    "sub-page region {:#x}+{:#x} has no IO_8/16/32/64 flag: every access to it will be refused",
                    r.phys, r.size
                );
            }
            let pages = subpage::pages_spanned(r.phys, r.size).ok_or(Error::Invalid)?;
            // On failure `table` drops here and unmaps what was mapped.
            let va = W::map(r.phys & !(PAGE_SIZE - 1), pages)?;
            let sp = SubPage { phys: r.phys, size: r.size, flags: r.flags, va, pages };
            table.entries.push(Entry { base: r.virt, size: r.size, handler: Handler::SubPage(sp) });
        }
        table.cfg.try_reserve_exact(desc.passthru.len())?;
        for d in &desc.passthru {
            // On failure `table` drops here and unmaps what was mapped.
            let va = W::map(d.cfg_page, 1)?;
            table.cfg.push(CfgWindow { bdf: d.bdf, va, state: Default::default() });
        }
        // In place, no allocation.
        table.entries.sort_unstable_by_key(|e| (e.base, e.size));
        Ok(table)
    }

    /// The entry an access of `size` bytes at `addr` goes to, and the
    /// offset in it. The access must lie wholly inside one entry; where
    /// entries overlap (a configuration may do that), the one with the
    /// highest base that holds the access wins (at equal bases, the
    /// larger). A table holds a handful of entries, so a scan from the top
    /// is cheaper on this trap path than a binary search.
    pub fn lookup(&self, addr: u64, size: u64) -> Option<(&Entry, u64)> {
        let end = addr.checked_add(size)?;
        self.entries.iter().rev().find(|e| e.holds(addr, end)).map(|e| (e, addr.wrapping_sub(e.base)))
    }

    /// The entries, sorted by base.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// Whether a sub-page region may be forwarded: never over hypervisor
/// memory or the interrupt controller (a cell's description refuses that
/// at create; the root's keeps such regions with a warning, so they are
/// skipped here, and the root's accesses there stay unhandled).
fn forwardable(r: &Region, p: &Platform) -> bool {
    let Some(phys) = Span::sized(r.phys, r.size) else { return false };
    !phys.overlaps(&p.hv) && !p.reserved_io.iter().any(|io| io.overlaps(&phys))
}

impl<W: Window> Drop for Table<W> {
    fn drop(&mut self) {
        for e in &self.entries {
            if let Handler::SubPage(sp) = e.handler {
                W::unmap(sp.va, sp.pages);
            }
        }
        for c in &self.cfg {
            W::unmap(c.va, 1);
        }
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;

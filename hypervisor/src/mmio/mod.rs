//! Trapped guest accesses to device addresses: the device seam.
//!
//! Every cell (the root included) has a [`table::Table`] of trapped ranges
//! and their handlers, built at create from its description. A stage-2
//! data abort is decoded here, once ([`Access`]: syndrome, width, value
//! stored, sign extension of the value loaded), looked up in the table of
//! the CPU's cell and handed to the entry's handler; the register is
//! written back and the instruction skipped here as well. Handlers see
//! only (cell, offset in their range, size, value stored) and answer the
//! value loaded, or `None`: not handled, which fails the cell (the root
//! gets an external abort) with a diagnostic.
//!
//! A new device is one file with its handler and one [`Handler`] variant
//! with the entries it adds in `table.rs`.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

pub mod subpage;
pub mod table;
pub mod vuart;
pub mod window;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod device;

pub use table::{Entry, Handler};

use crate::trap::esr::DataAbort;
#[cfg(target_os = "none")]
use crate::trap::esr::Esr;
use crate::trap::TrapFrame;

/// The table type cells hold: sub-page windows in the EL2 address space.
#[cfg(target_os = "none")]
pub type Table = table::Table<window::El2Window>;

/// One trapped load or store, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// Guest-physical address.
    pub addr: u64,
    /// Bytes: 1, 2, 4 or 8.
    pub size: u8,
    /// The value stored (only its low `size` bytes), or `None` for a load.
    pub write: Option<u64>,
}

impl Access {
    /// The access the syndrome describes; `None` without a valid
    /// syndrome (ISV clear: load/store pair, writeback, SIMD), which no
    /// handler can emulate.
    #[inline]
    pub fn decode(frame: &TrapFrame, da: &DataAbort, ipa: u64) -> Option<Self> {
        if !da.isv {
            return None;
        }
        let write = da.write.then(|| {
            let v = frame.reg(da.reg);
            if da.size >= 8 { v } else { v & (1u64 << (u32::from(da.size) * 8)).wrapping_sub(1) }
        });
        Some(Self { addr: ipa, size: da.size, write })
    }

    /// Completes a handled access: a load's value goes to the register as
    /// the instruction would extend it; the instruction is skipped.
    #[inline]
    pub fn complete(&self, frame: &mut TrapFrame, da: &DataAbort, value: u64) {
        if self.write.is_none() {
            frame.set_reg(da.reg, da.extend(value));
        }
        frame.elr = frame.elr.wrapping_add(4);
    }
}

/// Handles a stage-2 data abort of this CPU's cell; false when no entry
/// holds the access or its handler refuses it (the caller reports it).
#[cfg(target_os = "none")]
#[inline(always)]
pub fn handle(frame: &mut TrapFrame, esr: Esr, ipa: u64) -> bool {
    use crate::percpu::{this_cpu, Stat};
    use core::sync::atomic::Ordering;
    // Decoded here, where it stays in registers (not built in memory by
    // the caller and read back).
    let da = &DataAbort::decode(esr);
    let Some(access) = Access::decode(frame, da, ipa) else { return false };
    let cell = this_cpu().cell.load(Ordering::Relaxed);
    // The interrupt controller's regions are the same entries in every
    // cell's table (`Table::build`), and no other entry may overlap them
    // (the description refuses regions over the GIC): they are found
    // without the cell list, so one cell's GIC accesses never wait for
    // another's create or destroy, which hold that lock.
    let end = access.addr.saturating_add(u64::from(access.size));
    if let Some((k, off)) = crate::irqchip::region_at(access.addr, end) {
        return match crate::irqchip::access(k, cell as u8, off, access.size, access.write) {
            Ok(v) => {
                access.complete(frame, da, v);
                this_cpu().count(Stat::Mmio);
                true
            }
            Err(()) => false,
        };
    }
    table_path(frame, esr, ipa, cell)
}

/// The cell's own entries (sub-page regions, the ECAM) and, failing
/// those, its ivshmem register BARs, under the cell list; kept out of
/// [`handle`] so the interrupt controller's path does not pay for its
/// stack frame.
#[cfg(target_os = "none")]
#[inline(never)]
fn table_path(frame: &mut TrapFrame, esr: Esr, ipa: u64, cell: u32) -> bool {
    // Decoded again rather than passed: passing it by reference made the
    // interrupt controller's path build it in memory.
    let da = &DataAbort::decode(esr);
    let Some(access) = Access::decode(frame, da, ipa) else { return false };
    let access = &access;
    let value = {
        // Held across the handler: a sub-page window stays mapped as long
        // as the table that owns it, and the table lives in the cell list.
        let mut cells = crate::cell::CELLS.lock();
        let Some(idx) = cells.iter().position(|c| c.id == cell) else { return false };
        let hit = cells.get(idx).and_then(|c| c.mmio.lookup(access.addr, u64::from(access.size)).map(|(e, off)| (*e, off)));
        // The root's accesses to the real ECAM pages of devices passed
        // through to a cell (unmapped from it): no device there.
        if hit.is_none() && cell == 0 && cells.iter().skip(1).any(|c| c.desc.cfg_pages().any(|s| s.start <= access.addr && access.addr < s.end)) {
            access.complete(frame, da, if access.write.is_some() { 0 } else { ones(access.size) });
            return true;
        }
        let Some(c) = cells.get_mut(idx) else { return false };
        match hit {
            Some((Entry { handler: Handler::VirtUart, .. }, off)) => console_access(c, off, access),
            Some((Entry { handler: Handler::PciEcam, .. }, off)) => Some(ecam_access(c, off, access)),
            Some((entry, off)) => dispatch(&entry, cell, off, access),
            // Not a fixed entry: a register BAR the cell programmed?
            None if c.desc.has_pci() => crate::ivshmem::bar_access(cell, access.addr, access.size, access.write),
            None => return false,
        }
    };
    match value {
        Some(v) => {
            access.complete(frame, da, v);
            crate::percpu::this_cpu().count(crate::percpu::Stat::Mmio);
            true
        }
        None => false,
    }
}

/// A read of `size` bytes with every bit set (an absent PCI function).
#[cfg(target_os = "none")]
fn ones(size: u8) -> u64 {
    u64::MAX >> 64u32.saturating_sub(u32::from(size).saturating_mul(8))
}

/// An access to the cell's virtual PCI host: a passed-through device's
/// config space (filtered, `pci::passthru`), else its ivshmem functions.
#[cfg(target_os = "none")]
fn ecam_access(c: &mut crate::cell::Cell, off: u64, a: &Access) -> u64 {
    use crate::pci::{ecam, passthru};
    let crate::cell::Cell { desc, mmio, id, .. } = c;
    let found = ecam::decode(off).and_then(|acc| {
        desc.passthru.iter().zip(mmio.cfg.iter_mut()).find(|(d, _)| d.bdf == acc.bdf).map(|(d, w)| (acc, d, w))
    });
    let Some((acc, dev, win)) = found else { return crate::ivshmem::ecam_access(*id, off, a.size, a.write) };
    if !ecam::well_formed(acc.reg, a.size) {
        return if a.write.is_some() { 0 } else { ones(a.size) };
    }
    let mut hw = El2Cfg(win.va);
    match a.write {
        None => u64::from(passthru::read(dev, &win.state, &mut hw, acc.reg, a.size)),
        Some(v) => {
            passthru::write(dev, &mut win.state, &mut hw, acc.reg, a.size, v as u32);
            0
        }
    }
}

/// A passed-through function's real config space through its EL2 window.
#[cfg(target_os = "none")]
struct El2Cfg(u64);

#[cfg(target_os = "none")]
impl crate::pci::passthru::CfgHw for El2Cfg {
    fn read32(&mut self, reg: u16) -> u32 {
        // `reg` < 1000h (an ECAM offset within the function): inside the
        // mapped page.
        device::read(self.0.wrapping_add(u64::from(reg)), 4) as u32
    }

    fn write(&mut self, reg: u16, size: u8, value: u32) {
        device::write(self.0.wrapping_add(u64::from(reg)), size, u64::from(value));
    }
}

/// Stops the passed-through devices of `table`'s cell (decoding, DMA,
/// INTx) as they change hands: at create, before the cell runs, and at
/// destroy, before the root maps their config space again.
#[cfg(target_os = "none")]
pub fn quiesce_passthru(table: &Table) {
    for w in &table.cfg {
        crate::pci::passthru::quiesce(&mut El2Cfg(w.va));
    }
}

/// An access to the cell's virtual console; its lines go to the
/// hypervisor console under the cell's name.
#[cfg(target_os = "none")]
fn console_access(c: &mut crate::cell::Cell, off: u64, a: &Access) -> Option<u64> {
    let crate::cell::Cell { desc, mmio, .. } = c;
    let uart = mmio.vuart.as_mut()?;
    let name = desc.name();
    uart.access(off, a.size, a.write, |line| {
        crate::println!("[{name}] {}", vuart::Ascii(line));
    })
}

/// Runs the entry's handler.
#[cfg(target_os = "none")]
fn dispatch(entry: &Entry, cell_id: u32, off: u64, a: &Access) -> Option<u64> {
    let cell = cell_id as u8;
    match entry.handler {
        Handler::PciEcam => Some(crate::ivshmem::ecam_access(cell_id, off, a.size, a.write)),
        // Taken by `table_path`, which has the state.
        Handler::VirtUart => None,
        Handler::Irqchip(k) => crate::irqchip::access(usize::from(k), cell, off, a.size, a.write).ok(),
        Handler::SubPage(sp) => match subpage::check(sp.flags, sp.size, off, a.size, a.write.is_some()) {
            Ok(()) => Some(subpage::forward(&sp, off, a.size, a.write)),
            Err(why) => {
                refused(cell, off, a, &sp, why);
                None
            }
        },
    }
}

/// Names why a sub-page access is refused (kept out of the access path).
#[cfg(target_os = "none")]
#[cold]
#[inline(never)]
fn refused(cell: u8, off: u64, a: &Access, sp: &subpage::SubPage, why: subpage::Refusal) {
    log::warn!(
        "cell {cell}: {}-byte {} at offset {off:#x} of sub-page region {:#x}+{:#x} (flags {:#x}) refused: {why}",
        a.size,
        if a.write.is_some() { "write" } else { "read" },
        sp.phys,
        sp.size,
        sp.flags
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trap::esr::Esr;

    fn da(iss: u32) -> DataAbort {
        DataAbort::decode(Esr((0x24 << 26) | (1 << 25) | u64::from(iss)))
    }

    #[test]
    fn store_value_is_truncated_to_the_access_width() {
        let mut f = TrapFrame { x: [0; 31], elr: 0x1000, spsr: 0, _pad: 0 };
        f.x[3] = 0x1122_3344_5566_7788;
        // ISV, SAS=1 (halfword), SRT=3, WnR.
        let a = Access::decode(&f, &da((1 << 24) | (1 << 22) | (3 << 16) | (1 << 6)), 0x900_0000).unwrap();
        assert_eq!(a, Access { addr: 0x900_0000, size: 2, write: Some(0x7788) });
        a.complete(&mut f, &da((1 << 24) | (1 << 22) | (3 << 16) | (1 << 6)), 0xdead);
        assert_eq!((f.x[3], f.elr), (0x1122_3344_5566_7788, 0x1004));
        // xzr as the source stores zero; a doubleword keeps every bit.
        let z = Access::decode(&f, &da((1 << 24) | (3 << 22) | (31 << 16) | (1 << 6)), 8).unwrap();
        assert_eq!(z.write, Some(0));
        let d = Access::decode(&f, &da((1 << 24) | (3 << 22) | (3 << 16) | (1 << 6)), 8).unwrap();
        assert_eq!(d.write, Some(0x1122_3344_5566_7788));
    }

    #[test]
    fn load_is_extended_into_the_register() {
        let mut f = TrapFrame { x: [0; 31], elr: 0, spsr: 0, _pad: 0 };
        // ISV, SAS=0 (byte), SSE, SRT=5, SF: ldrsb x5.
        let d = da((1 << 24) | (1 << 21) | (5 << 16) | (1 << 15));
        let a = Access::decode(&f, &d, 0x10).unwrap();
        assert_eq!(a.write, None);
        a.complete(&mut f, &d, 0x80);
        assert_eq!(f.x[5], 0xffff_ffff_ffff_ff80);
    }

    #[test]
    fn no_syndrome_no_access() {
        let f = TrapFrame { x: [0; 31], elr: 0, spsr: 0, _pad: 0 };
        assert_eq!(Access::decode(&f, &da(0x07), 0x10), None);
    }
}

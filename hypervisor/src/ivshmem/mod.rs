//! ivshmem v2 (docs/ivshmem.md): shared-memory links between cells, each
//! peer a function on the virtual PCI host (`pci`) with a register BAR
//! whose doorbell raises another peer's INTx and whose state register
//! writes the peer's entry of the link's state table.
//!
//! [`link::Links`] is the registry (pure, host-tested over [`Effects`]);
//! the functions below are the target's entry points: the trapped ECAM and
//! BAR0 accesses (`mmio`) and the life-cycle hooks the cell management
//! calls where the ownership module hands memory, interrupts and CPUs over
//! (create/enable: join; start; shutdown/failure/load: stop;
//! destroy/disable: leave). Lock order: management lock, cell list,
//! [`LINKS`]; nothing under [`LINKS`] takes another lock but the remap
//! window's.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

pub mod link;
pub mod regs;
#[cfg(test)]
mod tests;

use crate::pci::{config_space, ecam};
use crate::sync::Mutex;
use link::Links;

/// What the registry does to the machine.
pub trait Effects {
    /// Writes the u32 state-table entry at physical `pa` (cell memory).
    fn write_state(&mut self, pa: u64, value: u32);
    /// Raises INTx `intid` (a virtual SPI) of cell `cell`.
    fn raise(&mut self, cell: u32, intid: u32);
    /// Marks `intid` as an INTx the hypervisor injects without a
    /// physical interrupt behind it (or no longer).
    fn mark_virtual(&mut self, intid: u32, on: bool);
}

/// The links of all cells.
pub static LINKS: Mutex<Links> = Mutex::new(Links::new());

/// The value of a read of `size` bytes with every bit set.
fn all_ones(size: u8) -> u64 {
    match size {
        1 => 0xff,
        2 => 0xffff,
        4 => 0xffff_ffff,
        _ => u64::MAX,
    }
}

/// Cell `cell`'s access at offset `off` of the ECAM: its ivshmem
/// functions' config space; absent functions and malformed accesses read
/// all ones, and writes to them are ignored.
pub fn ecam(links: &mut Links, cell: u32, off: u64, size: u8, write: Option<u64>) -> u64 {
    let found = ecam::decode(off).filter(|a| ecam::well_formed(a.reg, size));
    let Some((a, ep)) = found.and_then(|a| links.find(cell, a.bdf).map(|ep| (a, ep))) else {
        return if write.is_some() { 0 } else { all_ones(size) };
    };
    match write {
        None => u64::from(config_space::read(&ep.dev, &ep.cfg, a.reg, size)),
        Some(v) => {
            config_space::write(&ep.dev, &mut ep.cfg, a.reg, size, v as u32);
            0
        }
    }
}

#[cfg(target_os = "none")]
mod machine {
    //! The real machine behind [`Effects`].

    /// The target's effects.
    pub struct Machine;

    impl super::Effects for Machine {
        fn write_state(&mut self, pa: u64, value: u32) {
            // The window maps one page without allocating; the table lies
            // in a cell's memory, never the hypervisor's (checked with the
            // configuration: regions over hypervisor memory are refused).
            let written = crate::memmap::with_remap(pa, 4, |m| m.write(0, &value.to_le_bytes()));
            if !matches!(written, Ok(true)) {
                log::warn!("ivshmem: state-table entry at {pa:#x} not written");
                return;
            }
            // Peers may map the table non-cacheable (a UIO mapping, an
            // inmate with its MMU off): the line goes to the point of
            // coherency, so such a reader sees the entry, and no clean
            // line of an older value stays for a cacheable one.
            crate::memmap::clean_inval_phys(pa, 4);
        }

        fn raise(&mut self, cell: u32, intid: u32) {
            // The writer's stores to the shared memory (program order
            // before its trapped doorbell or state write) must be
            // observable by the peer before it takes the interrupt. The
            // trap is no barrier; DSB ISH on this CPU completes every
            // earlier store of this PE (the guest's included) in the
            // inner-shareable domain before the posting below, and the
            // target only reads the memory after taking the interrupt
            // that posting leads to.
            crate::arch::dsb_ish();
            crate::irqchip::raise_virtual(cell as u8, intid);
        }

        fn mark_virtual(&mut self, intid: u32, on: bool) {
            crate::irqchip::spi::set_virtual(intid, on);
        }
    }
}

#[cfg(target_os = "none")]
use machine::Machine;

/// A trapped ECAM access of cell `cell`.
#[cfg(target_os = "none")]
pub fn ecam_access(cell: u32, off: u64, size: u8, write: Option<u64>) -> u64 {
    ecam(&mut LINKS.lock(), cell, off, size, write)
}

/// A trapped access no table entry holds: cell `cell`'s registers if a
/// BAR0 of its functions decodes it; `None` otherwise (or for an access
/// the registers refuse).
#[cfg(target_os = "none")]
pub fn bar_access(cell: u32, addr: u64, size: u8, write: Option<u64>) -> Option<u64> {
    let mut links = LINKS.lock();
    let (i, off) = links.bar_at(cell, addr, u64::from(size))?;
    regs::access(&mut links, i, off, size, write, &mut Machine)
}

/// Cell `cell` joins the links of its functions (create; the root at
/// enable, `running`).
#[cfg(target_os = "none")]
pub fn join(cell: u32, devs: &[syshyper_config::ivshmem::Ivshmem], running: bool) -> crate::error::Result<()> {
    if devs.is_empty() {
        return Ok(());
    }
    LINKS.lock().join(cell, devs, running, &mut Machine)
}

/// Refuses SPI grants of cell `cell` that are another cell's INTx.
#[cfg(target_os = "none")]
pub fn check_grants(cell: u32, spis: impl Iterator<Item = u32>) -> crate::error::Result<()> {
    LINKS.lock().check_grants(cell, spis)
}

/// Cell `cell` starts.
#[cfg(target_os = "none")]
pub fn start(cell: u32) {
    LINKS.lock().start(cell)
}

/// Cell `cell` stopped (shut down, failed, set loadable, reset).
#[cfg(target_os = "none")]
pub fn stop(cell: u32) {
    LINKS.lock().stop(cell, &mut Machine)
}

/// Cell `cell` goes away (destroy).
#[cfg(target_os = "none")]
pub fn leave(cell: u32) {
    LINKS.lock().leave(cell, &mut Machine)
}

/// The root's functions go at disable, as [`leave`], except that their
/// INTIDs stay marked virtual: every root CPU's `irqchip::hand_back` runs
/// after this and must still drop a root INTx left in a list register or
/// queue rather than make it physically pending for Linux. The marks end
/// with the hypervisor (the next enable starts from a zeroed .bss).
#[cfg(target_os = "none")]
pub fn retire_root() {
    struct KeepMarks(Machine);
    impl Effects for KeepMarks {
        fn write_state(&mut self, pa: u64, value: u32) {
            self.0.write_state(pa, value)
        }
        fn raise(&mut self, cell: u32, intid: u32) {
            self.0.raise(cell, intid)
        }
        fn mark_virtual(&mut self, intid: u32, on: bool) {
            if on {
                self.0.mark_virtual(intid, on)
            }
        }
    }
    LINKS.lock().leave(0, &mut KeepMarks(Machine))
}

/// Refuses memory of `[start, end)` that cell `cell` would hold alone
/// while it is a section of another cell's link (the root's included).
#[cfg(target_os = "none")]
pub fn check_sections_free(cell: u32, start: u64, end: u64) -> crate::error::Result<()> {
    match LINKS.lock().section_overlap(cell, start, end) {
        Some((owner, bdf)) => Err(crate::error::refuse(
            crate::error::Error::Busy,
            format_args!("memory {start:#x}-{end:#x} holds ivshmem {bdf:#x}'s shared memory (cell {owner})"),
        )),
        None => Ok(()),
    }
}

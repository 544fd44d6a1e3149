//! The registry of links: every ivshmem function of every cell as one
//! endpoint, the endpoints of a link being those with the same domain and
//! bdf. Endpoints join when their cell is created (the root: at enable)
//! and leave when it is destroyed; a peer that stops (shut down, failed,
//! destroyed, set loadable) has its state-table entry cleared and the
//! others get their INTx.

extern crate alloc;

use super::Effects;
use crate::error::{refuse, Error, Result};
use crate::pci::config_space::{CfgRegs, CMD_INTX_DISABLE};
use alloc::vec::Vec;
use syshyper_config::ivshmem::{check_link, Ivshmem};

/// Interrupt control bit 0: the peer takes interrupts.
pub const INT_ENABLE: u32 = 1;

/// One function of one cell on a link.
#[derive(Clone, Debug)]
pub struct Endpoint {
    /// The owning cell.
    pub cell: u32,
    /// The function as the cell's configuration describes it.
    pub dev: Ivshmem,
    /// Config-space state (command, BAR0, line, one-shot).
    pub cfg: CfgRegs,
    /// Interrupt control (bit 0: enable).
    pub int_ctrl: u32,
    /// The last state this peer wrote (its state-table entry).
    pub state: u32,
    /// The cell runs: doorbells reach it, and its stop is announced.
    pub running: bool,
}

impl Endpoint {
    fn on_link(&self, domain: u16, bdf: u16) -> bool {
        self.dev.domain == domain && self.dev.bdf == bdf
    }

    /// Resets the device (registers and config space) for a start.
    fn reset(&mut self) {
        self.cfg = CfgRegs::default();
        self.int_ctrl = 0;
        self.state = 0;
    }
}

/// Every endpoint of every link.
#[derive(Debug, Default)]
pub struct Links {
    pub eps: Vec<Endpoint>,
}

impl Links {
    /// An empty registry (allocates nothing).
    pub const fn new() -> Self {
        Self { eps: Vec::new() }
    }

    /// Adds cell `cell`'s functions `devs` to their links, all or none:
    /// each must agree with the peers already there (same peers and
    /// sections, another ID). `running`: the root, which runs already.
    pub fn join(&mut self, cell: u32, devs: &[Ivshmem], running: bool, fx: &mut impl Effects) -> Result<()> {
        for d in devs {
            // A cell's INTx INTIDs are its own (granted to it alone); one
            // that is another cell's INTx already would be injected into
            // both.
            if let Some(ep) = self.eps.iter().find(|e| e.cell != cell && e.dev.intid == d.intid) {
                return Err(refuse(
                    Error::Invalid,
                    format_args!("ivshmem {:#x}: INTx INTID {} is cell {}'s ivshmem interrupt", d.bdf, d.intid, ep.cell),
                ));
            }
            for ep in self.eps.iter().filter(|e| e.on_link(d.domain, d.bdf)) {
                if ep.cell == cell {
                    return Err(refuse(Error::Invalid, format_args!("ivshmem {:#x}: the cell is on this link already", d.bdf)));
                }
                check_link(d, &ep.dev).map_err(|e| refuse(Error::Invalid, format_args!("{e} (cell {})", ep.cell)))?;
            }
        }
        self.eps.try_reserve(devs.len())?;
        for d in devs {
            // The table starts all zeros (the specification's initial
            // content; the memory holds whatever it held before): the
            // first peer of a link clears every entry, later ones their
            // own (a joining peer is reset).
            if self.eps.iter().any(|e| e.on_link(d.domain, d.bdf)) {
                write_entry(fx, d, 0);
            } else {
                for id in 0..d.peers {
                    write_entry(fx, &Ivshmem { id, ..*d }, 0);
                }
            }
            fx.mark_virtual(d.intid, true);
            // Within the capacity reserved above: no allocation.
            self.eps.push(Endpoint { cell, dev: *d, cfg: CfgRegs::default(), int_ctrl: 0, state: 0, running });
        }
        Ok(())
    }

    /// Refuses a cell `cell` that would be granted an SPI that is another
    /// cell's ivshmem INTx: it would share a virtual interrupt, and a
    /// physical one of that INTID queued for it would be injected as
    /// virtual (never deactivated).
    pub fn check_grants(&self, cell: u32, mut spis: impl Iterator<Item = u32>) -> Result<()> {
        match spis.find_map(|irq| self.eps.iter().find(|e| e.cell != cell && e.dev.intid == irq)) {
            Some(ep) => Err(refuse(
                Error::Invalid,
                format_args!("interrupt {} is cell {}'s ivshmem INTx", ep.dev.intid, ep.cell),
            )),
            None => Ok(()),
        }
    }

    /// The first endpoint of another cell than `cell` with a section of
    /// its link overlapping `[start, end)`: (its cell, its bdf). A cell
    /// may not take such memory for itself: the hypervisor writes the
    /// state table there and the link's peers map all of it.
    pub fn section_overlap(&self, cell: u32, start: u64, end: u64) -> Option<(u32, u16)> {
        self.eps.iter().filter(|e| e.cell != cell).find_map(|e| {
            let d = &e.dev;
            let mut sections = [d.state, d.rw].into_iter().chain(d.output_sections().iter().copied());
            sections
                .any(|s| s.size != 0 && s.phys < end && start < s.phys.saturating_add(s.size))
                .then_some((e.cell, d.bdf))
        })
    }

    /// Cell `cell` starts: its functions reset and take doorbells.
    pub fn start(&mut self, cell: u32) {
        for ep in self.eps.iter_mut().filter(|e| e.cell == cell) {
            ep.reset();
            ep.running = true;
        }
    }

    /// Cell `cell` stops: each of its running functions has its
    /// state-table entry cleared and its peers get their INTx.
    pub fn stop(&mut self, cell: u32, fx: &mut impl Effects) {
        for i in 0..self.eps.len() {
            let Some(ep) = self.eps.get_mut(i).filter(|e| e.cell == cell && e.running) else { continue };
            ep.running = false;
            ep.int_ctrl = 0;
            ep.state = 0;
            let (d, id) = (ep.dev, ep.dev.id);
            write_entry(fx, &d, 0);
            self.notify_others(d.domain, d.bdf, id, fx);
        }
    }

    /// Cell `cell` goes away (destroy; the root: disable): [`Links::stop`],
    /// then its endpoints leave.
    pub fn leave(&mut self, cell: u32, fx: &mut impl Effects) {
        self.stop(cell, fx);
        let mut k = 0;
        while let Some(ep) = self.eps.get(k) {
            if ep.cell == cell {
                let intid = self.eps.swap_remove(k).dev.intid;
                // INTIDs belong to one cell each (granted exclusively), but
                // two functions of a cell may share a pin.
                if !self.eps.iter().any(|e| e.dev.intid == intid) {
                    fx.mark_virtual(intid, false);
                }
            } else {
                k = k.saturating_add(1);
            }
        }
    }

    /// Raises the INTx of peer `target` on link (domain, bdf) as a
    /// doorbell does: only if it exists, runs, has interrupts enabled and
    /// INTx not disabled; one-shot mode then clears the enable bit.
    pub fn ring(&mut self, domain: u16, bdf: u16, target: u32, fx: &mut impl Effects) {
        let Some(ep) = self.eps.iter_mut().find(|e| e.on_link(domain, bdf) && u32::from(e.dev.id) == target) else {
            return;
        };
        if !ep.running || ep.int_ctrl & INT_ENABLE == 0 || ep.cfg.command & CMD_INTX_DISABLE != 0 {
            return;
        }
        if ep.cfg.one_shot {
            ep.int_ctrl &= !INT_ENABLE;
        }
        fx.raise(ep.cell, ep.dev.intid);
    }

    /// Rings every peer of the link but `me`.
    pub fn notify_others(&mut self, domain: u16, bdf: u16, me: u8, fx: &mut impl Effects) {
        for id in 0..syshyper_config::ivshmem::MAX_PEERS {
            if id != me {
                self.ring(domain, bdf, u32::from(id), fx);
            }
        }
    }

    /// Cell `cell`'s endpoint for function `bdf`, if it has one.
    pub fn find(&mut self, cell: u32, bdf: u16) -> Option<&mut Endpoint> {
        self.eps.iter_mut().find(|e| e.cell == cell && e.dev.bdf == bdf)
    }

    /// The index of cell `cell`'s endpoint whose BAR0 decodes `[addr,
    /// addr + size)` (memory decoding on), and the offset in the BAR.
    pub fn bar_at(&self, cell: u32, addr: u64, size: u64) -> Option<(usize, u64)> {
        let end = addr.checked_add(size)?;
        self.eps.iter().enumerate().find_map(|(i, e)| {
            let base = u64::from(e.cfg.bar0 & e.dev.bar_mask);
            // The mask makes the size a power of two of at least 4 KiB
            // (checked with the configuration); a 32-bit base plus it
            // cannot wrap a u64.
            let bar_end = base.saturating_add(u64::from(!e.dev.bar_mask).saturating_add(1));
            (e.cell == cell && e.cfg.memory_enabled() && base <= addr && end <= bar_end)
                .then(|| (i, addr.saturating_sub(base)))
        })
    }
}

/// Writes peer `d.id`'s state-table entry.
pub fn write_entry(fx: &mut impl Effects, d: &Ivshmem, value: u32) {
    // id < peers <= 16 and the table holds 4 bytes per peer (checked with
    // the configuration): the entry lies inside the table.
    let pa = d.state.phys.saturating_add(4u64.saturating_mul(u64::from(d.id)));
    fx.write_state(pa, value);
}

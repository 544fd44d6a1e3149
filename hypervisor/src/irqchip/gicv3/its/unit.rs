//! The ITS itself, through its EL2 mapping: tables and command queue set
//! up at first use, commands submitted and waited for with a timeout, and
//! the LPI tables of the redistributors that receive the LPIs.
//!
//! Memory: every table and the queue are pool pages (hypervisor memory,
//! mapped by no cell's or root's stage 2, so no guest or device can
//! reach them). They are programmed as Normal inner write-back, inner
//! shareable, the attributes of the EL2 linear map the hypervisor writes
//! them through: an ITS or redistributor that honours them snoops the
//! CPUs' caches and needs no maintenance, only a DSB before the register
//! write (CWRITER, INVALL) that makes it read. One that reads the
//! registers back as non-shareable (`regs::coherent`) does not snoop:
//! then every page is cleaned and invalidated to the point of coherency
//! after the hypervisor zeroes it (no dirty line can later be written
//! back over what the unit put there) and every command and property
//! byte is cleaned after it is written ([`Its::publish`]). QEMU's ITS is
//! coherent either way, so only the argument shows this right.

extern crate alloc;

use super::cmd::{self, Cmd};
use super::regs::*;
use crate::mm::{PhysAddr, PAGE_SIZE};
use alloc::vec::Vec;

/// How long the ITS may take for a batch of commands or a control change.
const TIMEOUT_US: u64 = 100_000;
/// Pages of the command queue (128 commands each).
const CMDQ_PAGES: u64 = 1;
const CMD_BYTES: u64 = 32;
/// Commands written before the driver waits for the ITS to read them
/// (the queue never fills).
const BATCH: usize = 64;
/// Pages of the flat device table: DeviceIDs below `pages * 4096 /
/// entry size` (512 with QEMU's 8-byte entries: buses 0 and 1). A flat
/// table for all 2^16 DeviceIDs would take 512 KiB of the pool.
const DEVICE_TABLE_PAGES: u64 = 1;
/// INTID bits of the LPI space: LPIs 8192..16383, enough for the SPI
/// numbers plus 8192 the hypervisor uses (property table 8 KiB).
pub const LPI_ID_BITS: u32 = 14;
pub const LPI_BASE: u32 = 8192;
const PROP_PAGES: usize = ((1usize << LPI_ID_BITS) - LPI_BASE as usize) / PAGE_SIZE as usize;
/// The priority of the LPIs: that of the guests' interrupts.
const LPI_PRIO: u8 = 0xa0;

/// Why the ITS cannot do what was asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItsError {
    /// Someone (the root's Linux) enabled the ITS or LPIs before us.
    InUse(&'static str),
    Unsupported(&'static str),
    NoMemory,
    /// A command or control change did not complete, or the queue
    /// stalled on a command error. The ITS is not used again.
    Timeout,
}


fn va_of(pa: PhysAddr) -> u64 {
    pa.wrapping_add(crate::hv::phys_virt_offset())
}

/// `pages` contiguous pool pages, zeroed, aligned to `align` pages (a
/// power of two; the buddy pool aligns a block to its size, the rest of
/// the block goes back).
pub fn alloc_pages(pages: usize, align: usize, coherent: bool) -> Result<PhysAddr, ItsError> {
    let block = pages.max(align).next_power_of_two();
    let mut g = crate::hv::POOL.lock();
    let pool = g.as_mut().ok_or(ItsError::NoMemory)?;
    let pa = pool.alloc(block).ok_or(ItsError::NoMemory)?;
    if !pa.is_multiple_of(align as u64 * PAGE_SIZE) {
        pool.free(pa, block);
        return Err(ItsError::NoMemory);
    }
    // The tail beyond `pages`, in power-of-two pieces aligned to their
    // size (each a valid buddy block).
    let used = kept(pages);
    let mut at = used;
    while at < block {
        let piece = at & at.wrapping_neg();
        pool.free(pa + at as u64 * PAGE_SIZE, piece);
        at += piece;
    }
    drop(g);
    let len = used as u64 * PAGE_SIZE;
    // SAFETY: fresh pool pages, mapped read-write at EL2 through the
    // linear map; nobody else holds them.
    unsafe { crate::arch::zero_normal(va_of(pa), len) };
    if !coherent {
        crate::arch::dcache_clean_inval(va_of(pa), len);
    }
    crate::arch::dsb_ishst();
    Ok(pa)
}

/// Pages [`alloc_pages`] kept for `pages`.
pub fn kept(pages: usize) -> usize {
    pages.next_power_of_two()
}

pub fn free_pages(pa: PhysAddr, pages: usize) {
    if let Some(pool) = crate::hv::POOL.lock().as_mut() {
        pool.free(pa, kept(pages));
    }
}

#[derive(Debug)]
pub struct Its {
    va: u64,
    pub typer: ItsTyper,
    /// DeviceIDs the device table holds.
    pub dev_limit: u32,
    coherent: bool,
    cmdq: PhysAddr,
    cmd_wr: u64,
    /// (pa, pages) of the device and collection tables.
    tables: Vec<(PhysAddr, usize)>,
    prop: PhysAddr,
    /// (GICR frame, pending table) of every redistributor with LPIs on.
    pub redists: Vec<(u64, PhysAddr)>,
    broken: bool,
}

impl Its {
    fn r64(&self, off: u64) -> u64 {
        // SAFETY: `va` maps the ITS control frame (64 KiB) at EL2 as
        // device memory; `off` is a register of it; reads have no side
        // effects.
        unsafe { crate::arch::device::read(self.va + off, 8) }
    }
    fn w64(&self, off: u64, v: u64) {
        // SAFETY: as in `r64`; the ITS belongs to the hypervisor (no
        // cell maps its control frame).
        unsafe { crate::arch::device::write(self.va + off, 8, v) }
    }
    fn w32(&self, off: u64, v: u32) {
        // SAFETY: as in `w64`, a 32-bit register.
        unsafe { crate::arch::device::write(self.va + off, 4, u64::from(v)) }
    }
    fn r32(&self, off: u64) -> u32 {
        // SAFETY: as in `r64`.
        unsafe { crate::arch::device::read(self.va + off, 4) as u32 }
    }

    fn wait(&self, mut done: impl FnMut(&Self) -> bool) -> Result<(), ItsError> {
        if crate::arch::poll_until(TIMEOUT_US, || done(self)) { Ok(()) } else { Err(ItsError::Timeout) }
    }

    /// Sets up the ITS whose control frame is mapped at `va`: refused if
    /// it or any redistributor's LPIs are already enabled (`frames`
    /// redistributors, checked through `gicr_ctlr`). Enabled on return,
    /// with no device mapped.
    pub fn start(va: u64, frames: u64, gicr_ctlr: impl Fn(u64) -> u64) -> Result<Self, ItsError> {
        let mut its = Its {
            va,
            typer: its_typer(0),
            dev_limit: 0,
            coherent: true,
            cmdq: 0,
            cmd_wr: 0,
            tables: Vec::new(),
            prop: 0,
            redists: Vec::new(),
            broken: false,
        };
        if u64::from(its.r32(GITS_CTLR)) & CTLR_ENABLED != 0 {
            return Err(ItsError::InUse("GITS_CTLR.Enabled is set"));
        }
        if (0..frames).any(|f| gicr_ctlr(f) & GICR_CTLR_ENABLE_LPIS != 0) {
            return Err(ItsError::InUse("a redistributor has LPIs enabled"));
        }
        its.typer = its_typer(its.r64(GITS_TYPER));
        if !its.typer.physical {
            return Err(ItsError::Unsupported("no physical LPIs"));
        }
        its.wait(|s| u64::from(s.r32(GITS_CTLR)) & CTLR_QUIESCENT != 0)?;
        match its.setup_tables() {
            Ok(()) => Ok(its),
            Err(e) => {
                its.release_memory();
                Err(e)
            }
        }
    }

    fn setup_tables(&mut self) -> Result<(), ItsError> {
        // The queue first: its read-back tells whether the ITS snoops.
        self.cmdq = alloc_pages(CMDQ_PAGES as usize, 1, true)?;
        self.tables.push((self.cmdq, CMDQ_PAGES as usize));
        self.w64(GITS_CBASER, cbaser(self.cmdq, CMDQ_PAGES));
        self.coherent = coherent(self.r64(GITS_CBASER));
        if !self.coherent {
            crate::arch::dcache_clean_inval(va_of(self.cmdq), CMDQ_PAGES * PAGE_SIZE);
        }
        self.w64(GITS_CWRITER, 0);
        self.cmd_wr = 0;
        for n in 0..8u64 {
            let off = GITS_BASER + 8 * n;
            let cur = self.r64(off);
            let pages = match baser_type(cur) {
                BASER_TYPE_DEVICES => DEVICE_TABLE_PAGES,
                BASER_TYPE_COLLECTIONS if self.typer.hcc == 0 => 1,
                _ => continue,
            };
            let pa = alloc_pages(pages as usize, 1, self.coherent)?;
            self.tables.push((pa, pages as usize));
            let v = baser(cur, pa, pages);
            self.w64(off, v);
            let back = self.r64(off);
            if back & 0x300 != v & 0x300 || back >> 63 == 0 {
                return Err(ItsError::Unsupported("no 4 KiB table pages"));
            }
            self.coherent &= coherent(back);
            if baser_type(cur) == BASER_TYPE_DEVICES {
                let ids = pages * PAGE_SIZE / baser_entry_size(cur);
                self.dev_limit = ids.min(1 << self.typer.dev_bits.min(31)) as u32;
            }
        }
        if self.dev_limit == 0 {
            return Err(ItsError::Unsupported("no device table"));
        }
        // Every LPI starts disabled (zero bytes are "disabled", but the
        // RES1 bit is set as the architecture asks).
        self.prop = alloc_pages(PROP_PAGES, 1, self.coherent)?;
        self.tables.push((self.prop, PROP_PAGES));
        for lpi in LPI_BASE..(1 << LPI_ID_BITS) {
            self.set_property(lpi, false);
        }
        self.publish(va_of(self.prop), PROP_PAGES as u64 * PAGE_SIZE);
        self.w32(GITS_CTLR, CTLR_ENABLED as u32);
        Ok(())
    }

    /// Makes what the CPU wrote at `[va, va + len)` visible to the ITS
    /// and redistributors (module comment).
    fn publish(&self, va: u64, len: u64) {
        if !self.coherent {
            crate::arch::dcache_clean_inval(va, len);
        }
        crate::arch::dsb_ish();
    }

    /// The property byte of `lpi` (not yet published).
    pub fn set_property(&mut self, lpi: u32, enabled: bool) {
        let Some(i) = lpi.checked_sub(LPI_BASE).filter(|&i| i < (1 << LPI_ID_BITS) - LPI_BASE) else { return };
        // SAFETY: the property table: PROP_PAGES pool pages mapped at
        // EL2, `i` inside it.
        unsafe { ((va_of(self.prop) + u64::from(i)) as *mut u8).write_volatile(lpi_property(LPI_PRIO, enabled)) };
    }

    /// Publishes property bytes of LPIs `lpis` (then INVALL makes the
    /// redistributors reload them).
    pub fn publish_properties(&self, lpis: core::ops::Range<u32>) {
        let start = va_of(self.prop) + u64::from(lpis.start.saturating_sub(LPI_BASE));
        self.publish(start, u64::from(lpis.end.saturating_sub(lpis.start)));
    }

    /// Turns on LPIs at redistributor `frame` (at `rd_va`, its RD_base
    /// mapped at EL2) with the shared property table and a new pending
    /// table, kept while the hypervisor runs.
    pub fn enable_redist(&mut self, frame: u64, rd_write: impl Fn(u64, u64), rd_read: impl Fn(u64) -> u64) -> Result<(), ItsError> {
        if self.redists.iter().any(|r| r.0 == frame) {
            return Ok(());
        }
        if rd_read(GICR_TYPER) & GICR_TYPER_PLPIS == 0 {
            return Err(ItsError::Unsupported("the redistributor has no LPIs"));
        }
        if rd_read(GICR_CTLR) & GICR_CTLR_ENABLE_LPIS != 0 {
            return Err(ItsError::InUse("a redistributor has LPIs enabled"));
        }
        // 2^14 pending bits: 2 KiB, in one page aligned to 64 KiB.
        let pend = alloc_pages(1, 16, self.coherent)?;
        rd_write(GICR_PROPBASER, propbaser(self.prop, LPI_ID_BITS));
        rd_write(GICR_PENDBASER, pendbaser(pend));
        let ok = coherent(rd_read(GICR_PROPBASER)) && coherent(rd_read(GICR_PENDBASER));
        if !ok && self.coherent {
            // The redistributor would not snoop tables the ITS side
            // thought coherent: clean from here on.
            self.coherent = false;
            crate::arch::dcache_clean_inval(va_of(self.prop), PROP_PAGES as u64 * PAGE_SIZE);
            crate::arch::dcache_clean_inval(va_of(pend), PAGE_SIZE);
        }
        crate::arch::dsb_sy();
        rd_write(GICR_CTLR, rd_read(GICR_CTLR) | GICR_CTLR_ENABLE_LPIS);
        self.redists.push((frame, pend));
        Ok(())
    }

    /// Writes `cmds` to the queue and waits until the ITS has consumed
    /// them all (the caller ends with a SYNC where effects must be
    /// complete). Bounded: a unit that does not answer or stalls is an
    /// error and is not used again.
    pub fn submit(&mut self, cmds: &[Cmd]) -> Result<(), ItsError> {
        if self.broken {
            return Err(ItsError::Timeout);
        }
        let size = CMDQ_PAGES * PAGE_SIZE;
        for batch in cmds.chunks(BATCH) {
            for c in batch {
                let va = va_of(self.cmdq) + self.cmd_wr;
                for (i, w) in c.iter().enumerate() {
                    // SAFETY: one 32-byte slot of the queue page(s),
                    // pool memory mapped at EL2; the ITS reads only
                    // slots before CWRITER, and this one is not.
                    unsafe { ((va + 8 * i as u64) as *mut u64).write_volatile(*w) };
                }
                self.publish(va, CMD_BYTES);
                self.cmd_wr = (self.cmd_wr + CMD_BYTES) % size;
            }
            let wr = self.cmd_wr;
            self.w64(GITS_CWRITER, wr);
            let r = self.wait(|s| {
                let rd = s.r64(GITS_CREADR);
                rd & CREADR_STALLED != 0 || rd & 0xf_ffe0 == wr
            });
            if r.is_err() || self.r64(GITS_CREADR) & CREADR_STALLED != 0 {
                self.broken = true;
                return Err(ItsError::Timeout);
            }
        }
        Ok(())
    }

    /// MAPC of collection `icid` to `rdbase`, synced.
    pub fn map_collection(&mut self, icid: u16, rdbase: u64) -> Result<(), ItsError> {
        self.submit(&[cmd::mapc(icid, rdbase), cmd::sync(rdbase)])
    }

    /// Hypervisor disable: the ITS off (no more translations), its pages
    /// back. Redistributors keep EnableLPIs (it may not be clearable) but
    /// no LPI can become pending any more, and their tables stay in
    /// hypervisor memory.
    pub fn stop(&mut self) {
        self.w32(GITS_CTLR, 0);
        let _ = self.wait(|s| u64::from(s.r32(GITS_CTLR)) & CTLR_QUIESCENT != 0);
        for n in 0..8u64 {
            let off = GITS_BASER + 8 * n;
            let cur = self.r64(off);
            self.w64(off, cur & !(1 << 63));
        }
        self.w64(GITS_CBASER, 0);
    }

    fn release_memory(&mut self) {
        for (pa, pages) in self.tables.drain(..) {
            free_pages(pa, pages);
        }
    }
}

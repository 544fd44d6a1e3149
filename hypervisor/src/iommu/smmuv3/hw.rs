//! The unit itself: probe, enable, STE writes, commands, event drain and
//! disable, through its EL2 register mapping.

extern crate alloc;

use super::cmd::{Cmd, Idx};
use super::event::Event;
use super::regs::*;
use super::ste::{cd_words, l1_desc, Ste};
use crate::memmap::PoolMem;
use crate::mm::paging::TableMemory;
use crate::mm::PhysAddr;
use alloc::vec::Vec;

/// How long a command sync or a CR0 update may take before it is an
/// error (never hang EL2 on a broken or wedged unit).
const TIMEOUT_US: u64 = 100_000;
const CMDQ_LOG2: u32 = 8;
const EVTQ_LOG2: u32 = 7;
/// Level-1 descriptors in one page: stream ids below 2^(9 + SPLIT).
const L1_ENTRIES: usize = 512;
const STE_WORDS: usize = 8;
const STES_PER_PAGE: u32 = 1 << STRTAB_SPLIT;

/// Why the unit could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmmuError {
    /// It lacks what the driver needs (AArch64 tables, 4 KiB granule,
    /// coherent access, any translation stage).
    Unsupported(&'static str),
    /// The pool is empty.
    NoMemory,
    /// The unit did not complete a command or a control update in time,
    /// or reported a command error.
    Timeout,
    /// A stream id outside the table.
    BadStream,
}

#[derive(Debug)]
pub struct Smmu {
    va: u64,
    pub stage2: bool,
    /// Output size (IDR5.OAS encoding), for S2PS / IPS.
    oas: u8,
    two_level: bool,
    /// Stream ids the table covers.
    pub sid_limit: u32,
    /// The level-1 table (two-level) or the one linear page.
    strtab: PhysAddr,
    l2: Vec<PhysAddr>,
    cds: Vec<PhysAddr>,
    cmdq: PhysAddr,
    cmd_prod: u32,
    evtq: PhysAddr,
    /// GBPA as found (restored at shutdown).
    gbpa: u32,
}


impl Smmu {
    fn r32(&self, off: usize) -> u32 {
        // SAFETY: `va` maps the unit's 128 KiB register frame at EL2 as
        // device memory (`probe`); `off` is one of the 32-bit registers
        // in `regs`, whose reads have no side effects.
        unsafe { crate::arch::device::read(self.va + off as u64, 4) as u32 }
    }
    fn w32(&self, off: usize, v: u32) {
        // SAFETY: as in `r32`; the register belongs to the unit the
        // hypervisor owns (the root does not map it).
        unsafe { crate::arch::device::write(self.va + off as u64, 4, u64::from(v)) }
    }
    fn w64(&self, off: usize, v: u64) {
        // SAFETY: as in `w32`; a 64-bit register, naturally aligned.
        unsafe { crate::arch::device::write(self.va + off as u64, 8, v) }
    }

    /// Polls until `done` or the timeout.
    fn wait(&self, mut done: impl FnMut(&Self) -> bool) -> Result<(), SmmuError> {
        if crate::arch::poll_until(TIMEOUT_US, || done(self)) { Ok(()) } else { Err(SmmuError::Timeout) }
    }

    fn set_cr0(&self, v: u32) -> Result<(), SmmuError> {
        self.w32(CR0, v);
        self.wait(|s| s.r32(CR0ACK) == v)
    }

    /// Probes the unit whose registers are mapped at `va` and sets it up
    /// with every stream aborted; it is enabled (translating) on return.
    pub fn probe(va: u64) -> Result<Self, SmmuError> {
        let mut s = Smmu {
            va,
            stage2: false,
            oas: 0,
            two_level: false,
            sid_limit: 0,
            strtab: 0,
            l2: Vec::new(),
            cds: Vec::new(),
            cmdq: 0,
            cmd_prod: 0,
            evtq: 0,
            gbpa: 0,
        };
        let (idr0, idr1, idr5) = (s.r32(IDR0), s.r32(IDR1), s.r32(IDR5));
        if idr0_ttf(idr0) & 2 == 0 {
            return Err(SmmuError::Unsupported("no AArch64 table format"));
        }
        if idr0 & IDR0_COHACC == 0 {
            return Err(SmmuError::Unsupported("not coherent (IDR0.COHACC = 0)"));
        }
        if idr5 & IDR5_GRAN4K == 0 {
            return Err(SmmuError::Unsupported("no 4 KiB granule"));
        }
        if idr1_cmdqs(idr1) < CMDQ_LOG2 || idr1_eventqs(idr1) < EVTQ_LOG2 {
            return Err(SmmuError::Unsupported("queues too small"));
        }
        // Stage 2 shares the CPUs' tables; an SMMU with stage 1 only
        // (QEMU 7.2) translates through a stage-1 mirror instead.
        s.stage2 = idr0 & IDR0_S2P != 0;
        if !s.stage2 && idr0 & IDR0_S1P == 0 {
            return Err(SmmuError::Unsupported("no translation stage"));
        }
        s.oas = idr5_oas(idr5).min(5) as u8;
        let sid_bits = idr1_sidsize(idr1);
        s.two_level = idr0_st_level(idr0) == 1 && sid_bits > STRTAB_SPLIT;
        // Quiesce: off, and while off every transaction aborts (GBPA),
        // never bypasses to physical memory.
        s.gbpa = s.r32(GBPA) & !GBPA_UPDATE;
        s.set_cr0(0)?;
        s.w32(GBPA, GBPA_UPDATE | GBPA_ABORT);
        s.wait(|s| s.r32(GBPA) & GBPA_UPDATE == 0)?;
        match s.alloc_and_enable(sid_bits) {
            Ok(()) => Ok(s),
            Err(e) => {
                s.shutdown();
                Err(e)
            }
        }
    }

    fn page(&mut self) -> Result<PhysAddr, SmmuError> {
        PoolMem.alloc_table().ok_or(SmmuError::NoMemory)
    }

    fn alloc_and_enable(&mut self, sid_bits: u32) -> Result<(), SmmuError> {
        self.strtab = self.page()?;
        self.cmdq = self.page()?;
        self.evtq = self.page()?;
        let (log2size, cfg) = if self.two_level {
            let log2 = sid_bits.min(L1_ENTRIES.trailing_zeros() + STRTAB_SPLIT);
            self.l2 = alloc::vec![0; 1 << (log2 - STRTAB_SPLIT)];
            (log2, STRTAB_FMT_2LVL | STRTAB_SPLIT << 6 | log2)
        } else {
            let log2 = sid_bits.min(STRTAB_SPLIT);
            for sid in 0..1u32 << log2 {
                self.write_ste_words(self.strtab, sid, Ste::Abort.words());
            }
            (log2, log2)
        };
        self.sid_limit = 1 << log2size;
        crate::arch::dsb_ish();
        self.w64(STRTAB_BASE, BASE_RA | self.strtab);
        self.w32(STRTAB_BASE_CFG, cfg);
        self.w64(CMDQ_BASE, BASE_RA | self.cmdq | u64::from(CMDQ_LOG2));
        self.w32(CMDQ_PROD, 0);
        self.w32(CMDQ_CONS, 0);
        self.cmd_prod = 0;
        self.w64(EVENTQ_BASE, BASE_RA | self.evtq | u64::from(EVTQ_LOG2));
        self.w32(EVENTQ_PROD, 0);
        self.w32(EVENTQ_CONS, 0);
        self.w32(CR1, CR1_WB_ISH);
        self.w32(CR2, CR2_RECINVSID);
        // Interrupts stay off: events are drained by polling (`drain`).
        self.w32(IRQ_CTRL, 0);
        self.set_cr0(CR0_CMDQEN | CR0_EVENTQEN)?;
        // Nothing the unit may have cached from before us.
        self.commands(&[Cmd::CfgiAll, Cmd::TlbiNhAll])?;
        self.set_cr0(CR0_CMDQEN | CR0_EVENTQEN | CR0_SMMUEN)
    }

    fn free_pages(&mut self) {
        for p in [self.strtab, self.cmdq, self.evtq].into_iter().chain(self.l2.drain(..)).chain(self.cds.drain(..)) {
            if p != 0 {
                PoolMem.free_table(p);
            }
        }
        self.strtab = 0;
        self.cmdq = 0;
        self.evtq = 0;
    }

    /// Turns the unit off with the global bypass attribute it had when
    /// probed, and gives its memory back (hypervisor disable).
    pub fn shutdown(&mut self) {
        if self.set_cr0(0).is_err() {
            log::error!("smmuv3: the unit did not acknowledge disabling");
        }
        // Off first, then the bypass attribute: no transaction sees the
        // tables go away while translation is still on.
        self.w32(GBPA, GBPA_UPDATE | self.gbpa);
        if self.wait(|s| s.r32(GBPA) & GBPA_UPDATE == 0).is_err() {
            log::error!("smmuv3: GBPA update not acknowledged");
        }
        self.free_pages();
    }

    fn write_ste_words(&self, page: PhysAddr, sid: u32, w: [u64; 8]) {
        let base = (sid % STES_PER_PAGE) as usize * STE_WORDS;
        // Word 0 (V, Config) last: the unit may fetch the entry at any
        // time, and the words after it only matter once it says so.
        for (i, v) in w.iter().enumerate().skip(1) {
            PoolMem.write(page, base + i, *v);
        }
        crate::arch::dsb_ish();
        PoolMem.write(page, base, w[0]);
    }

    /// The page holding `sid`'s STE, allocating (all Abort) a level-2
    /// page if needed. Call from prepare steps: commit only writes.
    pub fn ste_page(&mut self, sid: u32) -> Result<PhysAddr, SmmuError> {
        if sid >= self.sid_limit {
            return Err(SmmuError::BadStream);
        }
        if !self.two_level {
            return Ok(self.strtab);
        }
        let i = (sid >> STRTAB_SPLIT) as usize;
        match self.l2.get(i).copied() {
            None => Err(SmmuError::BadStream),
            Some(p) if p != 0 => Ok(p),
            Some(_) => {
                let p = self.page()?;
                for s in 0..STES_PER_PAGE {
                    self.write_ste_words(p, s, Ste::Abort.words());
                }
                // The level-2 page is complete before the level-1
                // descriptor that makes the unit read it.
                crate::arch::dsb_ish();
                if let Some(slot) = self.l2.get_mut(i) {
                    *slot = p;
                }
                PoolMem.write(self.strtab, i, l1_desc(p, STRTAB_SPLIT));
                Ok(p)
            }
        }
    }

    /// Gives back the level-2 pages of `sids` that [`Smmu::ste_page`]
    /// allocated, where no stream of the page translates (`live` says
    /// which do; only these pages are looked at, so a destroy costs a
    /// few checks, not a walk of the table): after the prepare of a
    /// create that failed later, or a destroy. Each such page holds only Abort
    /// entries, so unhooking it changes no stream's behaviour (an
    /// invalid level-1 descriptor aborts as well): the descriptor is
    /// cleared first, then CFGI_ALL + SYNC drops whatever the unit cached
    /// of the descriptor and the entries (the cache may hold level-1
    /// descriptors along with STEs), and only after the SYNC completed
    /// the page goes back to the pool — the unit can no longer fetch it.
    /// If the unit does not confirm, the page is kept (better a page
    /// less than a page the unit may still read).
    pub fn release_unused(&mut self, sids: &[u32], live: impl Fn(u32) -> bool) {
        if !self.two_level {
            return;
        }
        let mut freed: Vec<PhysAddr> = Vec::new();
        for &sid in sids {
            let i = (sid >> STRTAB_SPLIT) as usize;
            let Some(slot) = self.l2.get_mut(i) else { continue };
            let first = sid & !(STES_PER_PAGE - 1);
            if *slot != 0 && !(first..first + STES_PER_PAGE).any(&live) {
                PoolMem.write(self.strtab, i, l1_desc(0, STRTAB_SPLIT));
                freed.push(*slot);
                *slot = 0;
            }
        }
        if freed.is_empty() {
            return;
        }
        // `commands` orders the descriptor writes before the command.
        if self.commands(&[Cmd::CfgiAll]).is_err() {
            log::error!("smmuv3: stream table pages kept: the unit did not confirm CFGI_ALL");
            return;
        }
        for p in freed {
            PoolMem.free_table(p);
        }
    }

    /// The context descriptor of `vmid`'s stage-1 mirror at `ttb`
    /// (stage-1 mode), allocating its page if needed.
    pub fn cd_for(&mut self, vmid: u16, ttb: PhysAddr) -> Result<PhysAddr, SmmuError> {
        let page = usize::from(vmid) / 64;
        while self.cds.len() <= page {
            let p = self.page()?;
            self.cds.push(p);
        }
        let base = (usize::from(vmid) % 64) * 8;
        let cds = self.cds.get(page).copied().ok_or(SmmuError::NoMemory)?;
        let w = cd_words(ttb, vmid, self.oas);
        for (i, v) in w.iter().enumerate() {
            PoolMem.write(cds, base + i, *v);
        }
        Ok(cds + base as u64 * 8)
    }

    /// Points stream `sid` at `ste`, break-before-make: the entry goes
    /// through Abort (valid, ignores the other words), the unit drops its
    /// cached copy (CFGI_STE + SYNC), the new words are written with
    /// word 0 last, and the cached copy is dropped again. Then the TLB
    /// entries of the stream's previous translation (`old_vmid`) are
    /// invalidated, so no transaction of the stream can use them once
    /// this returns.
    ///
    /// Why this is enough (stage-2 mode, the STE carrying the owner's
    /// VMID and the CPUs' own stage-2 table):
    /// * the unit is coherent (IDR0.COHACC) and the STE asks for
    ///   write-back inner-shareable walks, as the CPUs' VTCR does, so
    ///   ordinary stores made visible by DSB ISH (done before every
    ///   CMDQ_PROD write in [`Smmu::commands`]) are what it reads — no
    ///   cache cleaning;
    /// * a completed CMD_SYNC means every earlier CFGI/TLBI has taken
    ///   effect, including for transactions that used the dropped entry:
    ///   once the first SYNC is consumed nothing of the stream still
    ///   translates with the old STE;
    /// * SMMU TLB entries are tagged by VMID and created only through an
    ///   STE with that VMID. TLBI_S12_VMALL of the old VMID whenever a
    ///   stream leaves it keeps the invariant "a VMID that no stream
    ///   uses has no SMMU TLB entry", so a VMID reused by a later cell
    ///   starts clean (its own invalidation at create may then be
    ///   skipped, `iommu::tlbi_stage2`). While streams share a VMID
    ///   (the root's), the invalidation is harmless: it only forces
    ///   fresh walks of the same table.
    pub fn set_ste(&mut self, sid: u32, ste: Ste, old_vmid: Option<u16>) -> Result<(), SmmuError> {
        let page = self.ste_page(sid)?;
        let base = (sid % STES_PER_PAGE) as usize * STE_WORDS;
        PoolMem.write(page, base, Ste::Abort.words()[0]);
        crate::arch::dsb_ish();
        self.commands(&[Cmd::CfgiSte { sid }])?;
        if ste != Ste::Abort {
            self.write_ste_words(page, sid, ste.words());
            crate::arch::dsb_ish();
            self.commands(&[Cmd::CfgiSte { sid }])?;
        }
        if !self.stage2 {
            // The CD of a reused VMID may have changed (a new mirror).
            self.commands(&[Cmd::CfgiAll])?;
        }
        match (old_vmid, self.stage2) {
            (Some(v), true) => self.commands(&[Cmd::TlbiS12Vmall { vmid: v }]),
            (Some(_), false) => self.commands(&[Cmd::TlbiNhAll]),
            (None, _) => Ok(()),
        }
    }

    /// Issues `cmds` followed by a SYNC and waits (bounded) until the
    /// unit has consumed the SYNC.
    pub fn commands(&mut self, cmds: &[Cmd]) -> Result<(), SmmuError> {
        let q = Idx { log2: CMDQ_LOG2 };
        let mut sync_at = self.cmd_prod;
        for c in cmds.iter().chain(core::iter::once(&Cmd::Sync)) {
            self.wait(|s| !q.full(s.cmd_prod, s.r32(CMDQ_CONS) & ((2 << CMDQ_LOG2) - 1)))?;
            let w = c.words();
            let slot = q.slot(self.cmd_prod) * 2;
            PoolMem.write(self.cmdq, slot, w[0]);
            PoolMem.write(self.cmdq, slot + 1, w[1]);
            sync_at = self.cmd_prod;
            self.cmd_prod = q.next(self.cmd_prod);
        }
        // The entries (and any STE/CD/table writes before them) reach
        // memory before the unit is told to read them.
        crate::arch::dsb_ish();
        self.w32(CMDQ_PROD, self.cmd_prod);
        let r = self.wait(|s| {
            let cons = s.r32(CMDQ_CONS);
            cons_err(cons) != 0 || s.r32(GERROR) & GERROR_CMDQ_ERR != s.r32(GERRORN) & GERROR_CMDQ_ERR
                || q.consumed(sync_at, cons & ((2 << CMDQ_LOG2) - 1))
        });
        let cons = self.r32(CMDQ_CONS);
        if r.is_err() || cons_err(cons) != 0 || self.r32(GERROR) & GERROR_CMDQ_ERR != self.r32(GERRORN) & GERROR_CMDQ_ERR {
            log::error!("smmuv3: command queue stuck or in error (CONS {cons:#x}, GERROR {:#x})", self.r32(GERROR));
            return Err(SmmuError::Timeout);
        }
        Ok(())
    }

    /// Takes every pending event off the queue; true if the unit
    /// reported an overflow (events were lost) since the last drain.
    pub fn drain(&mut self, mut each: impl FnMut(Event)) -> bool {
        let q = Idx { log2: EVTQ_LOG2 };
        let mask = (2 << EVTQ_LOG2) - 1;
        let prod = self.r32(EVENTQ_PROD);
        let mut cons = self.r32(EVENTQ_CONS) & mask;
        // Bounded: at most one queue's worth per call.
        for _ in 0..1 << EVTQ_LOG2 {
            if q.empty(prod & mask, cons) {
                break;
            }
            let slot = q.slot(cons) * 4;
            let w = [0, 1, 2, 3].map(|i| PoolMem.read(self.evtq, slot + i));
            each(Event::decode(w));
            cons = q.next(cons);
        }
        // Acknowledge an overflow (OVFLG, bit 31) along with the index.
        let overflow = (prod ^ self.r32(EVENTQ_CONS)) & (1 << 31) != 0;
        self.w32(EVENTQ_CONS, cons | (prod & (1 << 31)));
        overflow
    }

    /// Whether events are waiting (two register reads).
    pub fn pending(&self) -> bool {
        let mask = (2 << EVTQ_LOG2) - 1;
        self.r32(EVENTQ_PROD) & mask != self.r32(EVENTQ_CONS) & mask
    }

    /// The STE of a stream translating through `vmid`'s stage 2 at
    /// `s2_root`, or its stage-1 mirror at `mirror` (stage-1 mode).
    pub fn target(&mut self, vmid: u16, s2_root: PhysAddr, mirror: Option<PhysAddr>, ps: u8) -> Result<Ste, SmmuError> {
        if self.stage2 {
            // The CPUs' output size, but no more than the unit's (a larger
            // S2PS makes the entry ill-formed).
            Ok(Ste::Stage2 { vmid, ttb: s2_root, ps: ps.min(self.oas) })
        } else {
            let ttb = mirror.ok_or(SmmuError::Unsupported("stage-1 unit without a DMA mirror"))?;
            let cd = self.cd_for(vmid, ttb)?;
            Ok(Ste::Stage1 { cd })
        }
    }
}

//! An ivshmem v2 function on the virtual PCI host (docs/ivshmem.md):
//! finding it, reading its vendor capability (where the shared memory is),
//! placing BAR0 by the project's convention, and the register block
//! (ID, maximum peers, interrupt control, doorbell, state) and shared
//! sections it then gives.
//!
//! Shared memory and caches: the inmates run with the MMU off, so their
//! data accesses are Device-nGnRnE and bypass the caches, while a peer
//! (root Linux, UIO) maps the same memory cacheable. Before reading what a
//! peer wrote, [`Device::sync_for_read`] cleans and invalidates the lines
//! by address (DC CIVAC is broadcast to the inner-shareable domain, so a
//! peer's dirty line reaches memory before the uncached read); after
//! writing its own output section, [`Device::sync_after_write`] does the
//! same so no peer keeps a stale copy (peers map that section read-only,
//! so they hold no dirty line the clean could write over our data). The
//! DSB at the end of each orders the maintenance before the doorbell write
//! that follows. QEMU has no caches, so only this argument shows it right.
use crate::pci::{self, Bdf, Ecam};

pub const VENDOR_ID: u16 = 0x110a;
pub const DEVICE_ID: u16 = 0x4106;
/// Base class of an ivshmem function (the protocol is in sub-class and
/// interface).
pub const CLASS_OTHER: u8 = 0xff;

/// Vendor capability fields (offsets from the capability).
const CAP_STATE_TAB_SZ: u16 = 0x04;
const CAP_RW_SECTION_SZ: u16 = 0x08;
const CAP_OUT_SECTION_SZ: u16 = 0x10;
const CAP_ADDRESS: u16 = 0x18;

/// Registers in BAR0 (aligned 32-bit accesses only).
pub const REG_ID: usize = 0x00;
pub const REG_MAX_PEERS: usize = 0x04;
pub const REG_INT_CONTROL: usize = 0x08;
pub const REG_DOORBELL: usize = 0x0c;
pub const REG_STATE: usize = 0x10;
/// Size of BAR0 in the shipped configs (`bar_mask[0]` 0xfffff000).
pub const BAR0_SIZE: u64 = 0x1000;
/// Peers a link may have (docs/ivshmem.md).
pub const MAX_PEERS: u32 = 16;

/// Where the virtual PCI host is for this program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    /// The ECAM (`pci_mmconfig_base`).
    pub mmconfig_base: u64,
    /// Last bus of the ECAM (`pci_mmconfig_end_bus`). A cell's comm region
    /// does not carry it; the shipped system configs have 0.
    pub end_bus: u8,
    /// The cell's `vpci_irq_base`.
    pub vpci_irq_base: u32,
}

impl Platform {
    /// The shipped root (configs/qemu-virt.toml) as the boot-first root
    /// program sees it: it has no comm region to read them from.
    pub const QEMU_VIRT_ROOT: Platform = Platform {
        mmconfig_base: 0x08e0_0000,
        end_bus: 0,
        vpci_irq_base: 96,
    };

    /// The shipped GICv2 roots (configs/qemu-virt-gicv2*.toml): INTx at
    /// INTIDs 156-157, out of the GICv2m frame's SPIs 80-143, which only
    /// the frame's owner may take (docs/passthrough.md "GICv2m").
    pub const QEMU_VIRT_GICV2_ROOT: Platform = Platform {
        vpci_irq_base: 124,
        ..Self::QEMU_VIRT_ROOT
    };

    /// The shipped root for the machine's GIC.
    ///
    /// # Safety
    /// The program runs on QEMU virt, whose distributor (mapped or
    /// trapped) is at [`crate::gic::QEMU_VIRT_GICD`].
    #[cfg(target_os = "none")]
    pub unsafe fn qemu_virt_root() -> Platform {
        // SAFETY: the caller's contract: QEMU virt's distributor.
        if unsafe { crate::gic::is_v2_at(crate::gic::QEMU_VIRT_GICD) } {
            Self::QEMU_VIRT_GICV2_ROOT
        } else {
            Self::QEMU_VIRT_ROOT
        }
    }

    /// Buses of the ECAM.
    pub const fn buses(&self) -> usize {
        self.end_bus as usize + 1
    }

    /// BAR0 of the `k`th ivshmem function of the cell ("Where BAR0 goes"):
    /// right after the ECAM, 4 KiB each.
    pub const fn bar0_for(&self, k: usize) -> u64 {
        self.mmconfig_base + ((self.buses() as u64) << 20) + (k as u64) * BAR0_SIZE
    }

    /// INTID of a function's INTx (pin 1 = INTA).
    pub const fn intx(&self, pin: u8) -> u32 {
        32 + self.vpci_irq_base + (pin as u32).saturating_sub(1)
    }

    /// The ECAM window.
    ///
    /// # Safety
    /// `mmconfig_base` must be the (trapped) virtual ECAM of this program's
    /// cell, `buses()` MiB long.
    pub unsafe fn ecam(&self) -> Ecam {
        // SAFETY: the caller's contract is `Ecam::at`'s.
        unsafe { Ecam::at(self.mmconfig_base as usize, self.buses()) }
    }
}

/// Where a function's shared memory lies (from the vendor capability).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    pub state_table: u64,
    pub state_table_size: u32,
    pub rw_size: u64,
    pub out_size: u64,
}

impl Sections {
    pub const fn rw_section(&self) -> u64 {
        self.state_table + self.state_table_size as u64
    }

    /// Output section of `peer` (peers' sections follow the R/W section).
    pub const fn output(&self, peer: u32) -> u64 {
        self.rw_section() + self.rw_size + (peer as u64) * self.out_size
    }
}

/// Why a function cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// No ivshmem function at the index asked for.
    NotFound,
    /// Base class is not FFh.
    BadClass(u32),
    /// No vendor capability.
    NoVendorCap,
    /// The capability's sizes make no sense (state table too small for the
    /// peers, an output section smaller than a record header, overflow).
    BadLayout(Sections),
    /// Registers do not answer as an ivshmem function (ID, maximum peers).
    BadRegisters { id: u32, peers: u32 },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::NotFound => f.write_str("no ivshmem function"),
            Error::BadClass(c) => write!(f, "class/revision {c:#010x} is not ivshmem"),
            Error::NoVendorCap => f.write_str("missing vendor capability"),
            Error::BadLayout(s) => write!(f, "bad shared-memory layout {s:x?}"),
            Error::BadRegisters { id, peers } => {
                write!(f, "registers read ID {id}, max peers {peers}")
            }
        }
    }
}

/// What configuration space says about a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Function {
    pub bdf: Bdf,
    /// Position among the program's ivshmem functions (places BAR0).
    pub index: usize,
    /// Protocol (class code bits 8..23 minus the base class).
    pub protocol: u16,
    /// Interrupt pin (1 = INTA).
    pub pin: u8,
    pub sections: Sections,
}

/// The `index`th ivshmem function on bus 0, read from configuration space.
/// Ivshmem order is bdf order (the shipped configs list them so).
pub fn probe(ecam: &Ecam, index: usize) -> Result<Function, Error> {
    let bdf = ecam
        .find(0, VENDOR_ID, DEVICE_ID)
        .nth(index)
        .ok_or(Error::NotFound)?;
    let class = ecam.read32(bdf, pci::CFG_CLASS_REV);
    if (class >> 24) as u8 != CLASS_OTHER {
        return Err(Error::BadClass(class));
    }
    let cap = ecam
        .find_cap(bdf, pci::CAP_VENDOR)
        .ok_or(Error::NoVendorCap)?;
    let sections = Sections {
        state_table: ecam.read64(bdf, cap + CAP_ADDRESS),
        state_table_size: ecam.read32(bdf, cap + CAP_STATE_TAB_SZ),
        rw_size: ecam.read64(bdf, cap + CAP_RW_SECTION_SZ),
        out_size: ecam.read64(bdf, cap + CAP_OUT_SECTION_SZ),
    };
    let pin = ecam.read8(bdf, pci::CFG_INT_LINE + 1);
    Ok(Function {
        bdf,
        index,
        protocol: (class >> 8) as u16,
        pin,
        sections,
    })
}

/// Checks the layout against the number of peers the registers report.
pub fn check_layout(s: &Sections, peers: u32) -> Result<(), Error> {
    let table_ok = u64::from(s.state_table_size) >= 4 * u64::from(peers);
    let out_ok = s.out_size >= u64::from(crate::ivshmem_proto::HEADER_LEN);
    let end = s
        .out_size
        .checked_mul(u64::from(peers))
        .and_then(|o| o.checked_add(s.rw_size))
        .and_then(|o| o.checked_add(u64::from(s.state_table_size)))
        .and_then(|o| o.checked_add(s.state_table));
    let aligned = [
        s.state_table,
        u64::from(s.state_table_size),
        s.rw_size,
        s.out_size,
    ]
    .iter()
    .all(|v| v.is_multiple_of(4));
    if table_ok && out_ok && end.is_some() && aligned {
        Ok(())
    } else {
        Err(Error::BadLayout(*s))
    }
}

/// Places BAR0 at `bar0` and turns memory decoding on (INTx enabled).
pub fn enable(ecam: &Ecam, f: &Function, bar0: u64) {
    ecam.write32(f.bdf, pci::CFG_BAR0, bar0 as u32);
    ecam.write32(f.bdf, pci::CFG_COMMAND, pci::CMD_MEMORY);
}

/// Doorbell register value: vector in bits 0-15, target ID in 16-31.
pub const fn doorbell_value(peer: u32, vector: u16) -> u32 {
    (peer << 16) | vector as u32
}

/// An enabled function: registers at BAR0 and its shared sections.
#[derive(Debug, Clone, Copy)]
pub struct Device {
    regs: usize,
    pub function: Function,
    pub id: u32,
    pub peers: u32,
    /// INTID of its INTx in this program's cell.
    pub intid: u32,
}

impl Device {
    /// Reads ID and maximum peers and checks them and the layout.
    ///
    /// # Safety
    /// `regs` must be the function's BAR0 (trapped), and the sections of
    /// `function` mapped in this cell as the contract says (state table and
    /// others' output sections readable, the own output section writable)
    /// for as long as the device is used.
    pub unsafe fn new(function: Function, regs: usize, intid: u32) -> Result<Self, Error> {
        let mut d = Self {
            regs,
            function,
            id: 0,
            peers: 0,
            intid,
        };
        d.id = d.reg(REG_ID);
        d.peers = d.reg(REG_MAX_PEERS);
        if d.peers < 2 || d.peers > MAX_PEERS || d.id >= d.peers {
            return Err(Error::BadRegisters {
                id: d.id,
                peers: d.peers,
            });
        }
        check_layout(&function.sections, d.peers)?;
        Ok(d)
    }

    /// Finds the `index`th function, places its BAR0, enables it and opens it.
    ///
    /// # Safety
    /// `platform` must describe this program's cell, whose config maps the
    /// function's shared sections as the contract says.
    pub unsafe fn open(platform: &Platform, index: usize) -> Result<Self, Error> {
        // SAFETY: the caller's contract.
        let ecam = unsafe { platform.ecam() };
        let f = probe(&ecam, index)?;
        let bar0 = platform.bar0_for(index);
        enable(&ecam, &f, bar0);
        // SAFETY: BAR0 was just placed there with memory decoding on; the
        // sections are mapped by the caller's contract.
        unsafe { Self::new(f, bar0 as usize, platform.intx(f.pin)) }
    }

    pub const fn sections(&self) -> &Sections {
        &self.function.sections
    }

    fn reg(&self, off: usize) -> u32 {
        // SAFETY: `new`'s contract: BAR0 is the register block; `off` is one
        // of the REG_* offsets, aligned and inside its 4 KiB.
        unsafe { ((self.regs + off) as *const u32).read_volatile() }
    }

    fn set_reg(&self, off: usize, value: u32) {
        // SAFETY: as in `reg`.
        unsafe { ((self.regs + off) as *mut u32).write_volatile(value) }
    }

    /// Interrupt control bit 0: this function's INTx may be raised.
    pub fn set_interrupts(&self, on: bool) {
        self.set_reg(REG_INT_CONTROL, u32::from(on));
    }

    pub fn interrupt_control(&self) -> u32 {
        self.reg(REG_INT_CONTROL)
    }

    /// Rings `peer`'s doorbell with `vector`. A DSB first, so that every
    /// write to shared memory before it is complete when the peer wakes.
    pub fn ring(&self, peer: u32, vector: u16) {
        crate::barrier::dsb();
        self.set_reg(REG_DOORBELL, doorbell_value(peer, vector));
    }

    /// Writes this peer's state (the hypervisor updates the state table
    /// and interrupts the other peers when it changed).
    pub fn set_state(&self, value: u32) {
        crate::barrier::dsb();
        self.set_reg(REG_STATE, value);
    }

    pub fn own_state(&self) -> u32 {
        self.reg(REG_STATE)
    }

    /// `peer`'s entry of the state table (0 for a peer out of range).
    pub fn peer_state(&self, peer: u32) -> u32 {
        if peer >= self.peers {
            return 0;
        }
        let addr = self.sections().state_table + 4 * u64::from(peer);
        self.sync_for_read(addr, 4);
        // SAFETY: `new`'s contract: the state table is mapped readable;
        // the entry lies inside it (checked by `check_layout`), aligned.
        unsafe { (addr as usize as *const u32).read_volatile() }
    }

    /// Address of byte `off` of `peer`'s output section, if inside it.
    fn out_addr(&self, peer: u32, off: u64, len: u64) -> Option<u64> {
        let end = off.checked_add(len)?;
        (peer < self.peers && end <= self.sections().out_size)
            .then(|| self.sections().output(peer) + off)
    }

    /// Word `word` of `peer`'s output section (synced for reading).
    pub fn out_word(&self, peer: u32, word: usize) -> u32 {
        let Some(a) = self.out_addr(peer, 4 * word as u64, 4) else {
            return 0;
        };
        self.sync_for_read(a, 4);
        // SAFETY: `new`'s contract (output sections readable); inside the
        // section and aligned.
        unsafe { (a as usize as *const u32).read_volatile() }
    }

    /// Byte `off` of `peer`'s output section; the caller syncs the range
    /// first with [`Self::sync_out_for_read`].
    pub fn out_byte(&self, peer: u32, off: u64) -> u8 {
        let Some(a) = self.out_addr(peer, off, 1) else {
            return 0;
        };
        // SAFETY: as in `out_word`; byte accesses need no alignment.
        unsafe { (a as usize as *const u8).read_volatile() }
    }

    /// Syncs `len` bytes from `off` of `peer`'s output section for reading.
    pub fn sync_out_for_read(&self, peer: u32, off: u64, len: u64) {
        let len = len.min(self.sections().out_size.saturating_sub(off));
        if let Some(a) = self.out_addr(peer, off, len) {
            self.sync_for_read(a, len);
        }
    }

    /// Writes word `word` of this peer's own output section.
    pub fn write_out_word(&self, word: usize, value: u32) {
        if let Some(a) = self.out_addr(self.id, 4 * word as u64, 4) {
            // SAFETY: `new`'s contract: the own output section is mapped
            // writable; inside it and aligned.
            unsafe { (a as usize as *mut u32).write_volatile(value) }
        }
    }

    /// Writes byte `off` of this peer's own output section.
    pub fn write_out_byte(&self, off: u64, value: u8) {
        if let Some(a) = self.out_addr(self.id, off, 1) {
            // SAFETY: as in `write_out_word`.
            unsafe { (a as usize as *mut u8).write_volatile(value) }
        }
    }

    /// After writing `len` bytes from `off` of the own output section.
    pub fn sync_out_after_write(&self, off: u64, len: u64) {
        let len = len.min(self.sections().out_size.saturating_sub(off));
        if let Some(a) = self.out_addr(self.id, off, len) {
            self.sync_after_write(a, len);
        }
    }

    /// See the module comment.
    pub fn sync_for_read(&self, addr: u64, len: u64) {
        crate::barrier::clean_invalidate(addr, len);
    }

    /// See the module comment.
    pub fn sync_after_write(&self, addr: u64, len: u64) {
        crate::barrier::clean_invalidate(addr, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pci::fake::FakeEcam;
    use crate::pci::{CFG_CAP_PTR, CFG_CLASS_REV, CFG_COMMAND, CFG_VENDOR_DEVICE, STATUS_CAP_LIST};

    /// An ivshmem function at `bdf` as docs/ivshmem.md describes it.
    fn ivshmem_fn(f: &mut FakeEcam, bdf: Bdf, table: u64, protocol: u16) {
        f.clear(bdf);
        f.set(bdf, CFG_VENDOR_DEVICE, 0x4106_110a);
        f.set(bdf, CFG_COMMAND, STATUS_CAP_LIST);
        f.set(bdf, CFG_CLASS_REV, 0xff00_0000 | (u32::from(protocol) << 8));
        f.set(bdf, CFG_CAP_PTR, 0x40);
        f.set(bdf, 0x3c, u32::from((bdf.dev() & 3) + 1) << 8);
        f.set(bdf, 0x40, 0x0020_0009);
        f.set(bdf, 0x44, 0x1000);
        f.set(bdf, 0x48, 0x9000);
        f.set(bdf, 0x50, 0x2000);
        f.set(bdf, 0x58, table as u32);
        f.set(bdf, 0x5c, (table >> 32) as u32);
    }

    #[test]
    fn platform_places_bars_and_interrupts() {
        let p = Platform::QEMU_VIRT_ROOT;
        assert_eq!(p.bar0_for(0), 0x08f0_0000);
        assert_eq!(p.bar0_for(1), 0x08f0_1000);
        assert_eq!(p.intx(1), 128);
        assert_eq!(p.intx(2), 129);
        let v2 = Platform::QEMU_VIRT_GICV2_ROOT;
        assert_eq!((v2.intx(1), v2.intx(2), v2.bar0_for(0)), (156, 157, 0x08f0_0000));
        let cell = Platform {
            vpci_irq_base: 112,
            ..p
        };
        assert_eq!(cell.intx(1), 144);
        let two = Platform { end_bus: 1, ..p };
        assert_eq!(two.bar0_for(0), 0x0900_0000);
    }

    #[test]
    fn probes_the_qemu_virt_demo_link() {
        let mut f = FakeEcam::new();
        ivshmem_fn(&mut f, Bdf::new(0, 0, 0), 0x7faf_0000, 0);
        ivshmem_fn(&mut f, Bdf::new(0, 1, 0), 0x7fb0_0000, 1);
        let e = f.ecam();
        let a = probe(&e, 0).unwrap();
        assert_eq!(a.bdf, Bdf::new(0, 0, 0));
        assert_eq!(a.pin, 1);
        assert_eq!(a.protocol, 0);
        let s = a.sections;
        assert_eq!(s.state_table, 0x7faf_0000);
        assert_eq!(s.rw_section(), 0x7faf_1000);
        assert_eq!(s.output(0), 0x7faf_a000);
        assert_eq!(s.output(1), 0x7faf_c000);
        assert_eq!(s.output(2), 0x7faf_e000);
        assert_eq!(check_layout(&s, 3), Ok(()));
        let b = probe(&e, 1).unwrap();
        assert_eq!((b.pin, b.protocol), (2, 1));
        assert_eq!(probe(&e, 2), Err(Error::NotFound));
    }

    #[test]
    fn refuses_wrong_class_and_missing_capability() {
        let mut f = FakeEcam::new();
        let a = Bdf::new(0, 0, 0);
        ivshmem_fn(&mut f, a, 0x7faf_0000, 0);
        f.set(a, CFG_CLASS_REV, 0x0200_0000);
        assert_eq!(probe(&f.ecam(), 0), Err(Error::BadClass(0x0200_0000)));
        ivshmem_fn(&mut f, a, 0x7faf_0000, 0);
        f.set(a, CFG_COMMAND, 0);
        assert_eq!(probe(&f.ecam(), 0), Err(Error::NoVendorCap));
    }

    #[test]
    fn layout_checks() {
        let s = Sections {
            state_table: 0x7faf_0000,
            state_table_size: 0x1000,
            rw_size: 0,
            out_size: 0x2000,
        };
        assert!(check_layout(&s, 16).is_ok());
        assert!(check_layout(
            &Sections {
                state_table_size: 8,
                ..s
            },
            3
        )
        .is_err());
        assert!(check_layout(&Sections { out_size: 8, ..s }, 3).is_err());
        assert!(check_layout(
            &Sections {
                out_size: u64::MAX / 2,
                ..s
            },
            3
        )
        .is_err());
        assert!(check_layout(&Sections { rw_size: 2, ..s }, 3).is_err());
    }

    #[test]
    fn enable_programs_bar_and_command() {
        let mut f = FakeEcam::new();
        let a = Bdf::new(0, 0, 0);
        ivshmem_fn(&mut f, a, 0x7faf_0000, 0);
        let func = probe(&f.ecam(), 0).unwrap();
        enable(&f.ecam(), &func, 0x08f0_0000);
        assert_eq!(f.get(a, 0x10), 0x08f0_0000);
        assert_eq!(f.get(a, 0x04), pci::CMD_MEMORY);
        assert_eq!(doorbell_value(2, 0), 0x0002_0000);
        assert_eq!(doorbell_value(0xffff, 1), 0xffff_0001);
    }

    /// Registers and shared memory in host buffers.
    #[test]
    fn device_reads_registers_and_sections() {
        let mut regs = vec![0u32; 1024];
        regs[0] = 1;
        regs[1] = 3;
        let mut shm = vec![0u32; (0x1000 + 3 * 0x2000) / 4];
        let base = shm.as_mut_ptr() as u64;
        shm[1] = 2; // state of peer 1
        shm[0x1000 / 4] = 0x474e_4950; // peer 0's output: PING
        let function = Function {
            bdf: Bdf::new(0, 0, 0),
            index: 0,
            protocol: 0,
            pin: 1,
            sections: Sections {
                state_table: base,
                state_table_size: 0x1000,
                rw_size: 0,
                out_size: 0x2000,
            },
        };
        // SAFETY: both buffers live until the end of the test and are as
        // large as the registers and sections describe.
        let d = unsafe { Device::new(function, regs.as_mut_ptr() as usize, 144) }.unwrap();
        assert_eq!((d.id, d.peers), (1, 3));
        assert_eq!(d.peer_state(1), 2);
        assert_eq!(d.peer_state(3), 0);
        assert_eq!(d.out_word(0, 0), 0x474e_4950);
        assert_eq!(d.out_word(0, 0x2000 / 4), 0, "outside the section");
        d.write_out_word(1, 7);
        d.write_out_byte(8, 0x41);
        assert_eq!(d.out_word(1, 1), 7);
        assert_eq!(d.out_byte(1, 8), 0x41);
        d.ring(2, 0);
        d.set_state(2);
        d.set_interrupts(true);
        assert_eq!(regs[3], 0x0002_0000);
        assert_eq!(regs[4], 2);
        assert_eq!(regs[2], 1);
        regs[1] = 1;
        // SAFETY: as above.
        let bad = unsafe { Device::new(function, regs.as_mut_ptr() as usize, 144) };
        assert_eq!(bad.unwrap_err(), Error::BadRegisters { id: 1, peers: 1 });
        drop(shm);
    }
}

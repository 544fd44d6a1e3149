//! Config space of a PCI device passed through to a cell (configuration
//! type "device"), filtered the way Jailhouse filters it: the cell sees
//! the device at its configured BDF on its virtual PCI host, and each of
//! its config-space accesses is answered here from the real function's
//! config space (through [`CfgHw`]) or refused:
//!
//! | register | read | write |
//! |---|---|---|
//! | IDs, class, revision, subsystem IDs, CardBus CIS, line/pin | the device's | line only |
//! | header type | the device's, multi-function bit cleared (no other function exists for the cell) | ignored |
//! | command | the device's | bits I/O, memory, bus master, parity, SERR, INTx disable |
//! | status | the device's; "capability list" set only when a capability is listed | ignored (its bits are write-1-to-clear) |
//! | BAR0-5 | the device's (fixed at the physical address the root gave them); after a sizing write (all mask bits set) the configured `bar_mask` with the BAR's type bits | never reach the device |
//! | expansion ROM, reserved | 0 | ignored |
//! | capability pointer, capabilities | only capabilities the configuration lists, chained to each other (the next pointers are rewritten); everything else reads 0 | only inside a capability flagged `write`, whole access inside it |
//!
//! BARs never move: the cell's memory regions map them where the root
//! put them, so a BAR write would detach the device from its mapping (or
//! point it at another cell's memory). Pure logic, host-tested.

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use super::config_space::lanes;
use syshyper_config::flags::pci_cap::{EXT_CAP, WRITE};

/// The real PCI host bridge's ECAM: QEMU virt's (highmem, 256 buses).
/// Jailhouse's configuration format has no field for it when
/// `pci_is_virtual` is set (`pci_mmconfig_base` is then the virtual
/// host); a device passed through must have its config page inside a
/// root memory region, so on a machine without this ECAM no device
/// passes the description's checks. Another board names its bridge here.
pub const PHYS_ECAM: crate::cell::desc::Span = crate::cell::desc::Span { start: 0x40_1000_0000, end: 0x40_2000_0000 };

/// Most capabilities a passed-through device may list.
pub const MAX_CAPS: usize = 16;
/// Command bits the cell may change: I/O space (0), memory space (1),
/// bus master (2), parity error response (6), SERR (8), INTx disable (10).
pub const CMD_WRITABLE: u16 = 1 | (1 << 1) | (1 << 2) | (1 << 6) | (1 << 8) | (1 << 10);
/// The command register written when the device changes hands: no
/// decoding, no DMA, no INTx.
pub const CMD_QUIESCED: u16 = 1 << 10;
/// Status bit 4 (in the dword at 04h: bit 20): capability list present.
const STATUS_CAP_LIST: u32 = 1 << 20;
/// Header type byte (dword 0Ch, bits 23:16), bit 7: multi-function.
const MULTI_FUNCTION: u32 = 0x80 << 16;
/// Standard capabilities live in 40h..100h, extended ones in 100h..1000h.
const STD_START: u16 = 0x40;
const EXT_START: u16 = 0x100;
const CFG_SIZE: u16 = 0x1000;

/// One capability the configuration lets the cell see (Jailhouse's
/// `struct jailhouse_pci_capability`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cap {
    pub id: u16,
    pub start: u16,
    pub len: u16,
    pub flags: u16,
}

impl Cap {
    fn ext(&self) -> bool {
        self.id & EXT_CAP != 0
    }

    /// Whether it shares a byte with `[at, at + n)`.
    fn overlaps(&self, at: u16, n: u16) -> bool {
        self.start < at.saturating_add(n) && at < self.start.saturating_add(self.len)
    }

    /// Whether `[at, at + n)` lies wholly inside.
    fn holds(&self, at: u16, n: u16) -> bool {
        self.start <= at && at.saturating_add(n) <= self.start.saturating_add(self.len)
    }
}

/// Standard capability ids of MSI and MSI-X: shown only when the system
/// can deliver the device's MSIs to the cell (`cell::desc`).
pub const CAP_MSI: u16 = 0x05;
pub const CAP_MSIX: u16 = 0x11;

/// Whether capability `id` (extended ones carry `EXT_CAP`) is MSI or MSI-X.
pub fn is_msi_cap(id: u16) -> bool {
    id == CAP_MSI || id == CAP_MSIX
}

/// A passed-through function as the cell's description holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PtDev {
    /// bus << 8 | device << 3 | function, the same on the real and the
    /// virtual host.
    pub bdf: u16,
    pub bar_mask: [u32; 6],
    /// Physical address of its 4 KiB of the real host bridge's ECAM.
    pub cfg_page: u64,
    caps: [Cap; MAX_CAPS],
    ncaps: usize,
}

/// Why a device entry is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bad {
    TooManyCaps,
    /// Capability `n` is unaligned, out of its space or empty.
    Cap(usize),
}

impl core::fmt::Display for Bad {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Bad::TooManyCaps => write!(f, "more than {MAX_CAPS} capabilities"),
            Bad::Cap(n) => write!(
                f,
                "capability {n} is empty, not 4-byte aligned, or outside 40h-FFh (standard) / 100h-FFFh (extended)"
            ),
        }
    }
}

impl PtDev {
    /// A device with its listed capabilities, checked.
    pub fn new(bdf: u16, bar_mask: [u32; 6], cfg_page: u64, caps: impl Iterator<Item = Cap>) -> Result<Self, Bad> {
        let mut d = Self { bdf, bar_mask, cfg_page, caps: [Cap::default(); MAX_CAPS], ncaps: 0 };
        for (n, c) in caps.enumerate() {
            let (lo, hi) = if c.ext() { (EXT_START, CFG_SIZE) } else { (STD_START, EXT_START) };
            let end = c.start.checked_add(c.len).ok_or(Bad::Cap(n))?;
            if c.len == 0 || c.start % 4 != 0 || c.start < lo || end > hi {
                return Err(Bad::Cap(n));
            }
            let slot = d.caps.get_mut(n).ok_or(Bad::TooManyCaps)?;
            *slot = c;
            d.ncaps = n.saturating_add(1);
        }
        Ok(d)
    }

    /// The listed capabilities.
    pub fn caps(&self) -> &[Cap] {
        self.caps.get(..self.ncaps).unwrap_or(&[])
    }

    /// Whether an MSI or MSI-X capability is listed (shown to the cell).
    pub fn has_msi(&self) -> bool {
        self.caps().iter().any(|c| is_msi_cap(c.id))
    }

    /// The first listed capability of the same space after `after`.
    fn next(&self, ext: bool, after: u16) -> u16 {
        self.caps().iter().filter(|c| c.ext() == ext && c.start > after).map(|c| c.start).min().unwrap_or(0)
    }
}

/// The cell's side of a device that is not in the device: which BARs it
/// is sizing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PtState {
    /// Bit i: BAR i reads back its mask.
    pub sizing: u8,
}

/// The real function's config space.
pub trait CfgHw {
    /// The dword at `reg` (a multiple of 4).
    fn read32(&mut self, reg: u16) -> u32;
    /// A write of `size` (1, 2, 4) bytes at `reg` (naturally aligned).
    fn write(&mut self, reg: u16, size: u8, value: u32);
}

fn bar_index(dword: u16) -> usize {
    usize::from(dword.saturating_sub(0x10) / 4)
}

/// The dword at `dword` as the cell sees it.
fn read_dword(dev: &PtDev, st: &PtState, hw: &mut impl CfgHw, dword: u16) -> u32 {
    match dword {
        0x00 | 0x08 | 0x28 | 0x2c | 0x3c => hw.read32(dword),
        0x04 => {
            let v = hw.read32(dword) & !STATUS_CAP_LIST;
            if dev.next(false, 0) != 0 { v | STATUS_CAP_LIST } else { v }
        }
        0x0c => hw.read32(dword) & !MULTI_FUNCTION,
        0x10..=0x24 => {
            let i = bar_index(dword);
            let v = hw.read32(dword);
            let mask = dev.bar_mask.get(i).copied().unwrap_or(0);
            // Sizing: the mask, with what lies below it in the real
            // register (type bits; address bits there are zero).
            if st.sizing & (1 << i) != 0 { mask | (v & !mask) } else { v }
        }
        0x34 => u32::from(dev.next(false, 0)),
        STD_START..CFG_SIZE => {
            let Some(cap) = dev.caps().iter().find(|c| c.overlaps(dword, 4)) else { return 0 };
            let v = hw.read32(dword);
            if dword != cap.start {
                v
            } else if cap.ext() {
                // Extended header: next offset in bits 31:20.
                (v & 0x000f_ffff) | u32::from(dev.next(true, cap.start)) << 20
            } else {
                // Standard header: next pointer in bits 15:8.
                (v & !0xff00) | u32::from(dev.next(false, cap.start)) << 8
            }
        }
        _ => 0,
    }
}

/// A read of `size` (1, 2, 4) bytes at `reg` (naturally aligned).
pub fn read(dev: &PtDev, st: &PtState, hw: &mut impl CfgHw, reg: u16, size: u8) -> u32 {
    let (shift, mask) = lanes(reg, size);
    (read_dword(dev, st, hw, reg & !3) & mask) >> shift
}

/// A write of `size` bytes of `value` at `reg` (naturally aligned): what
/// the table in the module comment allows reaches the device.
pub fn write(dev: &PtDev, st: &mut PtState, hw: &mut impl CfgHw, reg: u16, size: u8, value: u32) {
    let (shift, mask) = lanes(reg, size);
    let v = value.checked_shl(shift).unwrap_or(0) & mask;
    let dword = reg & !3;
    match dword {
        0x04 => {
            let writable = (mask as u16) & CMD_WRITABLE;
            if writable != 0 {
                let cur = hw.read32(0x04) as u16;
                hw.write(0x04, 2, u32::from((cur & !writable) | (v as u16 & writable)));
            }
        }
        0x10..=0x24 if size == 4 => {
            let i = bar_index(dword);
            let m = dev.bar_mask.get(i).copied().unwrap_or(0);
            // All mask bits set: sizing; anything else (the restore of
            // the old value) ends it. The device's BAR is never written.
            if m != 0 && value & m == m {
                st.sizing |= 1 << i;
            } else {
                st.sizing &= !(1 << i);
            }
        }
        0x3c if mask & 0xff != 0 => hw.write(0x3c, 1, v & 0xff),
        STD_START..CFG_SIZE => {
            let n = u16::from(size);
            if dev.caps().iter().any(|c| c.flags & WRITE != 0 && c.holds(reg, n)) {
                hw.write(reg, size, value);
            }
        }
        _ => {}
    }
}

/// Enable bits of the MSI and MSI-X message control words.
const MSI_ENABLE: u32 = 1;
const MSIX_ENABLE: u32 = 1 << 15;
/// Standard capabilities that fit in config space after the header: a
/// bound for walking a list a device could make circular.
const MAX_STD_CAPS: usize = 48;

/// Turns the device off as it changes hands (create and destroy): memory
/// and I/O decoding, bus mastering (no new DMA) and INTx, and MSI and
/// MSI-X, found in the device's own capability list: a cell's driver that
/// left MSI-X on (Linux's shutdown does not turn it off) would otherwise
/// make the device send its interrupts as messages to a doorbell that
/// is no longer its owner's, and the next owner's INTx would never
/// come unless its driver cleared the bit itself. No function-level
/// reset: FLR takes 100 ms during which config space must not be
/// touched, and it would clear the BARs the root's driver programmed,
/// which the cell's mapping relies on (docs/passthrough.md).
pub fn quiesce(hw: &mut impl CfgHw) {
    hw.write(0x04, 2, u32::from(CMD_QUIESCED));
    if hw.read32(0x04) & STATUS_CAP_LIST == 0 {
        return;
    }
    let mut at = (hw.read32(0x34) & 0xfc) as u16;
    for _ in 0..MAX_STD_CAPS {
        if at < 0x40 {
            break;
        }
        let head = hw.read32(at);
        let ctrl = head >> 16;
        let enable = match head & 0xff {
            0x05 => MSI_ENABLE,
            0x11 => MSIX_ENABLE,
            _ => 0,
        };
        if ctrl & enable != 0 {
            hw.write(at.wrapping_add(2), 2, ctrl & !enable);
        }
        at = ((head >> 8) & 0xfc) as u16;
    }
}

/// A BDF printed as Linux prints it: `bb:dd.f`.
#[derive(Clone, Copy, Debug)]
pub struct Bdf(pub u16);

impl core::fmt::Display for Bdf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{}", self.0 >> 8, (self.0 >> 3) & 0x1f, self.0 & 7)
    }
}

/// How the DMA of a passed-through device is confined.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dma {
    /// The SMMU translates its stream through the cell's stage 2.
    Confined,
    /// An SMMU is there, but the cell's configuration does not list the
    /// device's stream: the SMMU aborts every DMA of it.
    Aborted,
    /// No SMMU: the device reaches all of physical memory.
    Unconfined,
}

/// Says on the console that cell `id` got device `d`, and plainly when
/// its DMA is not confined.
pub fn log_assigned(id: u32, name: &str, d: &PtDev, dma: Dma) {
    let bdf = Bdf(d.bdf);
    match dma {
        Dma::Confined => log::info!("cell {id} ({name}): PCI device {bdf} passed through, its DMA confined to the cell's memory by the SMMU (stream {:#x})", d.bdf),
        Dma::Aborted => log::warn!(
            "cell {id} ({name}): PCI device {bdf} passed through, but its stream {:#x} is not in the cell's stream_ids: the SMMU aborts all its DMA",
            d.bdf
        ),
        Dma::Unconfined => log::warn!(
            "cell {id} ({name}): PCI device {bdf} passed through WITHOUT an SMMU: its DMA is unconfined and can reach all memory (the root's, other cells', the hypervisor's)"
        ),
    }
}

#[cfg(test)]
#[path = "passthru/tests.rs"]
mod tests;

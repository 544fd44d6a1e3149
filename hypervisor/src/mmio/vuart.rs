//! A virtual PL011 for a cell's console (docs/linux-cell.md): QEMU virt
//! has one PL011, which the root keeps. A non-root cell whose console is
//! a PL011 with a size and which maps no memory over that address gets
//! this device there instead: what it writes comes out on the
//! hypervisor console (the UART and the console page) a line at a time,
//! prefixed with the cell's name. Output only: the receive FIFO is
//! always empty and no interrupt is ever raised, which Linux's amba-pl011
//! driver copes with (it transmits by polling TXFF outside its interrupt
//! handler, and the FIFO here is never full nor busy).
//!
//! Pure logic; the MMIO dispatcher holds the state in the cell's table.

// Guest values flow through here: no silent overflow.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

/// Bytes of the register frame.
pub const SIZE: u64 = 0x1000;
/// Longest line kept before it is flushed anyway.
pub const LINE: usize = 160;

const DR: u64 = 0x000;
const FR: u64 = 0x018;
/// Receive FIFO empty, transmit FIFO empty; never busy, never full.
const FR_IDLE: u64 = (1 << 4) | (1 << 7);
/// ILPR, IBRD, FBRD, LCR_H, CR, IFLS, IMSC: kept and read back.
const KEPT: [u64; 7] = [0x020, 0x024, 0x028, 0x02c, 0x030, 0x034, 0x038];
const DMACR: u64 = 0x048;
/// Peripheral ID 0-3 and PrimeCell ID 0-3 at 0xfe0..0xffc: a PL011 r1p5
/// (what the AMBA bus matches when the device tree names no periphid).
const IDS: [u64; 8] = [0x11, 0x10, 0x34, 0x00, 0x0d, 0xf0, 0x05, 0xb1];

/// The device's state: the kept registers and the line being assembled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VirtUart {
    regs: [u16; 7],
    dmacr: u16,
    line: [u8; LINE],
    len: usize,
}

impl Default for VirtUart {
    fn default() -> Self {
        Self::new()
    }
}

impl VirtUart {
    /// A reset PL011 (CR: UART, TX and RX enabled, as firmware leaves it).
    pub const fn new() -> Self {
        Self { regs: [0, 0, 0, 0, 0x301, 0x12, 0], dmacr: 0, line: [0; LINE], len: 0 }
    }

    /// An access of `size` bytes at `off`; `emit` gets each complete line
    /// (without its newline). `None`: an access a PL011 does not have
    /// (wider than 32 bits or unaligned), which fails the cell.
    pub fn access(&mut self, off: u64, size: u8, write: Option<u64>, mut emit: impl FnMut(&[u8])) -> Option<u64> {
        if !matches!(size, 1 | 2 | 4) || off & u64::from(size.wrapping_sub(1)) != 0 || off >= SIZE {
            return None;
        }
        let kept = KEPT.iter().position(|&k| k == off);
        Some(match (off, write) {
            (DR, Some(v)) => {
                self.put(v as u8, &mut emit);
                0
            }
            (FR, _) => FR_IDLE,
            (_, None) if kept.is_some() => kept.and_then(|i| self.regs.get(i)).map_or(0, |&r| u64::from(r)),
            (_, Some(v)) if kept.is_some() => {
                if let Some(r) = kept.and_then(|i| self.regs.get_mut(i)) {
                    *r = v as u16;
                }
                0
            }
            (DMACR, None) => u64::from(self.dmacr),
            (DMACR, Some(v)) => {
                self.dmacr = v as u16;
                0
            }
            (0xfe0.., None) => IDS.get((off.saturating_sub(0xfe0) / 4) as usize).copied().unwrap_or(0),
            // DR reads (no input), RSR, RIS, MIS: zero; ICR and the rest
            // of the writes: ignored.
            _ => 0,
        })
    }

    fn put(&mut self, c: u8, emit: &mut impl FnMut(&[u8])) {
        match c {
            b'\r' => {}
            b'\n' => self.flush(emit),
            _ => {
                if let Some(slot) = self.line.get_mut(self.len) {
                    *slot = c;
                    self.len = self.len.saturating_add(1);
                }
                if self.len >= LINE {
                    self.flush(emit);
                }
            }
        }
    }

    /// Emits what is buffered (a line, or a long line's first part).
    pub fn flush(&mut self, emit: &mut impl FnMut(&[u8])) {
        if let Some(l) = self.line.get(..self.len) {
            emit(l);
        }
        self.len = 0;
    }
}

/// A line as printable ASCII (anything else as `?`), so a cell cannot
/// send control sequences to the hypervisor's terminal.
pub struct Ascii<'a>(pub &'a [u8]);

impl core::fmt::Display for Ascii<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use core::fmt::Write;
        for &b in self.0 {
            f.write_char(if b == b'\t' || (0x20..0x7f).contains(&b) { char::from(b) } else { '?' })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_str(u: &mut VirtUart, s: &str, out: &mut Vec<String>) {
        for b in s.bytes() {
            assert_eq!(u.access(DR, 2, Some(u64::from(b)), |l| out.push(String::from_utf8_lossy(l).into_owned())), Some(0));
        }
    }

    #[test]
    fn lines_come_out_whole() {
        let mut u = VirtUart::new();
        let mut out = Vec::new();
        write_str(&mut u, "hello\r\nwor", &mut out);
        assert_eq!(out, ["hello"]);
        write_str(&mut u, "ld\n", &mut out);
        assert_eq!(out, ["hello", "world"]);
    }

    #[test]
    fn long_lines_are_split() {
        let mut u = VirtUart::new();
        let mut out = Vec::new();
        write_str(&mut u, &"x".repeat(LINE + 3), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].len(), LINE);
    }

    #[test]
    fn never_full_never_busy_and_identifies_as_pl011() {
        let mut u = VirtUart::new();
        assert_eq!(u.access(FR, 2, None, |_| {}), Some(0x90));
        assert_eq!(u.access(0xfe0, 4, None, |_| {}), Some(0x11));
        assert_eq!(u.access(0xff0, 4, None, |_| {}), Some(0x0d));
        assert_eq!(u.access(0xffc, 4, None, |_| {}), Some(0xb1));
    }

    #[test]
    fn control_registers_read_back() {
        let mut u = VirtUart::new();
        assert_eq!(u.access(0x038, 2, Some(0x50), |_| {}), Some(0));
        assert_eq!(u.access(0x038, 2, None, |_| {}), Some(0x50));
        assert_eq!(u.access(0x030, 2, None, |_| {}), Some(0x301));
        assert_eq!(u.access(0x03c, 2, None, |_| {}), Some(0), "no interrupt is ever raised");
    }

    #[test]
    fn bad_accesses_are_refused() {
        let mut u = VirtUart::new();
        assert_eq!(u.access(0x000, 8, None, |_| {}), None);
        assert_eq!(u.access(0x002, 4, None, |_| {}), None);
        assert_eq!(u.access(0x1000, 4, None, |_| {}), None);
    }
}

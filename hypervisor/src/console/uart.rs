//! The debug UART, chosen by the system configuration's `debug_console`
//! (type and flags as Jailhouse defines them): PL011, 8250/16550 with its
//! register distance and access width, and the Xilinx/Cadence UART
//! (xuartps). Output only: the hypervisor never reads from the console.
//!
//! Each driver is written against [`Regs`], so its register logic runs on
//! the host against a fake (tests below) and on the target against the
//! device mapped at EL2 (`mmio.rs`).

use syshyper_config::flags::console as con;

/// Register access of one UART, `off` in bytes from its base.
pub trait Regs {
    /// An 8-bit read.
    fn read8(&self, off: u64) -> u8;
    /// A 32-bit read.
    fn read32(&self, off: u64) -> u32;
    /// An 8-bit write.
    fn write8(&self, off: u64, v: u8);
    /// A 32-bit write.
    fn write32(&self, off: u64, v: u32);
}

/// Which UART the configuration names, with its register layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// No (supported) console: output is dropped.
    None,
    /// ARM PL011.
    Pl011,
    /// 8250/16550: registers `1 << shift` bytes apart, 32-bit accesses
    /// when `wide` (Jailhouse's REGDIST_4 flag means both), else 8-bit.
    Ns8250 { shift: u8, wide: bool },
    /// Xilinx/Cadence UART (ZynqMP).
    Xuartps,
}

/// The driver for a configuration's `debug_console` type and flags. Port
/// I/O (the MMIO flag clear) does not exist on arm64: no console then,
/// as for types without a driver here.
pub fn kind(console_type: u16, flags: u16) -> Kind {
    if flags & con::MMIO == 0 && console_type != con::TYPE_NONE {
        return Kind::None;
    }
    match console_type {
        con::TYPE_PL011 => Kind::Pl011,
        con::TYPE_8250 => {
            let wide = flags & con::REGDIST_4 != 0;
            Kind::Ns8250 { shift: if wide { 2 } else { 0 }, wide }
        }
        con::TYPE_XUARTPS => Kind::Xuartps,
        _ => Kind::None,
    }
}

/// How often the transmitter's status is polled for room before a byte
/// is dropped: a UART that never drains (wrong address in the
/// configuration, clock gated) must not hang the hypervisor.
pub const POLL_LIMIT: u32 = 1 << 20;

/// Waits up to [`POLL_LIMIT`] polls until `ready`; whether it became so.
fn wait(mut ready: impl FnMut() -> bool) -> bool {
    for _ in 0..POLL_LIMIT {
        if ready() {
            return true;
        }
        #[cfg(target_os = "none")]
        crate::arch::cpu_relax();
    }
    false
}

/// PL011: data register and flag register (TXFF: transmit FIFO full).
mod pl011 {
    pub const DR: u64 = 0x00;
    pub const FR: u64 = 0x18;
    pub const FR_TXFF: u32 = 1 << 5;
}

/// 8250: transmit holding register 0, line status register 5 (THRE:
/// the holding register is empty).
mod ns8250 {
    pub const THR: u64 = 0;
    pub const LSR: u64 = 5;
    pub const LSR_THRE: u32 = 1 << 5;
}

/// Cadence UART: control register (TX enable/disable), channel status
/// register (TXFULL) and the FIFO.
mod xuartps {
    pub const CR: u64 = 0x00;
    pub const CR_TX_EN: u32 = 1 << 4;
    pub const CR_TX_DIS: u32 = 1 << 5;
    pub const SR: u64 = 0x2c;
    pub const SR_TXFULL: u32 = 1 << 4;
    pub const FIFO: u64 = 0x30;
}

impl Kind {
    /// Readies the transmitter once, at console init, where a UART needs it.
    /// A Cadence UART after reset has its transmitter disabled and drops
    /// what it is given; with no boot loader before the hypervisor
    /// (boot-first) nobody has enabled it. An enabled one (Linux's console,
    /// late launch) is left untouched. The other UARTs are used as found.
    pub fn enable(self, regs: &impl Regs) {
        if let Kind::Xuartps = self {
            let cr = regs.read32(xuartps::CR);
            if cr & xuartps::CR_TX_EN == 0 || cr & xuartps::CR_TX_DIS != 0 {
                regs.write32(xuartps::CR, (cr & !xuartps::CR_TX_DIS) | xuartps::CR_TX_EN);
            }
        }
    }

    /// Sends one byte through `regs`; dropped if the transmitter stays
    /// full for [`POLL_LIMIT`] polls. Returns whether it was written.
    pub fn put(self, regs: &impl Regs, b: u8) -> bool {
        match self {
            Kind::None => false,
            Kind::Pl011 => {
                let ok = wait(|| regs.read32(pl011::FR) & pl011::FR_TXFF == 0);
                if ok {
                    regs.write32(pl011::DR, u32::from(b));
                }
                ok
            }
            Kind::Ns8250 { shift, wide } => {
                let reg = |r: u64| r << shift;
                let lsr = || if wide { regs.read32(reg(ns8250::LSR)) } else { u32::from(regs.read8(reg(ns8250::LSR))) };
                let ok = wait(|| lsr() & ns8250::LSR_THRE != 0);
                if ok {
                    if wide {
                        regs.write32(reg(ns8250::THR), u32::from(b));
                    } else {
                        regs.write8(reg(ns8250::THR), b);
                    }
                }
                ok
            }
            Kind::Xuartps => {
                let ok = wait(|| regs.read32(xuartps::SR) & xuartps::SR_TXFULL == 0);
                if ok {
                    regs.write32(xuartps::FIFO, u32::from(b));
                }
                ok
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A UART model: a status register reads "full" for `busy` polls, then
    /// "room"; every access is logged as (write?, width, offset, value).
    struct Fake {
        status_off: u64,
        room: u32,
        full: u32,
        busy: RefCell<u32>,
        log: RefCell<Vec<(bool, u8, u64, u32)>>,
    }

    impl Fake {
        fn new(status_off: u64, room: u32, full: u32, busy: u32) -> Self {
            Self { status_off, room, full, busy: RefCell::new(busy), log: RefCell::new(Vec::new()) }
        }
        fn status(&self, off: u64) -> u32 {
            if off != self.status_off {
                return 0xdead;
            }
            let mut b = self.busy.borrow_mut();
            if *b > 0 {
                *b -= 1;
                self.full
            } else {
                self.room
            }
        }
        fn writes(&self) -> Vec<(u8, u64, u32)> {
            self.log.borrow().iter().filter(|e| e.0).map(|e| (e.1, e.2, e.3)).collect()
        }
        fn reads(&self) -> Vec<(u8, u64)> {
            self.log.borrow().iter().filter(|e| !e.0).map(|e| (e.1, e.2)).collect()
        }
    }

    impl Regs for Fake {
        fn read8(&self, off: u64) -> u8 {
            self.log.borrow_mut().push((false, 8, off, 0));
            self.status(off) as u8
        }
        fn read32(&self, off: u64) -> u32 {
            self.log.borrow_mut().push((false, 32, off, 0));
            self.status(off)
        }
        fn write8(&self, off: u64, v: u8) {
            self.log.borrow_mut().push((true, 8, off, u32::from(v)));
        }
        fn write32(&self, off: u64, v: u32) {
            self.log.borrow_mut().push((true, 32, off, v));
        }
    }

    #[test]
    fn drivers_follow_the_configured_type_and_flags() {
        let mmio = con::MMIO;
        assert_eq!(kind(con::TYPE_PL011, mmio | con::REGDIST_4), Kind::Pl011);
        assert_eq!(kind(con::TYPE_8250, mmio), Kind::Ns8250 { shift: 0, wide: false });
        assert_eq!(kind(con::TYPE_8250, mmio | con::REGDIST_4), Kind::Ns8250 { shift: 2, wide: true });
        assert_eq!(kind(con::TYPE_XUARTPS, mmio), Kind::Xuartps);
        assert_eq!(kind(con::TYPE_8250, 0), Kind::None, "port I/O has no arm64 driver");
        assert_eq!(kind(con::TYPE_IMX, mmio), Kind::None);
        assert_eq!(kind(con::TYPE_NONE, 0), Kind::None);
    }

    #[test]
    fn pl011_waits_for_fifo_room_then_writes_dr() {
        let f = Fake::new(0x18, 0, 1 << 5, 3);
        assert!(Kind::Pl011.put(&f, b'A'));
        assert_eq!(f.reads(), vec![(32, 0x18); 4]);
        assert_eq!(f.writes(), vec![(32, 0x00, u32::from(b'A'))]);
    }

    #[test]
    fn ns8250_8bit_registers_one_byte_apart() {
        let f = Fake::new(5, 1 << 5, 0, 2);
        assert!(Kind::Ns8250 { shift: 0, wide: false }.put(&f, b'x'));
        assert_eq!(f.reads(), vec![(8, 5); 3]);
        assert_eq!(f.writes(), vec![(8, 0, u32::from(b'x'))]);
    }

    #[test]
    fn ns8250_regdist_4_uses_32bit_accesses_four_bytes_apart() {
        let f = Fake::new(0x14, 1 << 5, 0, 1);
        assert!(kind(con::TYPE_8250, con::MMIO | con::REGDIST_4).put(&f, b'y'));
        assert_eq!(f.reads(), vec![(32, 0x14); 2]);
        assert_eq!(f.writes(), vec![(32, 0, u32::from(b'y'))]);
    }

    #[test]
    fn xuartps_transmitter_enabled_at_init_only_when_off() {
        // After reset: TX disabled (CR 0x128 on the ZynqMP).
        let f = Fake::new(0x00, 0x128, 0x128, 0);
        Kind::Xuartps.enable(&f);
        assert_eq!(f.writes(), vec![(32, 0x00, 0x108 | (1 << 4))]);
        // Linux's console: TX enabled, nothing written.
        let f = Fake::new(0x00, 0x14, 0x14, 0);
        Kind::Xuartps.enable(&f);
        assert!(f.writes().is_empty());
        let f = Fake::new(0x00, 0, 0, 0);
        Kind::Pl011.enable(&f);
        assert!(f.writes().is_empty() && f.reads().is_empty());
    }

    #[test]
    fn xuartps_waits_on_txfull_then_writes_the_fifo() {
        let f = Fake::new(0x2c, 1 << 3, (1 << 4) | (1 << 3), 2);
        assert!(Kind::Xuartps.put(&f, b'z'));
        assert_eq!(f.reads(), vec![(32, 0x2c); 3]);
        assert_eq!(f.writes(), vec![(32, 0x30, u32::from(b'z'))]);
    }

    #[test]
    fn a_transmitter_that_never_drains_drops_the_byte() {
        let f = Fake::new(0x18, 0, 1 << 5, u32::MAX);
        assert!(!Kind::Pl011.put(&f, b'A'));
        assert!(f.writes().is_empty());
        assert_eq!(f.reads().len(), POLL_LIMIT as usize);
    }

    #[test]
    fn no_console_touches_nothing() {
        let f = Fake::new(0, 0, 0, 0);
        assert!(!Kind::None.put(&f, b'A'));
        assert!(f.log.borrow().is_empty());
    }
}

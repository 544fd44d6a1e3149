//! The root's configuration of one SPI, kept while a cell owns it so that
//! nothing a cell wrote (group, priority, trigger, routing) survives the
//! interrupt's return to the root.

/// An SPI's configuration as the distributor holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpiConfig {
    /// IGROUPR bit.
    pub group: bool,
    /// IGRPMODR bit.
    pub grpmod: bool,
    /// IPRIORITYR byte.
    pub prio: u8,
    /// ICFGR field (2 bits).
    pub cfg: u8,
    /// ISENABLER bit.
    pub enabled: bool,
    /// IROUTER.
    pub route: u64,
}

const VALID: u64 = 1 << 63;

impl SpiConfig {
    /// Packs everything but the route into one word; never 0.
    pub fn pack(&self) -> u64 {
        VALID
            | u64::from(self.group)
            | u64::from(self.grpmod) << 1
            | u64::from(self.enabled) << 2
            | u64::from(self.cfg & 3) << 4
            | u64::from(self.prio) << 8
    }

    /// The inverse of `pack`; `None` for "no snapshot".
    pub fn unpack(word: u64, route: u64) -> Option<Self> {
        (word & VALID != 0).then_some(Self {
            group: word & 1 != 0,
            grpmod: word & 2 != 0,
            enabled: word & 4 != 0,
            cfg: ((word >> 4) & 3) as u8,
            prio: (word >> 8) as u8,
            route,
        })
    }
}

/// Register offset and bit of a 1-bit-per-interrupt GICD register.
pub fn bit_reg(base: u64, irq: u32) -> (u64, u32) {
    (base + u64::from(irq / 32) * 4, 1 << (irq % 32))
}

/// Register offset and shift of the 2-bit ICFGR field of `irq`.
pub fn cfg_reg(irq: u32) -> (u64, u32) {
    (0x0c00 + u64::from(irq / 16) * 4, 2 * (irq % 16))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = SpiConfig { group: true, grpmod: false, prio: 0xa0, cfg: 2, enabled: true, route: 0x101 };
        assert_eq!(SpiConfig::unpack(c.pack(), 0x101), Some(c));
        let d = SpiConfig { group: false, grpmod: true, prio: 0, cfg: 0, enabled: false, route: 0 };
        assert_eq!(SpiConfig::unpack(d.pack(), 0), Some(d));
        assert_eq!(SpiConfig::unpack(0, 0), None);
    }

    #[test]
    fn register_positions() {
        assert_eq!(bit_reg(0x80, 33), (0x84, 1 << 1));
        assert_eq!(bit_reg(0x180, 144), (0x190, 1 << 16));
        assert_eq!(cfg_reg(144), (0xc24, 0));
        assert_eq!(cfg_reg(33), (0xc08, 2));
    }
}

//! GICv3 distributor (GICD) emulation policy: which part of a trapped
//! access a cell may perform, decided from the interrupts it owns.
//! Pure logic; the hypervisor performs the resulting action on the real
//! distributor.

/// What to do with a trapped GICD access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Reads return 0, writes are dropped.
    Hide,
    /// Read as is (writes dropped): identification and global registers.
    ReadOnly,
    /// Reads return this value, writes are dropped (RAO/WI bits).
    Const(u64),
    /// Set/clear registers: read `value & mask`, write `value & mask`.
    Masked(u64),
    /// Read `value & mask`; write only the bits in `mask`, keeping the
    /// others (read-modify-write under the distributor lock).
    Merge(u64),
    /// IPRIORITYR: as `Merge`, with the written priorities of a
    /// direct-mode cell clamped (`clamp_priorities`); reads as `Merge`.
    Priority(u64),
    /// IROUTER of `irq`: write only after checking the target CPU.
    Route(u32),
}

/// An access the architecture does not allow (size or alignment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadAccess;

const CTLR: u64 = 0x0000;
const TYPER: u64 = 0x0004;
const IIDR: u64 = 0x0008;
const TYPER2: u64 = 0x000c;
const IGROUPR: u64 = 0x0080;
const ISENABLER: u64 = 0x0100;
const ICACTIVER_END: u64 = 0x0400;
const IPRIORITYR: u64 = 0x0400;
const ITARGETSR: u64 = 0x0800;
const ICFGR: u64 = 0x0c00;
const IGRPMODR: u64 = 0x0d00;
const IROUTER: u64 = 0x6000;
const IROUTER_END: u64 = 0x7fe0;
const ID_REGS: u64 = 0xffd0;
/// Size of the GICD frame that is trapped.
pub const GICD_SIZE: u64 = 0x1_0000;

/// An IPRIORITYR write of `size` bytes (`v`) with every byte raised to at
/// least `min` (a numerically higher value is a lower priority): the
/// priorities of a direct-mode cell, kept below the hypervisor's.
pub fn clamp_priorities(v: u64, size: u8, min: u8) -> u64 {
    (0..u32::from(size.min(8))).fold(0, |acc, i| {
        let b = ((v >> (8 * i)) & 0xff) as u8;
        acc | u64::from(b.max(min)) << (8 * i)
    })
}

/// Builds a mask with `bits` bits per interrupt for the `n` interrupts
/// starting at `first`, set where `owns` says so.
fn mask(first: u32, n: u32, bits: u32, owns: &impl Fn(u32) -> bool) -> u64 {
    let field = if bits == 64 { u64::MAX } else { (1u64 << bits) - 1 };
    (0..n).filter(|i| owns(first + i)).fold(0, |m, i| m | field << (i * bits))
}

/// Classifies an access of `size` bytes at offset `off` of the GICD frame.
/// `owns(intid)` tells whether the accessing cell owns that SPI.
pub fn classify(off: u64, size: u8, owns: impl Fn(u32) -> bool) -> Result<Action, BadAccess> {
    // Power-of-two sizes up to 8 and natural alignment, checked with a
    // mask (no division on the trap path).
    if off >= GICD_SIZE || !size.is_power_of_two() || size > 8 || off & u64::from(size - 1) != 0 {
        return Err(BadAccess);
    }
    let bits_per_access = u32::from(size) * 8;
    let spi = |irq: u32| irq >= 32 && owns(irq);
    Ok(match off {
        CTLR | TYPER | IIDR | TYPER2 if size == 4 => Action::ReadOnly,
        ID_REGS.. if size == 4 => Action::ReadOnly,
        IGROUPR..ICACTIVER_END if size == 4 => {
            let reg = (off - IGROUPR) % 0x80;
            let first = (reg * 8) as u32;
            let m = mask(first, 32, 1, &spi);
            // Group: an owned SPI is group 1 and stays so (RAO/WI): a
            // group-0 interrupt is never acknowledged by the IRQ path.
            if off < ISENABLER { Action::Const(m) } else { Action::Masked(m) }
        }
        IPRIORITYR..ITARGETSR if size == 1 || size == 4 => {
            Action::Priority(mask((off - IPRIORITYR) as u32, bits_per_access / 8, 8, &spi))
        }
        ICFGR..IGRPMODR if size == 4 => Action::Merge(mask(((off - ICFGR) * 4) as u32, 16, 2, &spi)),
        // Group modifier: RAZ/WI (only the root's configuration counts).
        IROUTER..IROUTER_END if size == 8 || size == 4 => {
            let irq = ((off - IROUTER) / 8) as u32;
            if spi(irq) { Action::Route(irq) } else { Action::Hide }
        }
        _ if size == 4 || size == 8 => Action::Hide,
        _ => return Err(BadAccess),
    })
}

/// GICD_TYPER.MBIS: message-based SPIs (Linux's `mbi-ranges`).
pub const TYPER_MBIS: u64 = 1 << 16;
/// GICD_TYPER.LPIS: LPIs (an ITS a guest could drive).
pub const TYPER_LPIS: u64 = 1 << 17;

/// GICD_TYPER as a non-root cell sees it: no LPIs (the ITS is the
/// hypervisor's), MBIS where the cell's devices raise SPIs through it.
pub fn cell_typer(real: u64, mbi: bool) -> u64 {
    let v = real & !(TYPER_LPIS | TYPER_MBIS);
    if mbi { v | TYPER_MBIS } else { v }
}

/// Applies a write under `Merge`: the new register value.
pub fn merge(current: u64, written: u64, mask: u64) -> u64 {
    (current & !mask) | (written & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_typer_hides_lpis_and_shows_mbis() {
        let real = 0x0037_7f08 | TYPER_LPIS;
        assert_eq!(cell_typer(real, false) & (TYPER_LPIS | TYPER_MBIS), 0);
        assert_eq!(cell_typer(real, true) & (TYPER_LPIS | TYPER_MBIS), TYPER_MBIS);
        assert_eq!(cell_typer(real, true) & 0xffff, 0x7f08);
    }

    #[test]
    fn direct_priorities_never_outrank_the_minimum() {
        assert_eq!(clamp_priorities(0x00, 1, 0x10), 0x10);
        assert_eq!(clamp_priorities(0xa0, 1, 0x10), 0xa0);
        assert_eq!(clamp_priorities(0xa008_1000, 4, 0x10), 0xa010_1010);
        assert_eq!(clamp_priorities(0xffff_ffff, 4, 0x10), 0xffff_ffff);
        // Bytes beyond the access size are not produced.
        assert_eq!(clamp_priorities(0x0000_0000, 2, 0x10), 0x1010);
    }

    fn cell_owns_144(irq: u32) -> bool {
        irq == 144 || irq == 33
    }

    #[test]
    fn enable_bits_masked_to_owned_spis() {
        // ISENABLER4 covers 128..159: bit 16 is INTID 144.
        assert_eq!(classify(0x110, 4, cell_owns_144), Ok(Action::Masked(1 << 16)));
        // ICENABLER1 covers 32..63: INTID 33 is bit 1.
        assert_eq!(classify(0x184, 4, cell_owns_144), Ok(Action::Masked(1 << 1)));
        // SGIs/PPIs in GICD are never the cell's (ARE: they live in the GICR).
        assert_eq!(classify(0x100, 4, |_| true), Ok(Action::Masked(0)));
    }

    #[test]
    fn pending_and_active_registers() {
        assert_eq!(classify(0x210, 4, cell_owns_144), Ok(Action::Masked(1 << 16)));
        assert_eq!(classify(0x390, 4, cell_owns_144), Ok(Action::Masked(1 << 16)));
    }

    #[test]
    fn group_registers_are_rao_wi() {
        assert_eq!(classify(0x090, 4, cell_owns_144), Ok(Action::Const(1 << 16)));
        assert_eq!(classify(0xd10, 4, cell_owns_144), Ok(Action::Hide));
        assert_eq!(merge(0xffff_0000, 0x0001_0001, 1 << 16), 0xffff_0000);
        assert_eq!(merge(0x0, 0xffff_ffff, 1 << 16), 1 << 16);
    }

    #[test]
    fn priority_bytes() {
        assert_eq!(classify(0x400 + 144, 1, cell_owns_144), Ok(Action::Priority(0xff)));
        assert_eq!(classify(0x400 + 145, 1, cell_owns_144), Ok(Action::Priority(0)));
        assert_eq!(classify(0x400 + 144, 4, cell_owns_144), Ok(Action::Priority(0xff)));
        assert_eq!(classify(0x400 + 32, 4, cell_owns_144), Ok(Action::Priority(0xff00)), "INTID 33 is byte 1");
    }

    #[test]
    fn config_two_bits_per_irq() {
        // ICFGR9 covers 144..159: INTID 144 is bits 1:0.
        assert_eq!(classify(0xc24, 4, cell_owns_144), Ok(Action::Merge(0b11)));
    }

    #[test]
    fn routing_only_for_owned() {
        assert_eq!(classify(0x6000 + 8 * 144, 8, cell_owns_144), Ok(Action::Route(144)));
        assert_eq!(classify(0x6000 + 8 * 144 + 4, 4, cell_owns_144), Ok(Action::Route(144)));
        assert_eq!(classify(0x6000 + 8 * 145, 8, cell_owns_144), Ok(Action::Hide));
    }

    #[test]
    fn global_registers_read_only() {
        assert_eq!(classify(0, 4, cell_owns_144), Ok(Action::ReadOnly));
        assert_eq!(classify(4, 4, cell_owns_144), Ok(Action::ReadOnly));
        assert_eq!(classify(0xffe8, 4, cell_owns_144), Ok(Action::ReadOnly));
    }

    #[test]
    fn bad_sizes_and_alignment() {
        assert_eq!(classify(0x101, 4, cell_owns_144), Err(BadAccess));
        assert_eq!(classify(0x100, 1, cell_owns_144), Err(BadAccess));
        assert_eq!(classify(0x100, 3, cell_owns_144), Err(BadAccess));
        assert_eq!(classify(0x1_0000, 4, cell_owns_144), Err(BadAccess));
        assert_eq!(classify(0x110, 8, cell_owns_144), Ok(Action::Hide));
    }

    #[test]
    fn unknown_offsets_hidden() {
        assert_eq!(classify(0x3000, 4, cell_owns_144), Ok(Action::Hide));
        assert_eq!(classify(0x0f00, 4, cell_owns_144), Ok(Action::Hide));
    }
}

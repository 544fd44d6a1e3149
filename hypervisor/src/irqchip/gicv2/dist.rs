//! GICv2 distributor (GICD) emulation policy: which part of a trapped
//! access a cell may perform. Unlike GICv3 there is no redistributor: the
//! accessing CPU's banked interrupts (SGIs 0-15, PPIs 16-31) sit in GICD
//! too and are the cell's, except the hypervisor's own (management SGI,
//! maintenance PPI). SPIs are routed by ITARGETSR bytes (one bit per CPU
//! interface) and SGIs are sent by writing GICD_SGIR; both are filtered
//! to the CPU interfaces of the accessing cell's CPUs.

/// Size of the GICv2 distributor frame.
pub const GICD_SIZE: u64 = 0x1000;

const CTLR: u64 = 0x000;
const TYPER: u64 = 0x004;
const IIDR: u64 = 0x008;
const IGROUPR: u64 = 0x080;
const ISENABLER: u64 = 0x100;
const ICACTIVER_END: u64 = 0x400;
const IPRIORITYR: u64 = 0x400;
const ITARGETSR: u64 = 0x800;
/// ITARGETSR0-7: the banked interrupts' targets, read-only (the CPU's
/// own interface).
const ITARGETSR_BANKED_END: u64 = 0x820;
const ICFGR: u64 = 0xc00;
const ICFGR_END: u64 = 0xd00;
const SGIR: u64 = 0xf00;
const CPENDSGIR: u64 = 0xf10;
const SPENDSGIR_END: u64 = 0xf30;
const ID_REGS: u64 = 0xfd0;

/// What to do with a trapped GICv2 GICD access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Reads return 0, writes are dropped.
    Hide,
    /// Read as is, writes dropped.
    ReadOnly,
    /// Set/clear registers: read and write `value & mask`.
    Masked(u32),
    /// Read `value & mask`; write only the bits in `mask`, keeping the
    /// others (read-modify-write under the distributor lock).
    Merge(u32),
    /// ITARGETSR bytes of owned SPIs (`mask`: their bytes in the access):
    /// read as is; written through [`targets_merge`].
    Targets(u32),
    /// A GICD_SGIR write: emulated with [`sgir_targets`] (reads as 0).
    Sgir,
}

/// An access the architecture does not allow (size or alignment).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadAccess;

/// A mask with `bits` bits per interrupt for the `n` interrupts from
/// `first`, set where `mine` says so.
fn mask(first: u32, n: u32, bits: u32, mine: &impl Fn(u32) -> bool) -> u32 {
    let field = (1u32 << bits) - 1;
    (0..n).filter(|i| mine(first + i)).fold(0, |m, i| m | field << (i * bits))
}

/// Classifies an access of `size` bytes at `off` of the GICD frame.
/// `owns(spi)` says whether the cell owns that SPI (asked for 32 and up
/// only); `hv_private` has a bit for each banked interrupt (0-31) the
/// hypervisor keeps.
pub fn classify(off: u64, size: u8, owns: impl Fn(u32) -> bool, hv_private: u32) -> Result<Action, BadAccess> {
    if off >= GICD_SIZE || !matches!(size, 1 | 4) || off & u64::from(size - 1) != 0 {
        return Err(BadAccess);
    }
    let mine = |irq: u32| if irq < 32 { hv_private & (1 << irq) == 0 } else { owns(irq) };
    let spi = |irq: u32| irq >= 32 && owns(irq);
    let word = size == 4;
    Ok(match off {
        CTLR | TYPER | IIDR if word => Action::ReadOnly,
        ID_REGS.. if word => Action::ReadOnly,
        // Groups stay as the hypervisor set them: a cell moving an
        // interrupt to the other group could make it an FIQ at EL2.
        IGROUPR..ISENABLER if word => Action::Hide,
        ISENABLER..ICACTIVER_END if word => Action::Masked(mask((((off - ISENABLER) % 0x80) * 8) as u32, 32, 1, &mine)),
        IPRIORITYR..ITARGETSR => Action::Merge(mask((off - IPRIORITYR) as u32, u32::from(size), 8, &mine)),
        ITARGETSR..ITARGETSR_BANKED_END => Action::ReadOnly,
        ITARGETSR_BANKED_END..ICFGR => Action::Targets(mask((off - ITARGETSR) as u32, u32::from(size), 8, &spi)),
        // Trigger configuration of owned SPIs only (SGIs' are fixed, PPIs'
        // implementation defined).
        ICFGR..ICFGR_END if word => Action::Merge(mask(((off - ICFGR) * 4) as u32, 16, 2, &spi)),
        SGIR if word => Action::Sgir,
        // The cell's SGIs are virtual (list registers): nothing of theirs
        // is in the physical SGI pending state.
        CPENDSGIR..SPENDSGIR_END => Action::Hide,
        _ if word => Action::Hide,
        _ => return Err(BadAccess),
    })
}

/// Applies a write under `Merge` or `Masked`'s read-modify-write form.
pub fn merge(current: u32, written: u32, mask: u32) -> u32 {
    (current & !mask) | (written & mask)
}

/// An ITARGETSR write under `Targets(mask)`: each owned byte takes the
/// written CPU-interface bits limited to `cell_ifs` (the interfaces of
/// the cell's CPUs); a byte naming none of them keeps its routing (a cell
/// cannot send its interrupt to another cell's CPU, nor to nobody).
pub fn targets_merge(current: u32, written: u32, mask: u32, cell_ifs: u8) -> u32 {
    (0..4).fold(current, |acc, b| {
        let shift = b * 8;
        if (mask >> shift) & 0xff == 0 {
            return acc;
        }
        let new = ((written >> shift) as u8) & cell_ifs;
        if new == 0 { acc } else { (acc & !(0xff << shift)) | (u32::from(new) << shift) }
    })
}

/// A GICD_SGIR write decoded: the SGI and the CPU interfaces it goes to,
/// limited to `cell_ifs`; `me` is the sender's interface number (0-7).
/// TargetListFilter 0: the list; 1: all but the sender; 2: the sender
/// only; 3 (reserved): nobody.
pub fn sgir_targets(value: u32, me: u8, cell_ifs: u8) -> (u32, u8) {
    let sgi = value & 0xf;
    let self_bit = 1u8.checked_shl(u32::from(me)).unwrap_or(0);
    let targets = match (value >> 24) & 3 {
        0 => (value >> 16) as u8,
        1 => !self_bit,
        2 => self_bit,
        _ => 0,
    };
    (sgi, targets & cell_ifs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Management SGI 15 and maintenance PPI 25 are the hypervisor's.
    const HV: u32 = (1 << 15) | (1 << 25);

    fn owns(irq: u32) -> bool {
        irq == 33 || irq == 144
    }

    #[test]
    fn banked_interrupts_are_the_cpus_except_the_hypervisors() {
        assert_eq!(classify(0x100, 4, owns, HV), Ok(Action::Masked(!HV)));
        assert_eq!(classify(0x180, 4, owns, HV), Ok(Action::Masked(!HV)));
        assert_eq!(classify(0x380, 4, owns, HV), Ok(Action::Masked(!HV)));
        // IPRIORITYR3: SGIs 12-15, byte 3 is SGI 15.
        assert_eq!(classify(0x40c, 4, owns, HV), Ok(Action::Merge(0x00ff_ffff)));
        assert_eq!(classify(0x40f, 1, owns, HV), Ok(Action::Merge(0)));
        assert_eq!(classify(0x419, 1, owns, HV), Ok(Action::Merge(0)), "PPI 25");
        assert_eq!(classify(0x41b, 1, owns, HV), Ok(Action::Merge(0xff)), "PPI 27, the timer");
    }

    #[test]
    fn spis_only_where_owned() {
        // ISENABLER4: 128-159, INTID 144 is bit 16; ICENABLER1: 33 is bit 1.
        assert_eq!(classify(0x110, 4, owns, HV), Ok(Action::Masked(1 << 16)));
        assert_eq!(classify(0x184, 4, owns, HV), Ok(Action::Masked(1 << 1)));
        assert_eq!(classify(0x420, 4, owns, HV), Ok(Action::Merge(0xff00)), "IPRIORITYR8: 33 is byte 1");
        assert_eq!(classify(0xc24, 4, owns, HV), Ok(Action::Merge(0b11)), "ICFGR9: 144 in bits 1:0");
        assert_eq!(classify(0xc04, 4, owns, HV), Ok(Action::Merge(0)), "PPIs' configuration stays");
    }

    #[test]
    fn routing_by_itargetsr() {
        assert_eq!(classify(0x800 + 144, 1, owns, HV), Ok(Action::Targets(0xff)));
        assert_eq!(classify(0x800 + 145, 1, owns, HV), Ok(Action::Targets(0)));
        assert_eq!(classify(0x820, 4, owns, HV), Ok(Action::Targets(0xff00)), "ITARGETSR8: 33 is byte 1");
        assert_eq!(classify(0x800, 4, owns, HV), Ok(Action::ReadOnly), "banked: the CPU's own interface");
        assert_eq!(classify(0x81f, 1, owns, HV), Ok(Action::ReadOnly));
    }

    #[test]
    fn target_writes_stay_within_the_cell() {
        // Cell on interfaces 2 and 3; owned byte 1 only.
        assert_eq!(targets_merge(0x0101_0101, 0x0808_0808, 0xff00, 0b1100), 0x0101_0801);
        // Naming only foreign CPUs keeps the routing.
        assert_eq!(targets_merge(0x0000_0400, 0x0000_0300, 0xff00, 0b1100), 0x0000_0400);
        // Several of its own: all kept.
        assert_eq!(targets_merge(0, 0xffff_ffff, 0xffff_ffff, 0b1100), 0x0c0c_0c0c);
    }

    #[test]
    fn sgir_filters_targets_to_the_cell() {
        // List 0b1111, cell has interfaces 1 and 2.
        assert_eq!(sgir_targets((0b1111 << 16) | 3, 1, 0b0110), (3, 0b0110));
        assert_eq!(sgir_targets((1 << 24) | 5, 1, 0b0110), (5, 0b0100), "all but self");
        assert_eq!(sgir_targets((2 << 24) | 0xf, 1, 0b0110), (15, 0b0010), "self");
        assert_eq!(sgir_targets((3 << 24) | 1, 1, 0b0110), (1, 0), "reserved filter");
        assert_eq!(sgir_targets(0b1000_0000 << 16, 1, 0b0110), (0, 0), "a foreign CPU only");
        assert_eq!(sgir_targets(1 << 24, 9, 0xff), (0, 0xff), "no interface 9: nobody is 'self'");
    }

    #[test]
    fn sgir_and_sgi_pending_registers() {
        assert_eq!(classify(0xf00, 4, owns, HV), Ok(Action::Sgir));
        assert_eq!(classify(0xf00, 1, owns, HV), Err(BadAccess));
        assert_eq!(classify(0xf10, 4, owns, HV), Ok(Action::Hide));
        assert_eq!(classify(0xf2f, 1, owns, HV), Ok(Action::Hide));
    }

    #[test]
    fn groups_global_and_bad_accesses() {
        assert_eq!(classify(0x080, 4, |_| true, HV), Ok(Action::Hide));
        assert_eq!(classify(0x000, 4, owns, HV), Ok(Action::ReadOnly));
        assert_eq!(classify(0xfe8, 4, owns, HV), Ok(Action::ReadOnly));
        assert_eq!(classify(0x101, 4, owns, HV), Err(BadAccess));
        assert_eq!(classify(0x100, 1, owns, HV), Err(BadAccess));
        assert_eq!(classify(0x100, 8, owns, HV), Err(BadAccess), "no 64-bit accesses on GICv2");
        assert_eq!(classify(0x1000, 4, owns, HV), Err(BadAccess));
        assert_eq!(classify(0xe00, 4, owns, HV), Ok(Action::Hide));
        assert_eq!(merge(0xffff_0000, 0x0001_0001, 1 << 16), 0xffff_0000);
    }
}

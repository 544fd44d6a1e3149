//! GICv3 redistributor (GICR) emulation policy: a cell reaches only the
//! frames of its own CPUs, cannot touch the hypervisor's management SGI
//! nor the maintenance interrupt, cannot move anything to group 0 (which
//! the EL2 interrupt path would only see as an FIQ), and sees the Last bit
//! on its own last CPU's frame.

use super::dist::{Action, BadAccess};

/// Bytes of one CPU's redistributor (RD_base + SGI_base).
pub const FRAME_SIZE: u64 = 0x2_0000;
/// The SGI the hypervisor uses to reach a CPU running a cell.
pub const MGMT_SGI: u32 = 15;
/// The GIC's maintenance interrupt (PPI), also the hypervisor's.
pub const MAINTENANCE_IRQ: u32 = 25;
/// The banked interrupts the hypervisor keeps for itself.
pub const HV_PRIVATE: u64 = (1 << MGMT_SGI) | (1 << MAINTENANCE_IRQ);

const TYPER: u64 = 0x0008;
const SGI_BASE: u64 = 0x1_0000;
const ID_REGS: u64 = 0xffd0;
const TYPER_LAST: u64 = 1 << 4;

/// What to do with a GICR access, with the Last-bit fix-up for TYPER.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RAction {
    /// One of the distributor-style actions.
    Plain(Action),
    /// TYPER read (writes dropped); `last` is the value of the Last bit
    /// this cell must see.
    Typer { last: bool },
}

/// Classifies an access at `off` within one CPU's frame. `own` says the
/// frame belongs to a CPU of the accessing cell; `last` that it is the
/// last such frame.
pub fn classify(off: u64, size: u8, own: bool, last: bool) -> Result<RAction, BadAccess> {
    if off >= FRAME_SIZE || !matches!(size, 1 | 4 | 8) || off & u64::from(size - 1) != 0 {
        return Err(BadAccess);
    }
    let not_mgmt = !HV_PRIVATE & 0xffff_ffff;
    let plain = |a| Ok(RAction::Plain(a));
    match off {
        TYPER | 0x000c if size != 1 => Ok(RAction::Typer { last }),
        ID_REGS.. if off < SGI_BASE && size == 4 => plain(Action::ReadOnly),
        _ if !own => if size == 1 { Err(BadAccess) } else { plain(Action::Hide) },
        0x0000 | 0x0004 | 0x0014 if size == 4 => plain(Action::ReadOnly),
        // Group: every banked interrupt is group 1 (reset_cpu), RAO/WI.
        0x1_0080 if size == 4 => plain(Action::Const(0xffff_ffff)),
        // Group modifier: RAZ/WI, as for a non-secure access with DS=0.
        0x1_0d00 if size == 4 => plain(Action::Hide),
        0x1_0100 | 0x1_0180 | 0x1_0200 | 0x1_0280 | 0x1_0300 | 0x1_0380 if size == 4 => {
            plain(Action::Masked(not_mgmt))
        }
        0x1_0400..0x1_0420 => {
            let first = (off - 0x1_0400) as u32;
            let n = u32::from(size);
            if size == 8 {
                return Err(BadAccess);
            }
            let m = (0..n).filter(|i| HV_PRIVATE & (1 << (first + i)) == 0).fold(0u64, |m, i| m | 0xff << (8 * i));
            plain(Action::Priority(m))
        }
        0x1_0c04 if size == 4 => plain(Action::Merge(!(0b11u64 << (2 * (MAINTENANCE_IRQ - 16))) & 0xffff_ffff)),
        0x1_0c00 if size == 4 => plain(Action::ReadOnly),
        _ if size == 1 => Err(BadAccess),
        _ => plain(Action::Hide),
    }
}

/// TYPER as the cell sees it.
pub fn fix_typer(real: u64, last: bool) -> u64 {
    if last { real | TYPER_LAST } else { real & !TYPER_LAST }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_frame_protects_the_management_sgi() {
        let a = classify(0x1_0180, 4, true, true).unwrap();
        assert_eq!(a, RAction::Plain(Action::Masked(0xfdff_7fff)));
        let p = classify(0x1_040c, 4, true, true).unwrap();
        assert_eq!(p, RAction::Plain(Action::Priority(0x00ff_ffff)), "byte 3 of IPRIORITYR3 is SGI 15");
        assert_eq!(classify(0x1_040f, 1, true, true).unwrap(), RAction::Plain(Action::Priority(0)));
        assert_eq!(classify(0x1_041b, 1, true, true).unwrap(), RAction::Plain(Action::Priority(0xff)), "PPI 27");
    }

    #[test]
    fn maintenance_ppi_is_protected_like_the_management_sgi() {
        for off in [0x1_0100, 0x1_0180, 0x1_0200, 0x1_0280, 0x1_0300, 0x1_0380] {
            let RAction::Plain(Action::Masked(m)) = classify(off, 4, true, true).unwrap() else { panic!("{off:#x}") };
            assert_eq!(m & (1 << 25), 0, "{off:#x}");
            assert_eq!(m & (1 << 15), 0, "{off:#x}");
            assert_eq!(m & (1 << 27), 1 << 27, "{off:#x}: the timer PPI stays the cell's");
        }
        assert_eq!(classify(0x1_0418, 4, true, true).unwrap(), RAction::Plain(Action::Priority(0xffff_00ff)), "byte 1 is PPI 25");
        assert_eq!(classify(0x1_0419, 1, true, true).unwrap(), RAction::Plain(Action::Priority(0)));
        assert_eq!(classify(0x1_0c04, 4, true, true).unwrap(), RAction::Plain(Action::Merge(0xfff3_ffff)));
    }

    #[test]
    fn no_group_0_for_a_cell() {
        assert_eq!(classify(0x1_0080, 4, true, true).unwrap(), RAction::Plain(Action::Const(0xffff_ffff)));
        assert_eq!(classify(0x1_0d00, 4, true, true).unwrap(), RAction::Plain(Action::Hide));
    }

    #[test]
    fn foreign_frames_show_only_identity() {
        assert_eq!(classify(0x1_0100, 4, false, false).unwrap(), RAction::Plain(Action::Hide));
        assert_eq!(classify(0x0014, 4, false, false).unwrap(), RAction::Plain(Action::Hide));
        assert_eq!(classify(0xffe8, 4, false, false).unwrap(), RAction::Plain(Action::ReadOnly));
        assert_eq!(classify(0x0008, 8, false, false).unwrap(), RAction::Typer { last: false });
    }

    #[test]
    fn waker_and_lpi_registers_are_not_writable() {
        assert_eq!(classify(0x0014, 4, true, false).unwrap(), RAction::Plain(Action::ReadOnly));
        assert_eq!(classify(0x0070, 8, true, false).unwrap(), RAction::Plain(Action::Hide));
    }

    #[test]
    fn last_bit_follows_the_cells_view() {
        assert_eq!(fix_typer(0x0100_0000_0000_0010, false), 0x0100_0000_0000_0000);
        assert_eq!(fix_typer(0x0100_0000_0000_0000, true), 0x0100_0000_0000_0010);
    }

    #[test]
    fn bad_accesses() {
        assert!(classify(0x1_0101, 4, true, true).is_err());
        assert!(classify(0x2_0000, 4, true, true).is_err());
        assert!(classify(0x1_0100, 2, true, true).is_err());
    }
}

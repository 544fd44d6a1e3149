//! Reflecting an abort into the guest's own EL1: the guest sees a
//! synchronous external abort at its VBAR_EL1, as on hardware where the
//! address decodes to nothing.

use super::{read_sysreg, write_sysreg};
use crate::trap::TrapFrame;

/// DFSC/IFSC: synchronous external abort, not on a table walk.
const FSC_SEA: u64 = 0x10;
const IL: u64 = 1 << 25;
const WNR: u64 = 1 << 6;
/// SPSR.M[3:0] of EL1 using SP_EL1, and of EL0.
const M_EL1H: u64 = 0b0101;
const M_EL0: u64 = 0b0000;

/// Makes the trapped instruction in `frame` take a synchronous external
/// abort at EL1: `instruction` for a fetch (else a data access, `write`
/// telling its direction), `far` the faulting virtual address.
pub fn inject_external_abort(frame: &mut TrapFrame, instruction: bool, write: bool, far: u64) {
    let from_el0 = frame.spsr & 0xf == M_EL0;
    // EC: 0x20/0x21 instruction abort from a lower/the same EL, 0x24/0x25 data.
    let ec: u64 = match (instruction, from_el0) {
        (true, true) => 0x20,
        (true, false) => 0x21,
        (false, true) => 0x24,
        (false, false) => 0x25,
    };
    let mut esr = (ec << 26) | IL | FSC_SEA;
    if !instruction && write {
        esr |= WNR;
    }
    // Vector offsets: current EL with SP0 0x000, with SPx 0x200, lower EL
    // (AArch64) 0x400; synchronous is the first entry of each group.
    let offset = match frame.spsr & 0xf {
        M_EL0 => 0x400,
        M_EL1H => 0x200,
        _ => 0x000,
    };
    write_sysreg!(esr_el1, esr);
    write_sysreg!(far_el1, far);
    write_sysreg!(elr_el1, frame.elr);
    write_sysreg!(spsr_el1, frame.spsr);
    frame.elr = read_sysreg!(vbar_el1) + offset;
    // EL1h with D, A, I, F masked, as the architecture enters an exception.
    frame.spsr = 0x3c5;
}

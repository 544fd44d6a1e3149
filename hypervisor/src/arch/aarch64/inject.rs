//! Reflecting an abort into the guest's own EL1: the guest sees a
//! synchronous external abort at its VBAR_EL1, as on hardware where the
//! address decodes to nothing.

use super::regval;
use crate::trap::TrapFrame;
use aarch64_cpu::registers::*;

/// VBAR_EL1 offsets of the synchronous vector for an exception from the
/// current EL with SP_EL0, the current EL with SP_ELx, and a lower EL in
/// AArch64 (the first entry of each group of four).
const VECTOR_CURRENT_SP0: u64 = 0x000;
const VECTOR_CURRENT_SPX: u64 = 0x200;
const VECTOR_LOWER_A64: u64 = 0x400;

/// Makes the trapped instruction in `frame` take a synchronous external
/// abort at EL1: `instruction` for a fetch (else a data access, `write`
/// telling its direction), `far` the faulting virtual address.
pub fn inject_external_abort(frame: &mut TrapFrame, instruction: bool, write: bool, far: u64) {
    let mode = SPSR_EL2::M.read_as_enum(frame.spsr);
    let from_el0 = mode == Some(SPSR_EL2::M::Value::EL0t);
    let offset = match mode {
        Some(SPSR_EL2::M::Value::EL0t) => VECTOR_LOWER_A64,
        Some(SPSR_EL2::M::Value::EL1h) => VECTOR_CURRENT_SPX,
        _ => VECTOR_CURRENT_SP0,
    };
    ESR_EL1.set(regval::external_abort_esr(instruction, from_el0, write));
    FAR_EL1.set(far);
    ELR_EL1.set(frame.elr);
    SPSR_EL1.set(frame.spsr);
    frame.elr = VBAR_EL1.get() + offset;
    // EL1h with D, A, I, F masked, as the architecture enters an exception.
    frame.spsr = regval::SPSR_EL1H_MASKED;
}

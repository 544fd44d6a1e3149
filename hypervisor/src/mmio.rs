//! Trapped guest accesses to device addresses. Emulated devices register
//! here (the virtual GIC will); nothing else is reachable.

use crate::trap::esr::DataAbort;
use crate::trap::TrapFrame;

/// Handles a stage-2 data abort; false when nothing claims the address
/// (the caller reports it and parks the CPU).
pub fn handle(_frame: &mut TrapFrame, da: &DataAbort, _ipa: u64) -> bool {
    if !da.isv {
        return false;
    }
    false
}

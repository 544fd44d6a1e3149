//! Trapped guest accesses to device addresses: decode the load or store,
//! let the emulated device (the GIC) answer, write back, skip the insn.

use crate::percpu::{this_cpu, Stat};
use crate::trap::esr::DataAbort;
use crate::trap::TrapFrame;

/// Handles a stage-2 data abort; false when nothing claims the address or
/// the access is malformed (the caller reports it and parks the CPU).
pub fn handle(frame: &mut TrapFrame, da: &DataAbort, ipa: u64) -> bool {
    if !da.isv {
        return false;
    }
    let write = da.write.then(|| {
        let v = frame.reg(da.reg);
        if da.size == 8 { v } else { v & ((1u64 << (u32::from(da.size) * 8)) - 1) }
    });
    match crate::gic::mmio(ipa, da.size, write) {
        Some(Ok(value)) => {
            if !da.write {
                frame.set_reg(da.reg, da.extend(value));
            }
            frame.elr += 4;
            this_cpu().count(Stat::Mmio);
            true
        }
        _ => false,
    }
}

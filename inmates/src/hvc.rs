//! The Jailhouse hypercall instruction (`hvc #0x4a48`, contracts.md).
use core::arch::asm;

/// Issues hypercall `code` with two arguments; returns x0 (negative errno on
/// failure).
pub fn hvc(code: u64, arg1: u64, arg2: u64) -> i64 {
    let ret: u64;
    // SAFETY: the hypervisor's hypercall ABI reads x0..x2 and writes only x0;
    // no memory of this program is touched.
    unsafe {
        asm!("hvc #0x4a48", inout("x0") code => ret, in("x1") arg1, in("x2") arg2, options(nostack));
    }
    ret as i64
}

use crate::hypercall::*;

/// HYPERVISOR_GET_INFO of `kind` (`INFO_*`).
pub fn hypervisor_info(kind: u64) -> i64 {
    hvc(HC_HYPERVISOR_GET_INFO, kind, 0)
}

/// CPU_GET_INFO: `CPU_INFO_STATE` or `CPU_STAT_BASE + n`.
pub fn cpu_info(cpu: u64, kind: u64) -> i64 {
    hvc(HC_CPU_GET_INFO, cpu, kind)
}

/// CELL_CREATE from a config at guest-physical `config_addr` (root only);
/// returns the new cell id or a negative errno.
pub fn cell_create(config_addr: u64) -> i64 {
    hvc(HC_CELL_CREATE, config_addr, 0)
}

/// CELL_SET_LOADABLE (root only): the cell's LOADABLE regions appear in the
/// root at their physical addresses until CELL_START.
pub fn cell_set_loadable(id: u64) -> i64 {
    hvc(HC_CELL_SET_LOADABLE, id, 0)
}

pub fn cell_start(id: u64) -> i64 {
    hvc(HC_CELL_START, id, 0)
}

pub fn cell_destroy(id: u64) -> i64 {
    hvc(HC_CELL_DESTROY, id, 0)
}

/// sysHyper extension 0x101: CELL_DESTROY without asking the cell first
/// (docs/lifecycle.md), as `syshyper cell destroy --force`.
pub fn cell_destroy_forced(id: u64) -> i64 {
    hvc(0x101, id, HC_CELL_DESTROY)
}

/// CELL_GET_STATE: `CELL_*` or a negative errno.
pub fn cell_state(id: u64) -> i64 {
    hvc(HC_CELL_GET_STATE, id, 0)
}

//! Jailhouse hypercalls (`hvc #0x4a48`: code in x0, arguments in x1, x2).

// Guest, root or configuration values flow through here: no silent
// overflow (wrapping only where an invariant is argued).
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use crate::cell::CELLS;
use crate::errno::*;
use crate::percpu::{percpu, this_cpu, CpuState, NUM_STATS};
use crate::sysconfig::cell_flags;
use crate::trap::TrapFrame;
use core::sync::atomic::Ordering;

/// Hypercall codes.
pub mod code {
    pub const DISABLE: u64 = 0;
    pub const CELL_CREATE: u64 = 1;
    pub const CELL_START: u64 = 2;
    pub const CELL_SET_LOADABLE: u64 = 3;
    pub const CELL_DESTROY: u64 = 4;
    pub const HYPERVISOR_GET_INFO: u64 = 5;
    pub const CELL_GET_STATE: u64 = 6;
    pub const CPU_GET_INFO: u64 = 7;
    pub const DEBUG_CONSOLE_PUTC: u64 = 8;
    /// sysHyper extension: a cell's CPUs and name (see `cell::manage::cell_info`).
    pub const SYSHYPER_CELL_GET_INFO: u64 = 0x100;
    /// sysHyper extension: CELL_CREATE/START/SET_LOADABLE/DESTROY (code in
    /// x2, its argument in x1) without asking the cells (`cell::shutdown`).
    pub const SYSHYPER_CELL_FORCED: u64 = 0x101;
    /// sysHyper extension: how often a cell was restarted.
    pub const SYSHYPER_CELL_RESTARTS: u64 = 0x102;
    /// sysHyper extension: a failed CPU's post-mortem record (`crate::trace`).
    pub const SYSHYPER_CPU_RECORD: u64 = 0x103;
    /// sysHyper extension: a CPU's latency histograms (`crate::trace`).
    pub const SYSHYPER_CPU_LATENCY: u64 = 0x104;
}

/// Hypercalls that only read statistics or traces: not counted as exits
/// nor timed, so reading never changes what is read (issue 19).
pub fn is_statistics_read(code: u64) -> bool {
    matches!(code, code::CPU_GET_INFO | code::SYSHYPER_CPU_RECORD | code::SYSHYPER_CPU_LATENCY)
}

/// Dispatches one hypercall; returns the value for x0.
pub fn handle(frame: &mut TrapFrame) -> i64 {
    use crate::cell::manage::{self, RootCaller};
    let (c, a1, a2) = (frame.x[0], frame.x[1], frame.x[2]);
    // Root-only calls get their proof here, from the one check of the
    // calling CPU's cell; without it they are not reachable.
    let root = || RootCaller::check().ok_or(crate::error::Error::NotPermitted.errno());
    let as_root = |f: &dyn Fn(RootCaller) -> i64| root().map_or_else(|e| e, f);
    // SMMU events are drained here (see `iommu`): every hypercall but the
    // console's and the statistics reads, which must stay cheap. Without
    // a unit this is one atomic load.
    if c != code::DEBUG_CONSOLE_PUTC && !is_statistics_read(c) {
        crate::iommu::poll();
    }
    match c {
        code::DISABLE => match RootCaller::check() {
            Some(r) => crate::disable::disable(r, frame),
            None => crate::error::Error::NotPermitted.errno(),
        },
        code::CELL_CREATE => as_root(&|r| manage::create(r, a1, false)),
        code::CELL_START => as_root(&|r| manage::start(&r, a1, false)),
        code::CELL_SET_LOADABLE => as_root(&|r| manage::set_loadable(r, a1, false)),
        code::CELL_DESTROY => as_root(&|r| manage::destroy(r, a1, false)),
        code::SYSHYPER_CELL_FORCED => as_root(&|r| match a2 {
            code::CELL_CREATE => manage::create(r, a1, true),
            code::CELL_START => manage::start(&r, a1, true),
            code::CELL_SET_LOADABLE => manage::set_loadable(r, a1, true),
            code::CELL_DESTROY => manage::destroy(r, a1, true),
            _ => -EINVAL,
        }),
        code::SYSHYPER_CELL_RESTARTS => as_root(&|r| crate::cell::shutdown::restarts(r, a1)),
        code::CELL_GET_STATE => as_root(&|r| manage::get_state(r, a1)),
        code::HYPERVISOR_GET_INFO => get_info(a1),
        code::SYSHYPER_CELL_GET_INFO => as_root(&|r| manage::cell_info(r, a1, a2)),
        code::CPU_GET_INFO => cpu_get_info(a1, a2),
        code::SYSHYPER_CPU_RECORD => as_root(&|_| crate::trace::read::record(a1, a2)),
        code::SYSHYPER_CPU_LATENCY => as_root(&|_| crate::trace::read::latency(a1, a2)),
        code::DEBUG_CONSOLE_PUTC => putc(a1),
        _ => -ENOSYS,
    }
}

fn this_cell_id() -> u32 {
    this_cpu().cell.load(Ordering::Relaxed)
}

fn get_info(kind: u64) -> i64 {
    let (total, used) = crate::hv::pool_usage();
    match kind {
        0 => total as i64,
        1 => used as i64,
        2 | 3 => 0,
        4 => CELLS.lock().len() as i64,
        _ => -EINVAL,
    }
}

fn cpu_get_info(cpu: u64, kind: u64) -> i64 {
    let Some(pc) = usize::try_from(cpu).ok().and_then(percpu) else {
        return -EINVAL;
    };
    if !pc.present.load(Ordering::Acquire) {
        return -EINVAL;
    }
    let caller = this_cell_id();
    if caller != 0 && pc.cell.load(Ordering::Relaxed) != caller {
        return -EPERM;
    }
    match kind {
        0 => match pc.state() {
            CpuState::Failed => 2,
            _ => 0,
        },
        // Root only: the depth reached may come from a previous owner.
        crate::stack::CPU_INFO_STACK_USED if caller == 0 => {
            let hv = crate::hv::get().map(|h| h.layout);
            hv.map_or(-EINVAL, |l| crate::stack::used(&l, crate::hv::VIRT_BASE, cpu) as i64)
        }
        k if (1000..1000u64.saturating_add(NUM_STATS as u64)).contains(&k) => {
            pc.stat(k.wrapping_sub(1000) as usize).map_or(-EINVAL, |v| (v & i64::MAX as u64) as i64)
        }
        _ => -EINVAL,
    }
}

fn putc(c: u64) -> i64 {
    let id = this_cell_id();
    let permitted = CELLS
        .lock()
        .iter()
        .find(|cell| cell.id == id)
        .is_some_and(|cell| cell.flags & cell_flags::VCONSOLE_PERMITTED != 0);
    if !permitted {
        return -EPERM;
    }
    crate::console::putc(c as u8);
    0
}

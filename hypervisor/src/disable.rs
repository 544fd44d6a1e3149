//! HC_DISABLE: hand EL2 back to Linux's hyp stub, one root CPU at a time.

use crate::cell::CELLS;
use crate::errno::*;
use crate::percpu::{percpu, CpuState};
use crate::trap::TrapFrame;
use core::sync::atomic::{AtomicBool, Ordering};

/// Set by the first CPU that passed the checks; the others follow it.
static DISABLING: AtomicBool = AtomicBool::new(false);

/// Leaves the hypervisor on this CPU (never returns) or returns an error.
pub fn disable(_root: crate::cell::manage::RootCaller, frame: &mut TrapFrame) -> i64 {
    let Some(hv) = crate::hv::get() else { return -EINVAL };
    if hv.boot_first {
        // Started before Linux: there is no hyp stub to return to.
        return -EPERM;
    }
    if !DISABLING.load(Ordering::Acquire) {
        if let Err(e) = check() {
            return e;
        }
        // The root's ivshmem functions go (no other cell is left to tell)
        // before any other root CPU can follow this one into `hand_back`
        // through DISABLING: no ring of the root's own can post to a CPU
        // after that CPU cleared its queue and SGI 15.
        crate::ivshmem::retire_root();
        // The SMMU back to how the hypervisor found it (translation
        // off): Linux, which never drove it, gets the DMA it had before.
        crate::iommu::shutdown();
        // The ITS stops translating (every cell is gone, so no device is
        // mapped any more).
        crate::irqchip::gicv3::its::shutdown();
        DISABLING.store(true, Ordering::Release);
    }
    // How deep this CPU's EL2 stack went since the enable (the per-CPU
    // area is sized from it: crate::stack).
    let cpu = crate::percpu::this_cpu_id();
    let (low, top) = crate::stack::bounds(&hv.layout, crate::hv::VIRT_BASE, u64::from(cpu));
    log::info!(
        "CPU {cpu}: EL2 stack high-water {} of {} bytes",
        crate::stack::used(&hv.layout, crate::hv::VIRT_BASE, u64::from(cpu)),
        top.saturating_sub(low)
    );
    crate::irqchip::hand_back();
    frame.x[0] = 0;
    let stub = crate::init::stub_vectors();
    crate::arch::leave_to_stub(frame, stub, hv.phys_virt_offset())
}

fn check() -> Result<(), i64> {
    let cells = CELLS.lock();
    if cells.len() > 1 {
        return Err(-EBUSY);
    }
    let root_cpus = cells.first().map_or(0, |c| c.cpus);
    drop(cells);
    let all_running = (0..64)
        .filter(|c| root_cpus & (1 << c) != 0)
        .filter_map(percpu)
        .all(|p| p.state() == CpuState::Running || p.state() == CpuState::Off && !p.present.load(Ordering::Acquire));
    if all_running { Ok(()) } else { Err(-EBUSY) }
}

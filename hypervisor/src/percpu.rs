//! Per-CPU state, at the start of each CPU's per-CPU area (the stack fills
//! the rest, growing down from the area's end, trap frame on top).
//! Other CPUs read and update it, so every field is atomic.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Per-CPU statistics, in Jailhouse's order (CPU_GET_INFO 1000 + n).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(usize)]
pub enum Stat {
    Total = 0,
    Mmio = 1,
    Management = 2,
    Hypercall = 3,
    Maintenance = 4,
    Virq = 5,
    Vsgi = 6,
    Psci = 7,
    Smccc = 8,
}
/// Number of statistics.
pub const NUM_STATS: usize = 9;

/// What a CPU is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum CpuState {
    /// Runs its cell's code.
    Running = 0,
    /// Parked in EL2, off from its cell's view (PSCI CPU_OFF or not started).
    Off = 1,
    /// Parked after an unhandled trap or fault.
    Failed = 2,
    /// Parked, asked to start at `entry` (PSCI CPU_ON or cell start); the
    /// CPU moves itself to Running, or a manager cancels back to Off.
    Starting = 3,
    /// Off, and being handed to a new cell by a create in progress: PSCI
    /// CPU_ON of the old owner cannot start it in the meantime.
    Claimed = 4,
}

/// The per-CPU data block.
#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    pub cpu_id: AtomicU32,
    pub cell: AtomicU32,
    pub state: AtomicU32,
    pub mpidr: AtomicU64,
    pub entry: AtomicU64,
    pub context: AtomicU64,
    pub stats: [AtomicU64; NUM_STATS],
    pub present: AtomicBool,
    /// Asked to stop running its cell and park (cell shutdown/destroy).
    pub park_request: AtomicBool,
    /// Index of this CPU's redistributor frame.
    pub gicr_frame: AtomicU32,
    /// Virtual SGIs sent to this CPU by other CPUs of its cell.
    pub vsgi_pending: AtomicU32,
    /// Interrupts waiting for a free list register.
    pub irq_pending: [AtomicU32; 32],
    /// Linux's physical GIC CPU interface state at enable (PMR, IGRPEN1, CTLR).
    pub linux_gic: [AtomicU64; 3],
}

impl PerCpu {
    /// Sets every field for a CPU that has just arrived.
    pub fn init(&self, cpu: u32, mpidr: u64, cell: u32) {
        self.cpu_id.store(cpu, Ordering::Relaxed);
        self.cell.store(cell, Ordering::Relaxed);
        self.state.store(CpuState::Off as u32, Ordering::Relaxed);
        self.mpidr.store(mpidr, Ordering::Relaxed);
        self.entry.store(0, Ordering::Relaxed);
        self.context.store(0, Ordering::Relaxed);
        for s in &self.stats {
            s.store(0, Ordering::Relaxed);
        }
        self.park_request.store(false, Ordering::Relaxed);
        self.gicr_frame.store(u32::MAX, Ordering::Relaxed);
        self.vsgi_pending.store(0, Ordering::Relaxed);
        for p in &self.irq_pending {
            p.store(0, Ordering::Relaxed);
        }
        self.present.store(true, Ordering::Release);
    }

    /// Counts one event. Only the CPU itself counts, so a plain load and
    /// store suffice (other CPUs only read).
    pub fn count(&self, stat: Stat) {
        if let Some(s) = self.stats.get(stat as usize) {
            s.store(s.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        }
    }

    /// A statistic's value.
    pub fn stat(&self, n: usize) -> Option<u64> {
        self.stats.get(n).map(|s| s.load(Ordering::Relaxed))
    }

    /// Current state.
    pub fn state(&self) -> CpuState {
        match self.state.load(Ordering::Acquire) {
            0 => CpuState::Running,
            2 => CpuState::Failed,
            3 => CpuState::Starting,
            4 => CpuState::Claimed,
            _ => CpuState::Off,
        }
    }

    /// Sets the state.
    pub fn set_state(&self, s: CpuState) {
        self.state.store(s as u32, Ordering::Release);
    }

    fn transition(&self, from: CpuState, to: CpuState) -> bool {
        self.state.compare_exchange(from as u32, to as u32, Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// Asks this CPU, if it is off, to start at `entry` with x0 = `context`.
    /// False if it is not off (running, failed or already starting).
    pub fn request_start(&self, entry: u64, context: u64) -> bool {
        // Only the management path or PSCI of the CPU's own cell call this,
        // and only for an Off CPU, so the fields are not in use.
        self.entry.store(entry, Ordering::Relaxed);
        self.context.store(context, Ordering::Relaxed);
        self.transition(CpuState::Off, CpuState::Starting)
    }

    /// Called by the parked CPU itself: takes a pending start request and
    /// is Running from that instant (so a manager parking its cell waits).
    pub fn take_start(&self) -> Option<(u64, u64)> {
        if self.transition(CpuState::Starting, CpuState::Running) {
            Some((self.entry.load(Ordering::Relaxed), self.context.load(Ordering::Relaxed)))
        } else {
            None
        }
    }

    /// Takes an Off CPU for a cell being created (false if it is not Off).
    /// The compare-and-swap closes the window in which the root's PSCI
    /// CPU_ON, which takes no lock, could start the CPU between the
    /// create's check and its hand-over.
    pub fn claim(&self) -> bool {
        self.transition(CpuState::Off, CpuState::Claimed)
    }

    /// Gives a claimed CPU back as Off (create failed, or done: the CPU is
    /// then Off in its new cell).
    pub fn release_claim(&self) {
        self.transition(CpuState::Claimed, CpuState::Off);
    }

    /// Clears the VM-exit statistics (Jailhouse does on cell create and
    /// destroy, so a cell's figures never include another cell's exits).
    pub fn clear_stats(&self) {
        for s in &self.stats {
            s.store(0, Ordering::Relaxed);
        }
    }

    /// Withdraws a start request that the CPU has not taken yet.
    pub fn cancel_start(&self) {
        self.transition(CpuState::Starting, CpuState::Off);
    }
}

#[cfg(target_os = "none")]
mod target {
    use super::PerCpu;
    use crate::hv;

    /// The per-CPU block of `cpu`, if that CPU exists in this configuration.
    pub fn percpu(cpu: usize) -> Option<&'static PerCpu> {
        let hv = hv::get()?;
        if cpu as u64 >= hv.layout.max_cpus {
            return None;
        }
        let va = hv::VIRT_BASE + hv.layout.percpu_offset(cpu as u64);
        // Unarrived CPUs' blocks are only read after `present` (zeroed by
        // global init) says they are set.
        // SAFETY: per-CPU areas are mapped for the hypervisor's lifetime and
        // aligned; PerCpu is all atomics, so shared references are sound.
        Some(unsafe { &*(va as *const PerCpu) })
    }

    /// The per-CPU blocks of every CPU that has arrived in the hypervisor.
    pub fn present_cpus() -> impl Iterator<Item = &'static PerCpu> {
        let max = hv::get().map_or(0, |h| h.layout.max_cpus.min(64) as usize);
        (0..max).filter_map(percpu).filter(|p| p.present.load(core::sync::atomic::Ordering::Acquire))
    }

    /// This CPU's per-CPU block.
    pub fn this_cpu() -> &'static PerCpu {
        let va = crate::arch::percpu_ptr();
        // SAFETY: TPIDR_EL2 is set to this CPU's block before any trap can
        // reach Rust code that calls this.
        unsafe { &*(va as *const PerCpu) }
    }

    /// This CPU's id, or 0 before per-CPU setup.
    pub fn this_cpu_id() -> u32 {
        if crate::arch::percpu_ptr() == 0 {
            return 0;
        }
        this_cpu().cpu_id.load(core::sync::atomic::Ordering::Relaxed)
    }
}
#[cfg(target_os = "none")]
pub use target::*;

/// Host builds have no CPUs.
#[cfg(not(target_os = "none"))]
pub fn this_cpu_id() -> u32 {
    0
}

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
    /// Off and held by the management path: being handed to a new cell
    /// (create), or stopped for a shutdown, load or destroy of its cell.
    /// PSCI CPU_ON cannot start it (DENIED) until the manager lets go.
    Claimed = 4,
    /// Off, and being given a start request: the requester won the CPU
    /// and is writing its entry point; Starting follows.
    Arming = 5,
}

/// The state word: the owning cell in the upper half, the [`CpuState`]
/// in the lower, so that a transition checks both at once (PSCI CPU_ON of
/// cell A can never start a CPU that meanwhile became cell B's).
fn word(cell: u32, s: CpuState) -> u64 {
    (u64::from(cell) << 32) | s as u64
}

/// The per-CPU data block.
#[repr(C)]
#[derive(Debug)]
pub struct PerCpu {
    pub cpu_id: AtomicU32,
    /// The owning cell, for readers; hand-overs write it before the state
    /// word, which is authoritative for every transition.
    pub cell: AtomicU32,
    /// The owning cell and the state (see [`word`]).
    pub state: AtomicU64,
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
    pub irq_pending: crate::irqchip::pending::Queue,
    /// Linux's physical GIC CPU interface state at enable (PMR, IGRPEN1, CTLR).
    pub linux_gic: [AtomicU64; 3],
    /// Nonzero: the IRQ vector may acknowledge and inject the common
    /// interrupts itself (set by the GICv3 per-CPU init; the assembly
    /// fast path in `arch/aarch64/vectors.rs` reads it): a bit per
    /// implemented list register, compared with ICH_ELRSR_EL2.
    pub irq_fast: AtomicU32,
    /// Interrupts the assembly fast path injected: each one is an exit
    /// ([`Stat::Total`]) and a virtual interrupt ([`Stat::Virq`]), added
    /// to both when read, so the path pays one counter instead of two.
    pub fast_irqs: AtomicU64,
    /// Trap ring, post-mortem record, latency histograms (issue 18).
    pub trace: crate::trace::CpuTrace,
}

impl PerCpu {
    /// Sets every field for a CPU that has just arrived.
    pub fn init(&self, cpu: u32, mpidr: u64, cell: u32) {
        self.cpu_id.store(cpu, Ordering::Relaxed);
        self.cell.store(cell, Ordering::Relaxed);
        self.state.store(word(cell, CpuState::Off), Ordering::Relaxed);
        self.mpidr.store(mpidr, Ordering::Relaxed);
        self.entry.store(0, Ordering::Relaxed);
        self.context.store(0, Ordering::Relaxed);
        for s in &self.stats {
            s.store(0, Ordering::Relaxed);
        }
        self.park_request.store(false, Ordering::Relaxed);
        self.irq_fast.store(0, Ordering::Relaxed);
        self.fast_irqs.store(0, Ordering::Relaxed);
        self.gicr_frame.store(u32::MAX, Ordering::Relaxed);
        self.vsgi_pending.store(0, Ordering::Relaxed);
        self.irq_pending.clear();
        self.trace.clear();
        self.present.store(true, Ordering::Release);
    }

    /// Counts one event. Only the CPU itself counts, so a plain load and
    /// store suffice (other CPUs only read).
    #[inline(always)]
    pub fn count(&self, stat: Stat) {
        if let Some(s) = self.stats.get(stat as usize) {
            s.store(s.load(Ordering::Relaxed).wrapping_add(1), Ordering::Relaxed);
        }
    }

    /// A statistic's value (the fast path's interrupts included).
    pub fn stat(&self, n: usize) -> Option<u64> {
        let fast = if n == Stat::Total as usize || n == Stat::Virq as usize {
            self.fast_irqs.load(Ordering::Relaxed)
        } else {
            0
        };
        self.stats.get(n).map(|s| s.load(Ordering::Relaxed).wrapping_add(fast))
    }

    /// Current state.
    pub fn state(&self) -> CpuState {
        match self.state.load(Ordering::Acquire) & u64::from(u32::MAX) {
            0 => CpuState::Running,
            2 => CpuState::Failed,
            3 => CpuState::Starting,
            4 => CpuState::Claimed,
            5 => CpuState::Arming,
            _ => CpuState::Off,
        }
    }

    /// Sets the state, in the cell the CPU belongs to. For the CPU itself
    /// while it runs (CPU_OFF, a failure, parking on request) and for a
    /// manager holding the CPU (Claimed), so no concurrent transition can
    /// be overwritten.
    pub fn set_state(&self, s: CpuState) {
        self.state.store(word(self.cell.load(Ordering::Relaxed), s), Ordering::Release);
    }

    /// `from` → `to` if the CPU is in state `from` of `cell`.
    fn transition_in(&self, cell: u32, from: CpuState, to: CpuState) -> bool {
        self.state.compare_exchange(word(cell, from), word(cell, to), Ordering::AcqRel, Ordering::Acquire).is_ok()
    }

    /// `from` → `to` in whatever cell the CPU belongs to.
    fn transition(&self, from: CpuState, to: CpuState) -> bool {
        let cell = (self.state.load(Ordering::Acquire) >> 32) as u32;
        self.transition_in(cell, from, to)
    }

    /// Asks this CPU, if it is off in `cell`, to start at `entry` with x0
    /// = `context`. False if it is not (running, failed, held by the
    /// management path, already starting, or another cell's by now). The
    /// entry is written only after the CPU was won (Arming), so a loser
    /// can never overwrite the winner's entry.
    pub fn request_start_in(&self, cell: u32, entry: u64, context: u64) -> bool {
        if !self.transition_in(cell, CpuState::Off, CpuState::Arming) {
            return false;
        }
        self.entry.store(entry, Ordering::Relaxed);
        self.context.store(context, Ordering::Relaxed);
        // Release: the parked CPU that sees Starting sees the entry.
        self.state.store(word(cell, CpuState::Starting), Ordering::Release);
        true
    }

    /// [`PerCpu::request_start_in`] the CPU's current cell (the
    /// management path, which holds the cell).
    pub fn request_start(&self, entry: u64, context: u64) -> bool {
        self.request_start_in(self.cell.load(Ordering::Relaxed), entry, context)
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

    /// Takes an Off CPU of the root cell for a cell being created (false
    /// if it is not Off in the root). One compare-and-swap on (cell,
    /// state): the root's PSCI CPU_ON, which takes no lock, either
    /// started the CPU before or fails after.
    pub fn claim(&self) -> bool {
        self.transition_in(0, CpuState::Off, CpuState::Claimed)
    }

    /// Gives a claimed CPU back as Off in its cell (create failed).
    pub fn release_claim(&self) {
        self.transition(CpuState::Claimed, CpuState::Off);
    }

    /// Holds a stopped CPU of a cell for the management path: Off or
    /// Starting (a start not yet taken is withdrawn) become Claimed, so a
    /// sibling's PSCI CPU_ON cannot start it again while its cell is shut
    /// down, loaded or destroyed. True once the CPU is held (or Failed,
    /// which CPU_ON cannot start either).
    pub fn hold(&self) -> bool {
        match self.state() {
            CpuState::Claimed | CpuState::Failed => true,
            CpuState::Off => self.transition(CpuState::Off, CpuState::Claimed),
            CpuState::Starting => self.transition(CpuState::Starting, CpuState::Claimed),
            CpuState::Running | CpuState::Arming => false,
        }
    }

    /// Lets a held CPU go: Off in its cell.
    pub fn unhold(&self) {
        self.transition(CpuState::Claimed, CpuState::Off);
    }

    /// Hands a CPU held by the management path to `cell`, Off there.
    pub fn hand_to(&self, cell: u32) {
        self.cell.store(cell, Ordering::Release);
        self.state.store(word(cell, CpuState::Off), Ordering::Release);
    }

    /// Clears the VM-exit statistics (Jailhouse does on cell create and
    /// destroy, so a cell's figures never include another cell's exits),
    /// and with them the trace: the post-mortem record of a failed cell
    /// lives until its destroy and is never seen by the next owner.
    pub fn clear_stats(&self) {
        for s in &self.stats {
            s.store(0, Ordering::Relaxed);
        }
        self.fast_irqs.store(0, Ordering::Relaxed);
        self.trace.clear();
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

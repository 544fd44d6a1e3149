//! PSCI calls (over SMC) and starting secondary CPUs of this program.
use crate::psci_ids::*;
use crate::smccc::smc;
use core::cell::UnsafeCell;

pub fn version() -> i64 {
    smc(PSCI_VERSION, 0, 0, 0)
}

pub fn features(function_id: u32) -> i64 {
    smc(PSCI_FEATURES, u64::from(function_id), 0, 0)
}

/// AFFINITY_INFO at level 0 (the CPU itself).
pub fn affinity_info(mpidr: u64) -> i64 {
    smc(AFFINITY_INFO, mpidr, 0, 0)
}

/// Raw CPU_ON: the CPU starts at `entry` (physical) with x0 = `context_id`.
pub fn cpu_on(mpidr: u64, entry: u64, context_id: u64) -> i64 {
    smc(CPU_ON, mpidr, entry, context_id)
}

/// Turns the calling CPU off; returns only on failure.
pub fn cpu_off() -> i64 {
    smc(CPU_OFF, 0, 0, 0)
}

pub fn system_off() -> ! {
    smc(SYSTEM_OFF, 0, 0, 0);
    crate::cpu::park()
}

pub fn system_reset() -> ! {
    smc(SYSTEM_RESET, 0, 0, 0);
    crate::cpu::park()
}

/// Entry of a secondary CPU: gets the argument given to [`start_cpu`].
pub type SecondaryMain = extern "C" fn(u64) -> !;

/// What `__secondary_entry` reads through x0 (layout fixed by `boot.rs`).
#[repr(C)]
#[derive(Debug)]
pub struct SecondaryBoot {
    stack_top: u64,
    entry: u64,
    arg: u64,
}

/// Stack and boot block of one secondary CPU, owned by the program (a
/// `static`), handed over to the CPU by [`start_cpu`].
#[repr(C, align(16))]
pub struct SecondarySlot<const N: usize> {
    stack: UnsafeCell<[u8; N]>,
    boot: UnsafeCell<SecondaryBoot>,
}

// SAFETY: a slot is written only by `start_cpu` before the CPU it describes
// runs (the CPU_ON call orders the writes before the start), and afterwards
// only that CPU uses the stack.
unsafe impl<const N: usize> Sync for SecondarySlot<N> {}

impl<const N: usize> SecondarySlot<N> {
    pub const fn new() -> Self {
        Self {
            stack: UnsafeCell::new([0; N]),
            boot: UnsafeCell::new(SecondaryBoot {
                stack_top: 0,
                entry: 0,
                arg: 0,
            }),
        }
    }
}

impl<const N: usize> Default for SecondarySlot<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> core::fmt::Debug for SecondarySlot<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecondarySlot")
            .field("stack_size", &N)
            .finish()
    }
}

/// Starts CPU `mpidr` at `main(arg)` on the stack of `slot`; returns the
/// PSCI result. The caller must not reuse `slot` while that CPU runs.
pub fn start_cpu<const N: usize>(
    slot: &'static SecondarySlot<N>,
    mpidr: u64,
    main: SecondaryMain,
    arg: u64,
) -> i64 {
    let stack_top = (slot.stack.get() as u64 + N as u64) & !0xf;
    let boot = slot.boot.get();
    // SAFETY: see `impl Sync`: a CPU reads its block only while starting,
    // and a CPU that already runs makes CPU_ON fail (ALREADY_ON), so no CPU
    // reads the block while it is written.
    unsafe {
        boot.write_volatile(SecondaryBoot {
            stack_top,
            entry: main as usize as u64,
            arg,
        });
    }
    cpu_on(mpidr, crate::boot::secondary_entry_address(), boot as u64)
}

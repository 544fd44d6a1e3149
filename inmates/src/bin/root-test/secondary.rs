//! Stacks for the secondary CPUs suites start, one slot per CPU number.
use syshyper_inmates::psci::SecondarySlot;

/// CPUs of the root cell in configs/qemu-virt.toml.
pub const MAX_CPUS: usize = 4;
const STACK_SIZE: usize = 16 * 1024;

static SLOTS: [SecondarySlot<STACK_SIZE>; MAX_CPUS] = [const { SecondarySlot::new() }; MAX_CPUS];

/// The slot of CPU `cpu` (1..MAX_CPUS; CPU 0 runs the program).
pub fn slot(cpu: usize) -> &'static SecondarySlot<STACK_SIZE> {
    &SLOTS[cpu]
}

/// Polls `done` up to `max_polls` times, yielding between polls; returns
/// whether it became true.
pub fn wait_for(max_polls: u64, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..max_polls {
        if done() {
            return true;
        }
        syshyper_inmates::cpu::cpu_relax();
    }
    done()
}

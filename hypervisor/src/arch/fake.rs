//! Host stand-in for the architecture functions generic code uses.

/// Spin-wait hint.
pub fn cpu_relax() {
    core::hint::spin_loop();
}

//! Host stand-in for the architecture functions generic code uses.

/// Spin-wait hint.
pub fn cpu_relax() {
    std::hint::spin_loop();
}

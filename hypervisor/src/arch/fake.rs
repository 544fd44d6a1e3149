//! Host stand-in for the architecture functions generic code uses.

/// Spin-wait hint.
pub fn cpu_relax() {
    core::hint::spin_loop();
}

/// Event to the other CPUs (none on the host).
pub fn send_event() {}

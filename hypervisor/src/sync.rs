//! Locks whose spin loops execute `yield`, as QEMU's -icount scheduler
//! requires (spin's default relax strategy emits `isb` on aarch64).

/// Relax strategy executing `yield`.
#[derive(Debug)]
pub struct Yield;

impl spin::RelaxStrategy for Yield {
    fn relax() {
        crate::arch::cpu_relax();
    }
}

/// A spin lock that yields while waiting.
pub type Mutex<T> = spin::mutex::SpinMutex<T, Yield>;
/// One-time initialised global.
pub type Once<T> = spin::once::Once<T, Yield>;

//! Probing a CPU of the calling program (the root cell): the CPU is
//! started with PSCI CPU_ON at `__regprobe_root` with x0 pointing to a
//! [`ProbeBlock`], which begins like the block `__secondary_entry` reads
//! (stack, entry, argument) and holds the [`Capture`] the stub fills
//! before continuing there.
use super::Capture;
use crate::psci::{cpu_on, SecondaryMain};
use core::cell::UnsafeCell;

/// Bytes of the probing CPU's stack.
const STACK_SIZE: usize = 16 * 1024;

/// `__secondary_entry`'s block, the capture, the stack.
#[repr(C, align(16))]
pub struct ProbeBlock {
    /// stack top, entry, argument (the layout `__secondary_entry` reads), pad.
    boot: UnsafeCell<[u64; 4]>,
    capture: UnsafeCell<Capture>,
    stack: UnsafeCell<[u8; STACK_SIZE]>,
}

const _: () = assert!(core::mem::offset_of!(ProbeBlock, capture) == 32);

// SAFETY: the block is written by `start` before the CPU it describes runs
// (CPU_ON orders the writes before the start), then only by that CPU until
// the caller, having seen it finish, reads the capture.
unsafe impl Sync for ProbeBlock {}

impl ProbeBlock {
    pub const fn new() -> Self {
        Self {
            boot: UnsafeCell::new([0; 4]),
            capture: UnsafeCell::new(Capture::new()),
            stack: UnsafeCell::new([0; STACK_SIZE]),
        }
    }

    /// The address the probed CPU must find in x0.
    pub fn addr(&'static self) -> u64 {
        self as *const Self as u64
    }

    /// Starts CPU `mpidr` at the capturing stub, then `main(arg)` on this
    /// block's stack; returns the PSCI result. Not to be called while
    /// a CPU started from this block still runs.
    pub fn start(&'static self, mpidr: u64, main: SecondaryMain, arg: u64) -> i64 {
        let top = (self.stack.get() as u64 + STACK_SIZE as u64) & !0xf;
        // SAFETY: no CPU uses the block now (the caller's contract).
        unsafe { self.boot.get().write_volatile([top, main as *const () as u64, arg, 0]) };
        cpu_on(mpidr, __regprobe_root as *const () as u64, self.addr())
    }

    /// The capture, for the probed CPU itself (in `main`).
    pub fn capture(&'static self) -> &'static Capture {
        // SAFETY: the stub wrote it before `main` runs on the probed CPU,
        // and nothing writes it again until the next `start`.
        unsafe { &*self.capture.get() }
    }
}

impl Default for ProbeBlock {
    fn default() -> Self {
        Self::new()
    }
}

extern "C" {
    fn __regprobe_root();
}

core::arch::global_asm!(
    ".section .text.regprobe_root, \"ax\"",
    ".global __regprobe_root",
    "__regprobe_root:",
    "add x0, x0, #32",
    crate::capture_body!(),
    "sub x1, x0, #32",
    "str x1, [x0]",
    "sub x0, x0, #32",
    "b __secondary_entry",
);

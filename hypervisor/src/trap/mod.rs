//! Traps from the guest: one dispatcher by exception class.

pub mod esr;
// Entry points called by name from the exception vectors.
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
mod handlers;
#[cfg(target_os = "none")]
pub use handlers::{park, reset_frame};

/// What the partial synchronous entry (`arch/aarch64/vectors.rs`,
/// `__sync_partial`) does after `trap_lower_sync_partial` returned: restore
/// the partial frame and return to the guest ...
pub const SYNC_DONE: u32 = 0;
/// ... store x19-x28 and SPSR, hand the untouched trap to the full handler
/// (`trap_lower_sync`) ...
pub const SYNC_FULL: u32 = 1;
/// ... or store them and report the access no handler took
/// (`trap_lower_sync_rest`); both then restore the whole frame.
pub const SYNC_REST: u32 = 2;

/// The guest registers saved by the vectors (layout shared with assembly).
#[repr(C)]
#[derive(Debug, Clone)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    pub _pad: u64,
}

impl TrapFrame {
    /// Reads register `n` as an instruction sees it (31 = zero register).
    pub fn reg(&self, n: u8) -> u64 {
        self.x.get(n as usize).copied().unwrap_or(0)
    }

    /// Writes register `n` (writes to the zero register vanish).
    pub fn set_reg(&mut self, n: u8, v: u64) {
        if let Some(r) = self.x.get_mut(n as usize) {
            *r = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_matches_assembly_layout() {
        assert_eq!(core::mem::size_of::<TrapFrame>(), 272);
        assert_eq!(core::mem::offset_of!(TrapFrame, elr), 248);
        assert_eq!(core::mem::offset_of!(TrapFrame, spsr), 256);
    }

    #[test]
    fn zero_register() {
        let mut f = TrapFrame { x: [7; 31], elr: 0, spsr: 0, _pad: 0 };
        f.set_reg(31, 5);
        assert_eq!(f.reg(31), 0);
        f.set_reg(3, 9);
        assert_eq!(f.reg(3), 9);
    }
}

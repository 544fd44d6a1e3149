//! Arm semihosting exit: ends QEMU (`-semihosting-config enable=on`) with a
//! chosen exit status.
use core::arch::asm;

const SYS_EXIT: u64 = 0x18;
/// ADP_Stopped_ApplicationExit: the exit status follows in the block.
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;

/// Exits QEMU with `status`. Without semihosting `hlt` is undefined and
/// traps: the exception ends in the panic handler, which parks.
pub fn exit(status: u32) -> ! {
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: SYS_EXIT reads the two-word block at x1, which lives on this
    // stack for the duration of the call.
    unsafe {
        asm!("hlt #0xf000", in("x0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack, readonly));
    }
    crate::cpu::park()
}

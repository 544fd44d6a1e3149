//! crash-demo: prints a line, then reads an address its cell does not map.
//! The hypervisor must stop the CPU and mark the cell FAILED; the line after
//! the read must never appear.
//!
//! The faulting load is the first instruction of `crash_read`, whose
//! address (the PC the post-mortem record must name) also goes to the
//! hypervisor console (DEBUG_CONSOLE_PUTC; test-crash is permitted to),
//! where the root can read it: the Linux tests compare it with `cell dump`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use core::fmt::Write;
    use syshyper_inmates::hvc::hvc;
    use syshyper_inmates::hypercall::HC_DEBUG_CONSOLE_PUTC;
    use syshyper_inmates::{cpu, println};

    /// Not RAM, not a device of the cell (configs/test-crash.toml).
    const UNMAPPED: usize = 0x1000_0000;

    // A 32-bit load from x0 into w0: the trapping instruction.
    core::arch::global_asm!(".global crash_read", ".type crash_read, %function", "crash_read:", "ldr w0, [x0]", "ret");
    extern "C" {
        fn crash_read(addr: usize) -> u32;
    }

    /// The hypervisor console, byte by byte.
    struct HvConsole;
    impl Write for HvConsole {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for b in s.bytes() {
                hvc(HC_DEBUG_CONSOLE_PUTC, u64::from(b), 0);
            }
            Ok(())
        }
    }

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let pc = crash_read as unsafe extern "C" fn(usize) -> u32 as usize;
        println!("crash-demo: reading unmapped {UNMAPPED:#x}");
        let _ = writeln!(HvConsole, "crash-demo: 4-byte read of {UNMAPPED:#x} into w0 at PC {pc:#x}");
        // SAFETY: deliberately invalid: the read traps to the hypervisor,
        // which never returns to this code.
        let v = unsafe { crash_read(UNMAPPED) };
        println!("crash-demo: survived the read ({v:#x})");
        cpu::park()
    }
}

//! crash-demo: prints a line, then reads an address its cell does not map.
//! The hypervisor must stop the CPU and mark the cell FAILED; the line after
//! the read must never appear.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::{cpu, println};

    /// Not RAM, not a device of the cell (configs/test-crash.toml).
    const UNMAPPED: usize = 0x1000_0000;

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        println!("crash-demo: reading unmapped {UNMAPPED:#x}");
        // SAFETY: deliberately invalid: the read traps to the hypervisor,
        // which never returns to this code.
        let v = unsafe { (UNMAPPED as *const u32).read_volatile() };
        println!("crash-demo: survived the read ({v:#x})");
        cpu::park()
    }
}

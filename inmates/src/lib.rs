//! Support library for sysHyper's bare-metal inmates (EL1, QEMU virt, GICv3).
//!
//! # Link address (why not position-independent)
//! Each bin is linked at the address it runs at. The programs run with the
//! MMU off, and Rust code compiled with the default static relocation model
//! keeps absolute addresses in data (trait-object vtables behind `core::fmt`,
//! panic locations), so a binary linked at 0 would jump to wrong addresses
//! when loaded elsewhere. `build.rs` therefore generates the linker script
//! from `link.ld.in`:
//! - non-root inmates (`uart-demo`, `gic-demo`): `INMATE_BASE`, default 0
//!   (guest-physical 0 of their cell);
//! - `root-test`: `ROOT_TEST_BASE`, default 0x4020_0000 (the root cell's
//!   `cpu_reset_address` in contracts.md).
//!
//! For a native run (QEMU starting the program at EL1, no hypervisor) build
//! the demos with `INMATE_BASE=0x40200000` into a separate target directory;
//! 0x4000_0000 itself holds QEMU's device tree. See `inmates/README.md`.
//!
//! Pure logic (bundle parser, check tally, tick conversion, GIC affinity
//! encodings) builds and is unit-tested on the host; everything that touches
//! hardware is compiled for `target_os = "none"` only.
#![cfg_attr(not(test), no_std)]

pub mod barrier;
pub mod bundle;
pub mod cell_config;
pub mod check;
pub mod cmdline;
pub mod comm;
pub mod console_select;
pub mod gic_affinity;
pub mod hypercall;
pub mod ivshmem;
/// The demo protocol, shared with the root tool (crates/ivshmem-proto).
pub use syshyper_ivshmem_proto as ivshmem_proto;
pub mod pci;
pub mod psci_ids;
pub mod shared;
pub mod ticks;

#[cfg(target_os = "none")]
mod boot;
#[cfg(target_os = "none")]
pub mod cell;
#[cfg(target_os = "none")]
pub mod console;
#[cfg(target_os = "none")]
pub mod cpu;
#[cfg(target_os = "none")]
pub mod exceptions;
#[cfg(target_os = "none")]
pub mod gic;
#[cfg(target_os = "none")]
pub mod mmio;
#[cfg(target_os = "none")]
pub mod hvc;
#[cfg(target_os = "none")]
pub mod ivshmem_ping;
#[cfg(target_os = "none")]
pub mod panic;
#[cfg(target_os = "none")]
pub mod psci;
#[cfg(target_os = "none")]
pub mod regs;
#[cfg(target_os = "none")]
pub mod semihosting;
#[cfg(target_os = "none")]
pub mod smccc;
#[cfg(target_os = "none")]
pub mod timer;

/// Defines the program's entry: `entry!(main)` with `fn main() -> !`.
/// The boot code calls it on the first CPU with a zeroed `.bss`, a stack, the
/// exception vectors installed and FP/SIMD enabled.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[no_mangle]
        extern "C" fn __inmate_main() -> ! {
            let main: fn() -> ! = $main;
            main()
        }
    };
}

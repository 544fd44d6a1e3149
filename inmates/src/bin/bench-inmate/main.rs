//! bench-inmate: exact instruction counts for `cargo xtask bench`.
//!
//! One program, three roles, chosen by where it runs (QEMU with
//! `-icount shift=4`, where one counter tick is one executed instruction):
//! - linked at 0: a cell under sysHyper, measuring on its first CPU (the
//!   "measuring" role, see `measure`);
//! - linked in RAM with a bundle at 0x4800_0000: the boot-first root cell,
//!   which times hypercalls and cell life, starts the cell above and later
//!   loads its own CPUs (`root`, `coord`);
//! - linked in RAM without a bundle: a native run on bare QEMU (no EL2),
//!   which plays both parts on the same physical CPUs, so the figures
//!   compare like with like.
//!
//! Results are console lines `BENCH <name> key=value ...` that xtask parses.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod coord;
#[cfg(target_os = "none")]
mod ivshmem;
#[cfg(target_os = "none")]
mod measure;
#[cfg(target_os = "none")]
mod probes;
#[cfg(target_os = "none")]
mod root;
#[cfg(target_os = "none")]
mod smmu;
#[cfg(target_os = "none")]
mod smp;
#[cfg(target_os = "none")]
mod stats;

#[cfg(target_os = "none")]
mod program {
    use super::{coord, measure, probes, root, smp};
    use syshyper_inmates::bundle::{has_magic, BUNDLE_ADDR, MAGIC};
    use syshyper_inmates::{panic, println, semihosting};

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let first = probes::counter();
        if probes::linked_at_zero() {
            measure::run(smp::Conduit::Smc, measure::Mailbox::cell(), first)
        }
        panic::exit_on_panic();
        // SAFETY: the first bytes of the bundle area lie in RAM that QEMU
        // maps natively and the root cell maps 1:1.
        let head: &[u8] =
            unsafe { core::slice::from_raw_parts(BUNDLE_ADDR as *const u8, MAGIC.len()) };
        if has_magic(head) {
            root::run()
        }
        println!("BENCH-INFO native run");
        native()
    }

    /// Native: CPU 1 measures exactly as the cell's first CPU does, CPU 0
    /// coordinates as the root does.
    fn native() -> ! {
        let mailbox = measure::Mailbox::native();
        let ret = smp::start(
            smp::Conduit::Hvc,
            smp::MEASURE_CPU,
            measure::native_entry,
            mailbox.addr() as u64,
        );
        if ret != 0 {
            println!("BENCH-ERROR native CPU_ON of the measuring CPU: {ret}");
            semihosting::exit(1);
        }
        coord::run(smp::Conduit::Hvc, &mailbox, true);
        semihosting::exit(0)
    }
}

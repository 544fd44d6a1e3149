//! Starting this program's other CPUs with PSCI CPU_ON through either
//! conduit: `smc` in a cell or the root (sysHyper traps it), `hvc` natively
//! (QEMU's firmware, no EL2). The library's `psci` module only knows `smc`,
//! so the boot block layout of its `__secondary_entry` is repeated here.
use core::arch::asm;
use core::cell::UnsafeCell;

/// Physical CPU that measures (the cell's first CPU, bench-cell.toml).
pub const MEASURE_CPU: usize = 1;
/// Physical CPU that receives the SGIs (the cell's second CPU).
pub const PARTNER_CPU: usize = 2;
/// Physical CPU that runs the second busy loop (a root CPU).
pub const BUSY_CPU: usize = 3;

const CPU_ON: u64 = 0xc400_0003;
const STACK: usize = 16 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conduit {
    Hvc,
    Smc,
}

/// SMCCC call with up to three arguments; returns x0.
pub fn call(conduit: Conduit, id: u64, a1: u64, a2: u64, a3: u64) -> i64 {
    let ret: u64;
    // SAFETY: SMCCC: x0..x17 may be clobbered by the callee (declared);
    // this program's memory is not touched.
    unsafe {
        match conduit {
            Conduit::Hvc => asm!("hvc #0",
                inout("x0") id => ret, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                out("x16") _, out("x17") _, options(nostack)),
            Conduit::Smc => asm!("smc #0",
                inout("x0") id => ret, inout("x1") a1 => _, inout("x2") a2 => _, inout("x3") a3 => _,
                out("x4") _, out("x5") _, out("x6") _, out("x7") _, out("x8") _, out("x9") _,
                out("x10") _, out("x11") _, out("x12") _, out("x13") _, out("x14") _, out("x15") _,
                out("x16") _, out("x17") _, options(nostack)),
        }
    }
    ret as i64
}

/// What the library's `__secondary_entry` reads through x0.
#[repr(C)]
struct Boot {
    stack_top: u64,
    entry: u64,
    arg: u64,
}

#[repr(C, align(16))]
struct Slot {
    stack: UnsafeCell<[u8; STACK]>,
    boot: UnsafeCell<Boot>,
}

// SAFETY: a slot is written by `start` before its CPU runs (CPU_ON orders
// the writes before the start); afterwards only that CPU uses it.
unsafe impl Sync for Slot {}

static SLOTS: [Slot; 4] = [const {
    Slot {
        stack: UnsafeCell::new([0; STACK]),
        boot: UnsafeCell::new(Boot {
            stack_top: 0,
            entry: 0,
            arg: 0,
        }),
    }
}; 4];

extern "C" {
    fn __secondary_entry();
}

/// Starts physical CPU `cpu` (QEMU virt MPIDR = cpu for cpu < 16) at
/// `main(arg)`; returns the PSCI result. Each CPU is started at most once.
pub fn start(conduit: Conduit, cpu: usize, main: extern "C" fn(u64) -> !, arg: u64) -> i64 {
    let Some(slot) = SLOTS.get(cpu) else {
        return -2;
    };
    let stack_top = (slot.stack.get() as u64 + STACK as u64) & !0xf;
    // SAFETY: see `impl Sync`; the CPU is not running, so nothing reads the
    // block while it is written.
    unsafe {
        slot.boot.get().write_volatile(Boot {
            stack_top,
            entry: main as usize as u64,
            arg,
        });
    }
    let entry = __secondary_entry as *const () as u64;
    call(conduit, CPU_ON, cpu as u64, entry, slot.boot.get() as u64)
}

//! Root-cell workload for `cargo xtask bench` (item 5: root overhead).
//!
//! Runs a compute loop and a memory loop over 16 MiB a few times and prints
//! the counter ticks each took, as `BENCH <label>_<loop> n= min= max= sum=`
//! lines. Under QEMU `-icount shift=4` one CNTVCT tick is one executed
//! instruction, so the figures count what the CPU executed, the kernel's
//! and the hypervisor's share included. Built by xtask with plain rustc
//! (static musl, no crates): `root-workload LABEL [REPS]`.

use std::hint::black_box;

/// Compute loop turns: about 10 million instructions per run.
const COMPUTE_TURNS: u64 = 2_000_000;
/// The memory loop's buffer.
const MEM_BYTES: usize = 16 << 20;
const DEFAULT_REPS: usize = 5;

/// The virtual counter, ordered after every earlier instruction.
fn ticks() -> u64 {
    let v: u64;
    // SAFETY: reads CNTVCT_EL0, which Linux lets user space read
    // (CNTKCTL_EL1.EL0VCTEN); `isb` only orders it, no memory is touched.
    unsafe { core::arch::asm!("isb", "mrs {}, cntvct_el0", out(reg) v, options(nomem, nostack)) };
    v
}

/// Integer multiply/xorshift chain: registers only, no memory traffic.
fn compute(seed: u64) -> u64 {
    let mut x = seed | 1;
    for i in 0..COMPUTE_TURNS {
        x ^= x << 13;
        x ^= x >> 7;
        x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(i);
    }
    x
}

/// One read-modify-write pass over every word of `buf`.
fn memory(buf: &mut [u64]) -> u64 {
    let mut acc = 0u64;
    for w in buf.iter_mut() {
        acc = acc.wrapping_add(*w);
        *w = acc;
    }
    acc
}

#[derive(Default)]
struct Series {
    n: u64,
    min: u64,
    max: u64,
    sum: u64,
}

impl Series {
    fn add(&mut self, v: u64) {
        self.min = if self.n == 0 { v } else { self.min.min(v) };
        self.max = self.max.max(v);
        self.sum += v;
        self.n += 1;
    }

    fn print(&self, label: &str, what: &str) {
        println!(
            "BENCH {label}_{what} n={} min={} max={} sum={}",
            self.n, self.min, self.max, self.sum
        );
    }
}

/// `root-workload time LABEL WHAT CMD ARGS...`: runs CMD and prints the
/// ticks (instructions, all CPUs) it took as `BENCH LABEL_WHAT n=1 ...`.
fn time_command(mut args: impl Iterator<Item = String>) -> i32 {
    let label = args.next().unwrap_or_else(|| "command".to_string());
    let what = args.next().unwrap_or_else(|| "run".to_string());
    let Some(cmd) = args.next() else {
        eprintln!("usage: root-workload time LABEL WHAT CMD [ARGS...]");
        return 2;
    };
    let t0 = ticks();
    let status = std::process::Command::new(&cmd).args(args).status();
    let t1 = ticks();
    match status {
        Ok(s) if s.success() => {
            let mut one = Series::default();
            one.add(t1 - t0);
            one.print(&label, &what);
            0
        }
        Ok(s) => {
            println!("BENCH-ERROR {cmd} failed: {s}");
            1
        }
        Err(e) => {
            println!("BENCH-ERROR cannot run {cmd}: {e}");
            1
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().is_some_and(|a| a == "time") {
        args.next();
        std::process::exit(time_command(args));
    }
    let label = args.next().unwrap_or_else(|| "root".to_string());
    let reps = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_REPS);
    // Touch every page first so no run pays for page faults.
    let mut buf = vec![1u64; MEM_BYTES / 8];
    memory(&mut buf);
    let (mut comp, mut mem, mut total) = (Series::default(), Series::default(), Series::default());
    for r in 0..reps {
        let t0 = ticks();
        black_box(compute(black_box(r as u64)));
        let t1 = ticks();
        black_box(memory(black_box(&mut buf)));
        let t2 = ticks();
        comp.add(t1 - t0);
        mem.add(t2 - t1);
        total.add(t2 - t0);
    }
    comp.print(&label, "compute");
    mem.print(&label, "memory");
    total.print(&label, "total");
}

//! Minimum, maximum and sum of a series of counts, printed as one
//! `BENCH <name> n= min= max= sum=` line (xtask computes the mean).
use syshyper_inmates::println;

const MAX_SAMPLES: u64 = 100_000;

#[derive(Debug, Clone, Copy)]
pub struct Stats {
    n: u64,
    min: u64,
    max: u64,
    sum: u64,
}

impl Stats {
    pub const fn new() -> Self {
        Self {
            n: 0,
            min: u64::MAX,
            max: 0,
            sum: 0,
        }
    }

    pub fn add(&mut self, v: u64) {
        self.n += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.sum = self.sum.saturating_add(v);
    }

    pub fn print(&self, name: &str) {
        if self.n == 0 {
            println!("BENCH-ERROR {name}: no samples");
            return;
        }
        // A series never holds more than a few thousand samples; anything
        // else means this program's state was corrupted (e.g. registers
        // not preserved across a trap), and the figure must not be used.
        if self.n > MAX_SAMPLES || self.min > self.max {
            println!("BENCH-ERROR {name}: corrupted series {self:?}");
            return;
        }
        println!(
            "BENCH {name} n={} min={} max={} sum={}",
            self.n, self.min, self.max, self.sum
        );
    }
}

/// Prints a single value.
pub fn value(name: &str, v: i64) {
    println!("BENCH {name} value={v}");
}

/// A deterministic pseudo-random sequence (xorshift64) for deadlines, so
/// that interrupts do not always meet the same instruction.
#[derive(Debug)]
pub struct Rng(u64);

impl Rng {
    pub const fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

impl Stats {
    pub fn count(&self) -> u64 {
        self.n
    }
}

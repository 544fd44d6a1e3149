//! The cpu_set bitmap: bit n of byte n/8 is CPU n (little-endian longs).

/// Iterator over the CPU numbers set in a cpu_set, ascending.
#[derive(Clone, Debug)]
pub struct Cpus<'a> {
    set: &'a [u8],
    next: usize,
}

impl<'a> Cpus<'a> {
    pub fn new(set: &'a [u8]) -> Self {
        Self { set, next: 0 }
    }
}

impl Iterator for Cpus<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        while let Some(byte) = self.set.get(self.next / 8) {
            let cpu = self.next;
            // Bounded by the set's length in bits (a u32 byte count).
            self.next = self.next.saturating_add(1);
            if byte & (1 << (cpu % 8)) != 0 {
                // cpu_set_size is a u32, so the bit index fits in u64 but may
                // not fit in u32; such CPUs cannot exist and are skipped.
                if let Ok(cpu) = u32::try_from(cpu) {
                    return Some(cpu);
                }
            }
        }
        None
    }
}

/// Whether `cpu` is in `set`.
pub fn contains(set: &[u8], cpu: u32) -> bool {
    let cpu = cpu as usize;
    set.get(cpu / 8).is_some_and(|b| b & (1 << (cpu % 8)) != 0)
}

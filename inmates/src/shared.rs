//! A page shared by a test cell and the root cell (a ROOTSHARED region in
//! the cell's config): test inmates write what they did into numbered 32-bit
//! words, root-test reads them through its own 1:1 mapping. Each word has a
//! single writer, so plain volatile accesses suffice.

/// Guest-physical address of the shared page in the test cells' configs
/// (configs/test-*.toml).
pub const CELL_SHARED_PAGE: usize = 0x0010_0000;
/// Number of 32-bit words in the page.
pub const WORDS: usize = 1024;

/// The shared page at a fixed address.
#[derive(Debug, Clone, Copy)]
pub struct SharedPage {
    base: usize,
}

impl SharedPage {
    /// # Safety
    /// `base` must be a 4-byte aligned, mapped page of at least
    /// `WORDS * 4` bytes that stays mapped read-write while this is used.
    pub const unsafe fn at(base: usize) -> Self {
        Self { base }
    }

    /// Word `index` (0 when out of range).
    pub fn read(&self, index: usize) -> u32 {
        if index >= WORDS {
            return 0;
        }
        // SAFETY: `at`'s contract; index is inside the page.
        unsafe { ((self.base + 4 * index) as *const u32).read_volatile() }
    }

    /// Sets word `index` (ignored when out of range).
    pub fn write(&self, index: usize, value: u32) {
        if index >= WORDS {
            return;
        }
        // SAFETY: as in `read`.
        unsafe { ((self.base + 4 * index) as *mut u32).write_volatile(value) }
    }

    /// Zeroes the first `n` words.
    pub fn clear(&self, n: usize) {
        for i in 0..n.min(WORDS) {
            self.write(i, 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_bounds() {
        let mut page = vec![0u32; WORDS];
        // SAFETY: the vector is a live, aligned buffer of WORDS words.
        let p = unsafe { SharedPage::at(page.as_mut_ptr() as usize) };
        p.write(3, 0xdead_beef);
        p.write(WORDS, 1);
        assert_eq!(p.read(3), 0xdead_beef);
        assert_eq!(p.read(WORDS), 0);
        p.clear(4);
        assert_eq!(p.read(3), 0);
        drop(page);
    }
}

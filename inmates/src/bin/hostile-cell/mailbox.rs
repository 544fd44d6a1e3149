//! The mailbox page a hostile or victim cell shares with the isolation root
//! (a ROOTSHARED region): the root writes the role before CELL_START, the
//! cell reports how far it got and what its calls returned. Shared by path
//! with `isolation-root` so both sides agree on the layout.
#![allow(dead_code)]

/// Guest-physical address of the mailbox inside the cells.
pub const CELL_MAILBOX: usize = 0x10_0000;
/// Physical addresses of the two mailboxes (configs/hostile-cell.toml,
/// configs/victim-cell.toml): the root reads them 1:1.
pub const HOSTILE_MAILBOX_PHYS: usize = 0x7f0f_0000;
pub const VICTIM_MAILBOX_PHYS: usize = 0x7f1f_0000;

/// Word indices (u64) in the page.
pub const ROLE: usize = 0;
pub const STAGE: usize = 1;
/// An argument from the root (e.g. the victim's cell id).
pub const ARG: usize = 2;
/// First of `NUM_RESULTS` result words.
pub const RESULTS: usize = 3;
pub const NUM_RESULTS: usize = 12;
/// Victim only: heartbeat, its RAM checksum now and at start, corruption.
pub const TICK: usize = 16;
pub const SUM: usize = 17;
pub const SUM_AT_START: usize = 18;
pub const CORRUPT: usize = 19;
/// Hostile only: the root's go-ahead for an attack that waits for it
/// (ICC_WRITES waits until the root holds its SPI active).
pub const GO: usize = 20;

/// ROLE values: the victim, or an attack number (see `attacks.rs`).
pub const ROLE_VICTIM: u64 = 0x7657_6963; // "civV"

/// STAGE values.
pub const STAGE_BOOTED: u64 = 1;
/// About to do the forbidden thing (it may never come back).
pub const STAGE_ATTEMPTED: u64 = 2;
/// Came back from the attack; results are valid.
pub const STAGE_SURVIVED: u64 = 3;
/// A call that must not return did return.
pub const STAGE_RETURNED: u64 = 4;

/// A mailbox at a fixed address, accessed with volatile 64-bit operations
/// (the other side polls it while this side writes).
#[derive(Clone, Copy, Debug)]
pub struct Mailbox {
    base: usize,
}

impl Mailbox {
    /// # Safety
    /// `base` must be a mapped, writable, 8-byte aligned page that stays
    /// mapped while the mailbox is used.
    pub const unsafe fn at(base: usize) -> Self {
        Self { base }
    }

    pub fn read(&self, word: usize) -> u64 {
        debug_assert!(word < 512);
        // SAFETY: `at`'s contract; `word < 512` keeps the access in the page.
        unsafe { ((self.base + (word % 512) * 8) as *const u64).read_volatile() }
    }

    pub fn write(&self, word: usize, value: u64) {
        // SAFETY: as in `read`.
        unsafe { ((self.base + (word % 512) * 8) as *mut u64).write_volatile(value) }
    }

    pub fn result(&self, n: usize) -> i64 {
        self.read(RESULTS + n % NUM_RESULTS) as i64
    }

    pub fn set_result(&self, n: usize, value: i64) {
        self.write(RESULTS + n % NUM_RESULTS, value as u64)
    }

    /// Zeroes every word the protocol uses.
    pub fn clear(&self) {
        for w in 0..32 {
            self.write(w, 0);
        }
    }
}

//! Command-queue entries (ARM IHI 0070, 4.1–4.7) and the queue index
//! arithmetic shared with the event queue: pure, host-tested.

/// A command the driver issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    /// Forget any cached copy of stream `sid`'s STE (leaf only).
    CfgiSte { sid: u32 },
    /// Forget every cached STE and CD.
    CfgiAll,
    /// Every stage-1 (non-hyp) TLB entry.
    TlbiNhAll,
    /// Every stage-2 and combined entry of `vmid`.
    TlbiS12Vmall { vmid: u16 },
    /// Completes when every earlier command has (no signal: the driver
    /// polls CONS past it).
    Sync,
}

impl Cmd {
    pub fn words(self) -> [u64; 2] {
        match self {
            Cmd::CfgiSte { sid } => [0x03 | u64::from(sid) << 32, 1],
            Cmd::CfgiAll => [0x04, 31],
            Cmd::TlbiNhAll => [0x10, 0],
            Cmd::TlbiS12Vmall { vmid } => [0x28 | u64::from(vmid) << 32, 0],
            Cmd::Sync => [0x46, 0],
        }
    }
}

/// A circular queue's producer/consumer index: `log2` index bits and one
/// wrap bit above them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Idx {
    pub log2: u32,
}

impl Idx {
    fn mask(self) -> u32 {
        (1 << self.log2) - 1
    }
    /// The slot an index names.
    pub fn slot(self, i: u32) -> usize {
        (i & self.mask()) as usize
    }
    /// The index after `i` (the wrap bit flips past the last slot).
    pub fn next(self, i: u32) -> u32 {
        (i + 1) & ((2 << self.log2) - 1)
    }
    /// Whether the queue holds nothing.
    pub fn empty(self, prod: u32, cons: u32) -> bool {
        prod == cons
    }
    /// Whether the queue is full (same slot, different wrap).
    pub fn full(self, prod: u32, cons: u32) -> bool {
        prod & self.mask() == cons & self.mask() && prod != cons
    }
    /// Whether the consumer has moved past the entry at `at` (the
    /// entry is complete): `cons` is further along than `at` counting
    /// from `prod` backwards.
    pub fn consumed(self, at: u32, cons: u32) -> bool {
        let span = 2u32 << self.log2;
        let m = span - 1;
        // Distance from `at` to `cons`, modulo the wrap range; `at` is
        // consumed when cons has gone at least one past it and not more
        // than a queue's length (it cannot lap the producer).
        let d = cons.wrapping_sub(at) & m;
        d >= 1 && d <= (1 << self.log2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(Cmd::CfgiSte { sid: 8 }.words(), [0x8_0000_0003, 1]);
        assert_eq!(Cmd::TlbiS12Vmall { vmid: 3 }.words()[0], 0x3_0000_0028);
        assert_eq!(Cmd::Sync.words(), [0x46, 0]);
    }

    #[test]
    fn wrap_and_full() {
        let q = Idx { log2: 2 };
        let mut p = 0;
        for _ in 0..4 {
            p = q.next(p);
        }
        assert_eq!(p, 4); // slot 0, wrap bit set
        assert!(q.full(p, 0));
        assert!(!q.full(p, 4));
        assert_eq!(q.next(7), 0);
        assert_eq!(q.slot(6), 2);
    }

    #[test]
    fn consumed() {
        let q = Idx { log2: 2 };
        assert!(!q.consumed(3, 3));
        assert!(q.consumed(3, 4));
        assert!(q.consumed(7, 0));
        assert!(!q.consumed(7, 7));
        assert!(!q.consumed(2, 1));
    }
}

//! Who owns which physical memory: disjoint spans, each tagged with its
//! owner cell, kept sorted so a query is a binary search (no re-parsing of
//! other cells' configurations, no quadratic scan under the cell lock).

extern crate alloc;

use crate::cell::desc::Span;
use crate::error::{Error, Result};
use alloc::vec::Vec;

/// A span and the cell that owns it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Owned {
    pub span: Span,
    pub cell: u32,
}

/// The ledger of memory owned by non-root cells.
#[derive(Debug, Default)]
pub struct Ledger {
    /// Sorted by start; pairwise disjoint.
    spans: Vec<Owned>,
}

impl Ledger {
    /// An empty ledger.
    pub const fn new() -> Self {
        Self { spans: Vec::new() }
    }

    /// The first span ending after `s.start` is the only candidate for a
    /// shared byte with `s` among those before it, and later ones start
    /// later: all overlapping spans form one run from there.
    fn first_after(&self, start: u64) -> usize {
        self.spans.partition_point(|o| o.span.end <= start)
    }

    /// The owner of any byte of `s` other than `me`, if some cell has one.
    pub fn other_owner(&self, s: &Span, me: u32) -> Option<u32> {
        self.spans
            .get(self.first_after(s.start)..)
            .unwrap_or_default()
            .iter()
            .take_while(|o| o.span.start < s.end)
            .find(|o| o.cell != me)
            .map(|o| o.cell)
    }

    /// Room for `n` more spans, so [`Ledger::insert`] cannot fail later.
    pub fn reserve(&mut self, n: usize) -> Result<()> {
        self.spans.try_reserve(n).map_err(|_| Error::NoMemory)
    }

    /// Records `s` for `cell`, merging it with that cell's overlapping
    /// or adjacent spans (a configuration may list overlapping regions).
    /// The caller checked [`Ledger::other_owner`] and reserved room; the
    /// merge only ever shrinks the list, so it does not allocate beyond one
    /// element.
    pub fn insert(&mut self, mut s: Span, cell: u32) {
        let mut i = self.spans.partition_point(|o| o.span.end < s.start);
        while let Some(o) = self.spans.get(i) {
            if o.span.start > s.end {
                break;
            }
            if o.cell != cell {
                // Only touching (the caller checked for overlaps): skip.
                i += 1;
                continue;
            }
            s = Span { start: s.start.min(o.span.start), end: s.end.max(o.span.end) };
            self.spans.remove(i);
        }
        let at = self.spans.partition_point(|o| o.span.start < s.start);
        self.spans.insert(at, Owned { span: s, cell });
    }

    /// Forgets everything `cell` owned.
    pub fn release(&mut self, cell: u32) {
        self.spans.retain(|o| o.cell != cell);
    }

    /// All spans (sorted).
    pub fn spans(&self) -> &[Owned] {
        &self.spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sp(a: u64, b: u64) -> Span {
        Span { start: a, end: b }
    }

    #[test]
    fn overlap_queries() {
        let mut l = Ledger::new();
        l.reserve(4).unwrap();
        l.insert(sp(0x1000, 0x2000), 1);
        l.insert(sp(0x5000, 0x6000), 2);
        assert_eq!(l.other_owner(&sp(0x1800, 0x1900), 2), Some(1));
        assert_eq!(l.other_owner(&sp(0x1800, 0x1900), 1), None);
        assert_eq!(l.other_owner(&sp(0x2000, 0x5000), 3), None, "touching is not overlapping");
        assert_eq!(l.other_owner(&sp(0x0, 0x10000), 1), Some(2));
    }

    #[test]
    fn same_cell_spans_merge_and_release() {
        let mut l = Ledger::new();
        l.reserve(8).unwrap();
        l.insert(sp(0x1000, 0x3000), 1);
        l.insert(sp(0x2000, 0x4000), 1);
        l.insert(sp(0x4000, 0x5000), 1);
        l.insert(sp(0x8000, 0x9000), 2);
        assert_eq!(l.spans(), &[Owned { span: sp(0x1000, 0x5000), cell: 1 }, Owned { span: sp(0x8000, 0x9000), cell: 2 }]);
        l.release(1);
        assert_eq!(l.spans().len(), 1);
        assert_eq!(l.other_owner(&sp(0x1000, 0x5000), 3), None);
    }

    #[test]
    fn stays_sorted_and_disjoint_under_random_inserts() {
        let mut l = Ledger::new();
        let mut x: u64 = 12345;
        for i in 0..500u32 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let start = (x >> 20) % 0x10_0000 * 0x1000;
            let s = sp(start, start + ((x >> 8) % 16 + 1) * 0x1000);
            let cell = 1 + i % 5;
            if l.other_owner(&s, cell).is_none() {
                l.reserve(1).unwrap();
                l.insert(s, cell);
            }
            for w in l.spans().windows(2) {
                assert!(w[0].span.end <= w[1].span.start, "{w:?}");
            }
        }
    }
}

//! Which cell owns each shared peripheral interrupt: the map the interrupt
//! path (is this SPI for the running cell?), the distributor emulation (may
//! this cell touch it?) and the ownership module read and write. The same
//! for every GIC version; the hardware side of a hand-over (disable,
//! quiesce, route, restore) is the implementation's `assign_spi` /
//! `release_spi`.
// INTIDs come from the hardware and from cells: no unchecked arithmetic.
#![cfg_attr(not(test), deny(clippy::arithmetic_side_effects))]

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// INTIDs the map covers (SPIs end at 1019; the rest are never owned).
pub const INTIDS: usize = 1024;
/// The map's value for "no cell": between a release and the root taking
/// the SPI back, and for INTIDs never handed out. Never a cell id.
pub const NO_OWNER: u8 = 0xff;

/// Owner cell of each INTID; lock-free, read on the interrupt path
/// (transparent: the assembly fast path indexes it as a byte array).
#[repr(transparent)]
pub struct SpiOwners([AtomicU8; INTIDS]);

impl SpiOwners {
    /// A map in which nobody owns anything.
    pub const fn new() -> Self {
        Self([const { AtomicU8::new(NO_OWNER) }; INTIDS])
    }

    /// Gives `irq` to `cell` ([`NO_OWNER`]: to nobody); INTIDs outside the
    /// map are ignored.
    pub fn set(&self, irq: u32, cell: u8) {
        if let Some(o) = self.0.get(irq as usize) {
            // Release: what the new owner's configuration path wrote to
            // the distributor before is visible to whoever sees the owner.
            o.store(cell, Ordering::Release);
        }
    }

    /// The owner of `irq`, `None` when nobody owns it or it is outside the map.
    pub fn get(&self, irq: u32) -> Option<u8> {
        self.0.get(irq as usize).map(|o| o.load(Ordering::Acquire)).filter(|&o| o != NO_OWNER)
    }
}

impl Default for SpiOwners {
    fn default() -> Self {
        Self::new()
    }
}

/// The map. Public for the interrupt fast path only
/// (`arch/aarch64/vectors.rs` reads it by symbol, with load-acquire as
/// [`SpiOwners::get`]); everything else goes through [`owner`] and
/// [`set_owner`].
pub static OWNERS: SpiOwners = SpiOwners::new();

/// Gives SPI `irq` to `cell` ([`NO_OWNER`]: to nobody).
pub fn set_owner(irq: u32, cell: u8) {
    OWNERS.set(irq, cell);
}

/// The owner of SPI `irq`.
#[inline]
pub fn owner(irq: u32) -> Option<u8> {
    OWNERS.get(irq)
}

/// INTIDs injected without a physical interrupt behind them (ivshmem
/// INTx): one bit each. A queued one goes to a list register with HW = 0,
/// and is dropped rather than made physically pending at a hand-back.
static VIRTUAL: [AtomicU32; INTIDS / 32] = [const { AtomicU32::new(0) }; INTIDS / 32];

/// Marks `irq` virtual (or not); INTIDs outside the map are ignored.
pub fn set_virtual(irq: u32, on: bool) {
    if let Some(w) = VIRTUAL.get(irq as usize / 32) {
        let bit = 1u32 << (irq % 32);
        if on {
            w.fetch_or(bit, Ordering::Release);
        } else {
            w.fetch_and(!bit, Ordering::Release);
        }
    }
}

/// Whether `irq` is injected as a virtual interrupt only.
#[inline]
pub fn is_virtual(irq: u32) -> bool {
    VIRTUAL.get(irq as usize / 32).is_some_and(|w| w.load(Ordering::Acquire) & (1 << (irq % 32)) != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nobody_owns_anything_at_first() {
        let m = SpiOwners::new();
        assert!((0..INTIDS as u32).all(|i| m.get(i).is_none()));
    }

    #[test]
    fn set_get_and_release() {
        let m = SpiOwners::new();
        m.set(144, 2);
        m.set(33, 0);
        assert_eq!(m.get(144), Some(2));
        assert_eq!(m.get(33), Some(0), "the root (cell 0) is an owner like any other");
        assert_eq!(m.get(145), None);
        m.set(144, NO_OWNER);
        assert_eq!(m.get(144), None);
        m.set(144, 0);
        assert_eq!(m.get(144), Some(0));
    }

    #[test]
    fn virtual_marks() {
        assert!(!is_virtual(200));
        set_virtual(200, true);
        set_virtual(201, true);
        assert!(is_virtual(200) && is_virtual(201) && !is_virtual(199));
        set_virtual(200, false);
        assert!(!is_virtual(200) && is_virtual(201));
        set_virtual(201, false);
        set_virtual(5000, true);
        assert!(!is_virtual(5000));
    }

    #[test]
    fn out_of_range_is_nobodys_and_ignored() {
        let m = SpiOwners::new();
        m.set(1024, 1);
        m.set(u32::MAX, 1);
        assert_eq!(m.get(1024), None);
        assert_eq!(m.get(u32::MAX), None);
        assert!((0..INTIDS as u32).all(|i| m.get(i).is_none()), "no wrap-around into the map");
    }
}

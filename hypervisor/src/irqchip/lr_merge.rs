//! What a new delivery of an interrupt does to a list register that
//! already holds a valid entry for the same virtual INTID (both GIC
//! versions; the chips map their entry formats onto [`Entry`]).
//!
//! Two valid list registers with one vINTID are UNPREDICTABLE (GICv3
//! architecture, ICH_LR<n>_EL2; GICv2, GICH_LR<n>), so a second delivery
//! must join the entry that is there. It can come: a virtual interrupt
//! (SGI, ivshmem INTx) posted again, and a hardware SPI whose physical
//! active state its owner cleared itself (GICD_ICACTIVER is passed through
//! for its own SPIs) while the entry still lived, so that the GIC
//! delivered it again.

/// The bits of the entry already in the list register that decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    /// HW = 1: the guest's deactivation deactivates the physical one.
    pub hw: bool,
    /// Pending (alone or with active).
    pub pending: bool,
    /// HW = 0 with the EOI maintenance request: the hypervisor deactivates
    /// a physical interrupt itself at the guest's EOI (safe mode, the
    /// GICv2 EOI quirk).
    pub eoi: bool,
}

/// The answer for a delivery (`hw`: of a physical interrupt).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// The entry stands for both deliveries as it is.
    Keep,
    /// The entry becomes pending too (active and pending: taken again
    /// after the guest's EOI).
    SetPending,
    /// It cannot stand for a physical delivery (HW = 0 without the EOI
    /// request: nobody would deactivate the physical interrupt): a
    /// separate entry, as before this check.
    Separate,
}

pub fn merge(entry: Entry, hw: bool) -> Merge {
    if entry.hw {
        // Its pending state is the GIC's (active and pending is not
        // allowed with HW = 1). Pending: the guest's EOI of it ends the
        // new activation. Active: the owner cleared the physical state
        // under its own handler; its EOI now ends the new activation, so
        // a level interrupt still asserted comes again and an edge is
        // lost, which only that owner caused. Nothing stays active.
        return Merge::Keep;
    }
    if hw && !entry.eoi {
        return Merge::Separate;
    }
    if entry.pending {
        Merge::Keep
    } else {
        Merge::SetPending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn e(hw: bool, pending: bool, eoi: bool) -> Entry {
        Entry { hw, pending, eoi }
    }

    #[test]
    fn hardware_entry_is_kept_for_any_delivery() {
        for pending in [false, true] {
            for hw in [false, true] {
                assert_eq!(merge(e(true, pending, false), hw), Merge::Keep);
            }
        }
    }

    #[test]
    fn virtual_entry_pending_once_then_active_and_pending() {
        assert_eq!(merge(e(false, true, false), false), Merge::Keep);
        assert_eq!(merge(e(false, false, false), false), Merge::SetPending);
    }

    #[test]
    fn physical_delivery_joins_only_an_entry_that_deactivates_it() {
        assert_eq!(merge(e(false, false, true), true), Merge::SetPending);
        assert_eq!(merge(e(false, true, true), true), Merge::Keep);
        assert_eq!(merge(e(false, false, false), true), Merge::Separate);
        assert_eq!(merge(e(false, true, false), true), Merge::Separate);
    }
}

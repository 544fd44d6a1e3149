//! GICv2 virtual interface control (GICH) registers and the list-register
//! layout used for injection: the hypervisor writes a pending entry, the
//! guest acknowledges and EOIs it through GICV (mapped at its GICC
//! address), and a hardware entry (HW = 1) deactivates the physical
//! interrupt with the guest's EOI.

/// GICH_HCR: En (virtual CPU interface on), UIE (maintenance interrupt
/// when at most one list register is in use: refill from the queue).
pub const HCR: u64 = 0x000;
pub const HCR_EN: u32 = 1 << 0;
pub const HCR_UIE: u32 = 1 << 1;
/// GICH_VTR: ListRegs in bits 5:0 (number of list registers - 1).
pub const VTR: u64 = 0x004;
/// GICH_VMCR: the virtual interface's state (priority mask, enables).
pub const VMCR: u64 = 0x008;
/// GICH_MISR: which maintenance condition fired.
pub const MISR: u64 = 0x010;
/// GICH_EISR0/1: a bit per list register whose EOI-flagged entry the
/// guest completed (the entry is invalid now, its EOI bit still set).
pub const EISR0: u64 = 0x020;
pub const EISR1: u64 = 0x024;
/// GICH_ELRSR0/1: a bit per list register that holds nothing.
pub const ELRSR0: u64 = 0x030;
pub const ELRSR1: u64 = 0x034;
/// GICH_APR: active priorities.
pub const APR: u64 = 0x0f0;
/// GICH_LR<n> at 0x100 + 4n.
pub const LR0: u64 = 0x100;

const VIRTUAL_ID: u32 = 0x3ff;
const PHYSICAL_SHIFT: u32 = 10;
const CPUID_SHIFT: u32 = 10;
const PRIORITY_SHIFT: u32 = 23;
const STATE_SHIFT: u32 = 28;
/// State bits: pending, active.
pub const PENDING: u32 = 1 << STATE_SHIFT;
pub const ACTIVE: u32 = 2 << STATE_SHIFT;
/// Deactivates the physical interrupt of the same ID at the guest's EOI.
pub const HW: u32 = 1 << 31;
/// Of an entry without HW: raise the maintenance interrupt when the guest
/// completes it (GICH_EISR names the entry), so the hypervisor
/// deactivates the physical interrupt itself (see `software_deactivated`).
pub const EOI: u32 = 1 << 19;

/// Number of list registers from GICH_VTR.
pub fn num_lrs(vtr: u32) -> usize {
    (vtr & 0x3f) as usize + 1
}

/// A pending entry for `intid` at priority `prio` (its top 5 bits): HW
/// for a physical interrupt, else a virtual one that names its source
/// CPU interface (`source`, for SGIs; 0 otherwise).
pub fn pending(intid: u32, hw: bool, source: u8, prio: u8) -> u32 {
    let id = intid & VIRTUAL_ID;
    let prio = u32::from(prio >> 3) << PRIORITY_SHIFT;
    if hw {
        HW | PENDING | prio | (id << PHYSICAL_SHIFT) | id
    } else {
        PENDING | prio | (u32::from(source & 7) << CPUID_SHIFT) | id
    }
}

/// A pending entry for the physical interrupt `intid` that the hypervisor
/// deactivates itself: no HW bit, the EOI bit instead, so the guest's
/// EOI (or, in split mode, its deactivation) raises the maintenance
/// interrupt and the hypervisor writes GICC_DIR. Used where a HW entry's
/// deactivation is not seen by the physical interface (`phys::eoi_quirk`).
pub fn software_deactivated(intid: u32, prio: u8) -> u32 {
    pending(intid, false, 0, prio) | EOI
}

/// The entry's state (0: free, 1: pending, 2: active, 3: both).
pub fn state(lr: u32) -> u32 {
    (lr >> STATE_SHIFT) & 3
}

/// The virtual interrupt ID the entry holds.
pub fn vintid(lr: u32) -> u32 {
    lr & VIRTUAL_ID
}

/// The physical interrupt ID of a HW entry.
pub fn pintid(lr: u32) -> u32 {
    (lr >> PHYSICAL_SHIFT) & VIRTUAL_ID
}

/// What a second delivery of the entry's INTID looks at
/// (`irqchip::lr_merge`).
pub fn entry(lr: u32) -> crate::irqchip::lr_merge::Entry {
    crate::irqchip::lr_merge::Entry {
        hw: lr & HW != 0,
        pending: lr & PENDING != 0,
        eoi: lr & HW == 0 && lr & EOI != 0,
    }
}

/// A bit per implemented list register, of `n`.
pub fn implemented(n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        (1u64 << n) - 1
    }
}

/// The first free list register from ELRSR0/1, among `n` implemented.
pub fn free_lr(elrsr0: u32, elrsr1: u32, n: usize) -> Option<usize> {
    let free = (u64::from(elrsr1) << 32 | u64::from(elrsr0)) & implemented(n);
    (free != 0).then(|| free.trailing_zeros() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_entry_names_the_physical_interrupt() {
        let lr = pending(27, true, 0, 0xa0);
        assert_eq!(lr, 0x9000_0000 | (0x14 << 23) | (27 << 10) | 27);
        assert_eq!((state(lr), vintid(lr), pintid(lr)), (1, 27, 27));
        assert_ne!(lr & HW, 0);
    }

    #[test]
    fn virtual_sgi_names_its_source_cpu() {
        let lr = pending(3, false, 2, 0x80);
        assert_eq!(lr, PENDING | (0x10 << 23) | (2 << 10) | 3);
        assert_eq!(lr & HW, 0);
        assert_eq!(vintid(lr), 3);
        assert_eq!(pending(3, false, 9, 0) & (7 << 10), 1 << 10, "source limited to 3 bits");
    }

    #[test]
    fn entry_bits_for_a_second_delivery() {
        use crate::irqchip::lr_merge::Entry;
        assert_eq!(entry(pending(40, true, 0, 0xa0)), Entry { hw: true, pending: true, eoi: false });
        assert_eq!(entry(pending(3, false, 1, 0xa0)), Entry { hw: false, pending: true, eoi: false });
        // Active only, the hypervisor to deactivate it (the EOI quirk).
        let active = (software_deactivated(40, 0xa0) & !PENDING) | ACTIVE;
        assert_eq!(entry(active), Entry { hw: false, pending: false, eoi: true });
    }

    #[test]
    fn software_deactivated_entry_asks_for_the_eoi() {
        let lr = software_deactivated(27, 0xa0);
        assert_eq!(lr, PENDING | (0x14 << 23) | EOI | 27);
        assert_eq!((lr & HW, vintid(lr), state(lr)), (0, 27, 1));
    }

    #[test]
    fn list_register_count_and_free_slot() {
        assert_eq!(num_lrs(0x9000_0003), 4);
        assert_eq!(free_lr(0b1100, 0, 4), Some(2));
        assert_eq!(free_lr(0xffff_fff0, 0, 4), None, "unimplemented ones do not count");
        assert_eq!(free_lr(0, 1, 64), Some(32));
    }
}

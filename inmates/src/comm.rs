//! The cell's communication region (jailhouse-abi.md §5), read and written
//! with volatile accesses because the hypervisor changes it at any time.

/// Guest-physical address of the comm region in non-root cells.
pub const COMM_REGION_BASE: usize = 0x8000_0000;
pub const SIGNATURE: [u8; 6] = *b"JHCOMM";

/// Field offsets.
const OFF_SIGNATURE: usize = 0;
const OFF_REVISION: usize = 6;
const OFF_CELL_STATE: usize = 8;
const OFF_MSG_TO_CELL: usize = 12;
const OFF_REPLY_FROM_CELL: usize = 16;
const OFF_FLAGS: usize = 20;
/// `struct jailhouse_console` (32 bytes): address u64, size u32, type u16,
/// flags u16, divider u32, gate_nr u32, clock_reg u64.
const OFF_CONSOLE: usize = 24;
const OFF_PCI_MMCONFIG_BASE: usize = 56;
const OFF_GIC_VERSION: usize = 64;
const OFF_GICD_BASE: usize = 72;
const OFF_GICC_BASE: usize = 80;
const OFF_GICR_BASE: usize = 88;
const OFF_VPCI_IRQ_BASE: usize = 96;

/// Comm region flags: the cell may use DEBUG_CONSOLE_PUTC, and should.
pub const FLAG_DBG_PUTC_PERMITTED: u32 = 0x1;
pub const FLAG_DBG_PUTC_ACTIVE: u32 = 0x2;

/// The cell config's console, as the hypervisor copied it to the region.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommConsole {
    pub address: u64,
    pub size: u32,
    pub console_type: u16,
    pub flags: u16,
    pub divider: u32,
}

/// Messages to the cell.
pub const MSG_NONE: u32 = 0;
pub const MSG_SHUTDOWN_REQUEST: u32 = 1;
pub const MSG_RECONFIG_COMPLETED: u32 = 2;
/// Replies from the cell.
pub const MSG_UNKNOWN: u32 = 1;
pub const MSG_REQUEST_DENIED: u32 = 2;
pub const MSG_REQUEST_APPROVED: u32 = 3;
pub const MSG_RECEIVED: u32 = 4;

/// `cell_state` values (the cell writes RUNNING_LOCKED and RUNNING itself,
/// and may end with SHUT_DOWN as Jailhouse's demos do; the hypervisor
/// writes the others).
pub const CELL_RUNNING: u32 = 0;
pub const CELL_RUNNING_LOCKED: u32 = 1;
pub const CELL_SHUT_DOWN: u32 = 2;
pub const CELL_FAILED: u32 = 3;

/// How a cell answers SHUTDOWN_REQUEST ([`CommRegion::answer`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approve,
    Deny,
    /// No reply at all (the hypervisor gives up after its timeout).
    Ignore,
}

/// A comm region at a fixed address. Constructing one is unsafe: the page
/// must be mapped readable and writable.
#[derive(Debug, Clone, Copy)]
pub struct CommRegion {
    base: usize,
}

impl CommRegion {
    /// # Safety
    /// `base` must be the address of a mapped, 8-byte aligned page that may
    /// be read and written with volatile accesses for the program's lifetime.
    pub const unsafe fn at(base: usize) -> Self {
        Self { base }
    }

    fn read<T: Copy>(&self, off: usize) -> T {
        // SAFETY: `at`'s contract: the page is mapped; every caller passes a
        // field offset inside it, aligned for T.
        unsafe { ((self.base + off) as *const T).read_volatile() }
    }

    fn write<T: Copy>(&self, off: usize, value: T) {
        // SAFETY: as in `read`.
        unsafe { ((self.base + off) as *mut T).write_volatile(value) }
    }

    /// True when the page carries the `JHCOMM` signature.
    pub fn is_valid(&self) -> bool {
        (0..SIGNATURE.len()).all(|i| self.read::<u8>(OFF_SIGNATURE + i) == SIGNATURE[i])
    }

    pub fn revision(&self) -> u16 {
        self.read(OFF_REVISION)
    }

    pub fn cell_state(&self) -> u32 {
        self.read(OFF_CELL_STATE)
    }

    pub fn msg_to_cell(&self) -> u32 {
        self.read(OFF_MSG_TO_CELL)
    }

    pub fn reply_from_cell(&self) -> u32 {
        self.read(OFF_REPLY_FROM_CELL)
    }

    pub fn flags(&self) -> u32 {
        self.read(OFF_FLAGS)
    }

    pub fn console(&self) -> CommConsole {
        CommConsole {
            address: self.read(OFF_CONSOLE),
            size: self.read(OFF_CONSOLE + 8),
            console_type: self.read(OFF_CONSOLE + 12),
            flags: self.read(OFF_CONSOLE + 14),
            divider: self.read(OFF_CONSOLE + 16),
        }
    }

    /// Guest-physical base of the virtual PCI host's ECAM (0: none).
    pub fn pci_mmconfig_base(&self) -> u64 {
        self.read(OFF_PCI_MMCONFIG_BASE)
    }

    /// The cell's `vpci_irq_base` (INTx of pin P = 32 + it + P - 1).
    pub fn vpci_irq_base(&self) -> u32 {
        self.read(OFF_VPCI_IRQ_BASE)
    }

    pub fn gic_version(&self) -> u8 {
        self.read(OFF_GIC_VERSION)
    }

    pub fn gicd_base(&self) -> u64 {
        self.read(OFF_GICD_BASE)
    }

    pub fn gicc_base(&self) -> u64 {
        self.read(OFF_GICC_BASE)
    }

    pub fn gicr_base(&self) -> u64 {
        self.read(OFF_GICR_BASE)
    }

    /// Answers the pending message: clear it first, then publish the reply,
    /// so the hypervisor never sees a reply next to a stale message (the
    /// order and barrier of Jailhouse's `jailhouse_send_reply_from_cell`).
    pub fn reply(&self, reply: u32) {
        self.write(OFF_MSG_TO_CELL, MSG_NONE);
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        self.write(OFF_REPLY_FROM_CELL, reply);
    }

    /// Sets this cell's `cell_state` (RUNNING_LOCKED locks the system
    /// against reconfiguration; RUNNING unlocks it).
    pub fn set_cell_state(&self, state: u32) {
        self.write(OFF_CELL_STATE, state);
    }

    /// Handles a pending message the simple way every demo wants: approve a
    /// shutdown request, acknowledge anything else. Returns the message.
    pub fn poll_messages(&self) -> u32 {
        self.answer(Answer::Approve)
    }

    /// Handles a pending message: a shutdown request as `shutdown` says,
    /// RECONFIG_COMPLETED with RECEIVED, anything else with UNKNOWN
    /// (nothing at all with [`Answer::Ignore`]). Returns the message.
    pub fn answer(&self, shutdown: Answer) -> u32 {
        let msg = self.msg_to_cell();
        if shutdown == Answer::Ignore {
            return msg;
        }
        match msg {
            MSG_NONE => {}
            MSG_SHUTDOWN_REQUEST if shutdown == Answer::Approve => self.reply(MSG_REQUEST_APPROVED),
            MSG_SHUTDOWN_REQUEST => self.reply(MSG_REQUEST_DENIED),
            MSG_RECONFIG_COMPLETED => self.reply(MSG_RECEIVED),
            _ => self.reply(MSG_UNKNOWN),
        }
        msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C, align(8))]
    struct Page([u8; 4096]);

    fn region(page: &mut Page) -> CommRegion {
        // SAFETY: the page is a live, aligned local buffer.
        unsafe { CommRegion::at(page.0.as_mut_ptr() as usize) }
    }

    #[test]
    fn reads_signature_and_gic_bases() {
        let mut page = Page([0; 4096]);
        page.0[..6].copy_from_slice(b"JHCOMM");
        page.0[6..8].copy_from_slice(&2u16.to_le_bytes());
        page.0[64] = 3;
        page.0[72..80].copy_from_slice(&0x0800_0000u64.to_le_bytes());
        page.0[88..96].copy_from_slice(&0x080a_0000u64.to_le_bytes());
        page.0[24..32].copy_from_slice(&0x0900_0000u64.to_le_bytes());
        page.0[36..38].copy_from_slice(&3u16.to_le_bytes());
        page.0[38..40].copy_from_slice(&3u16.to_le_bytes());
        page.0[40..44].copy_from_slice(&7u32.to_le_bytes());
        page.0[56..64].copy_from_slice(&0x08e0_0000u64.to_le_bytes());
        page.0[96..100].copy_from_slice(&112u32.to_le_bytes());
        let c = region(&mut page);
        assert_eq!(c.pci_mmconfig_base(), 0x08e0_0000);
        assert_eq!(c.vpci_irq_base(), 112);
        let con = c.console();
        assert_eq!((con.address, con.console_type, con.flags, con.divider), (0x0900_0000, 3, 3, 7));
        assert!(c.is_valid());
        assert_eq!(c.revision(), 2);
        assert_eq!(c.gic_version(), 3);
        assert_eq!(c.gicd_base(), 0x0800_0000);
        assert_eq!(c.gicr_base(), 0x080a_0000);
    }

    #[test]
    fn rejects_missing_signature() {
        let mut page = Page([0; 4096]);
        page.0[..6].copy_from_slice(b"JHCOMX");
        assert!(!region(&mut page).is_valid());
    }

    // A cell built with Jailhouse's inmate library (inmates/lib and
    // include/jailhouse/hypercall.h, read for facts only) does the same:
    // `cell_state` at 8, `msg_to_cell` at 12, `reply_from_cell` at 16;
    // SHUTDOWN_REQUEST 1, RECONFIG_COMPLETED 2; UNKNOWN 1, DENIED 2,
    // APPROVED 3, RECEIVED 4; RUNNING_LOCKED 1; and its reply clears the
    // message before it writes the reply, with a barrier between.
    #[test]
    fn jailhouse_offsets_values_and_order() {
        assert_eq!((OFF_CELL_STATE, OFF_MSG_TO_CELL, OFF_REPLY_FROM_CELL), (8, 12, 16));
        assert_eq!((MSG_SHUTDOWN_REQUEST, MSG_RECONFIG_COMPLETED), (1, 2));
        assert_eq!((MSG_UNKNOWN, MSG_REQUEST_DENIED, MSG_REQUEST_APPROVED, MSG_RECEIVED), (1, 2, 3, 4));
        assert_eq!((CELL_RUNNING, CELL_RUNNING_LOCKED, CELL_SHUT_DOWN, CELL_FAILED), (0, 1, 2, 3));
        let mut page = Page([0; 4096]);
        let c = region(&mut page);
        c.set_cell_state(CELL_RUNNING_LOCKED);
        page.0[12] = MSG_SHUTDOWN_REQUEST as u8;
        let c = region(&mut page);
        assert_eq!(c.answer(Answer::Deny), MSG_SHUTDOWN_REQUEST);
        assert_eq!((page.0[8], page.0[12], page.0[16]), (1, 0, 2));
    }

    #[test]
    fn ignoring_leaves_the_message_and_no_reply() {
        let mut page = Page([0; 4096]);
        page.0[12] = MSG_SHUTDOWN_REQUEST as u8;
        let c = region(&mut page);
        assert_eq!(c.answer(Answer::Ignore), MSG_SHUTDOWN_REQUEST);
        assert_eq!((c.msg_to_cell(), c.reply_from_cell()), (MSG_SHUTDOWN_REQUEST, 0));
    }

    #[test]
    fn reconfig_completed_is_received_even_when_denying() {
        let mut page = Page([0; 4096]);
        page.0[12] = MSG_RECONFIG_COMPLETED as u8;
        let c = region(&mut page);
        assert_eq!(c.answer(Answer::Deny), MSG_RECONFIG_COMPLETED);
        assert_eq!(c.reply_from_cell(), MSG_RECEIVED);
    }

    #[test]
    fn approves_shutdown_and_clears_message() {
        let mut page = Page([0; 4096]);
        page.0[12] = MSG_SHUTDOWN_REQUEST as u8;
        let c = region(&mut page);
        assert_eq!(c.poll_messages(), MSG_SHUTDOWN_REQUEST);
        assert_eq!(c.msg_to_cell(), MSG_NONE);
        assert_eq!(c.reply_from_cell(), MSG_REQUEST_APPROVED);
    }
}

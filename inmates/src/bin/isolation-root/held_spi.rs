//! The root holding one of its SPIs (33, the UART) acknowledged while the
//! ICC_WRITES attack writes that INTID to ICC_EOIR1/DIR
//! (docs/direct-delivery.md, "A foreign EOI"). The root takes a real
//! delivery of it (made pending through the emulated GICD_ISPENDR1,
//! acknowledged by polling ICC_IAR1_EL1 with IRQs masked), drops its
//! priority only (EOImode 1), and keeps it active over the attack. Then
//! it makes it pending once more: an SPI still held (active, or kept
//! disabled by the hypervisor's safe mode) is not delivered again before
//! the root's own deactivation (ICC_DIR_EL1), and exactly once after it.
//! One the cell deactivated early is delivered again at once.
use core::arch::asm;

const SPI: u64 = 33;
/// ICC_IAR1_EL1 polls for one delivery (each a QEMU system-register
/// access, no exit).
const POLLS: u32 = 200_000;

/// The root's virtual CPU interface as it was before [`hold`].
pub struct Held {
    pmr: u64,
    ctlr: u64,
    grpen: u64,
    /// The first delivery arrived (and is held).
    pub acked: bool,
}

macro_rules! mrs {
    ($reg:literal) => {{
        let v: u64;
        // SAFETY: a read of this CPU's (virtual) GIC CPU interface; the
        // root keeps IRQs masked, so an acknowledgement is only polled.
        unsafe { asm!(concat!("mrs {}, ", $reg), out(reg) v, options(nomem, nostack)) };
        v
    }};
}

macro_rules! msr {
    ($reg:literal, $v:expr) => {
        // SAFETY: a write of this CPU's (virtual) GIC CPU interface, of
        // an INTID this program acknowledged or of its own settings.
        unsafe { asm!(concat!("msr ", $reg, ", {}"), "isb", in(reg) ($v as u64), options(nomem, nostack)) }
    };
}

fn set_pending(gicd: u64) {
    // SAFETY: the root owns SPI 33; GICD_ISPENDR1 is trapped and emulated.
    unsafe { ((gicd + 0x204) as *mut u32).write_volatile(1 << 1) };
}

/// Polls for deliveries of SPI 33 (anything else acknowledged is ended at
/// once); returns how many arrived, each ended only if `end`.
fn poll(polls: u32, stop_at_first: bool, end: bool) -> u32 {
    let mut got = 0;
    for _ in 0..polls {
        let intid = mrs!("s3_0_c12_c12_0") & 0xff_ffff; // ICC_IAR1_EL1
        if intid >= 1020 {
            continue;
        }
        msr!("s3_0_c12_c12_1", intid); // ICC_EOIR1_EL1: priority drop
        if intid != SPI || end {
            msr!("s3_0_c12_c11_1", intid); // ICC_DIR_EL1
        }
        if intid == SPI {
            got += 1;
            if stop_at_first {
                break;
            }
        }
    }
    got
}

/// Makes SPI 33 deliverable to this CPU: Group 1 (its reset group is 0,
/// which the hypervisor gives nobody), a middle priority, routed here.
pub fn prepare(gicd: u64) {
    let mpidr = mrs!("mpidr_el1") & 0xff_00ff_ffff;
    // SAFETY: the root owns SPI 33; IGROUPR1, IPRIORITYR and IROUTER33
    // are trapped and emulated for its owner.
    unsafe {
        let group = (gicd + 0x84) as *mut u32;
        group.write_volatile(group.read_volatile() | 1 << 1);
        ((gicd + 0x400 + SPI) as *mut u8).write_volatile(0xa0);
        ((gicd + 0x6000 + SPI * 8) as *mut u64).write_volatile(mpidr);
    }
}

/// Takes one delivery of SPI 33 and holds it active (priority dropped).
pub fn hold(gicd: u64) -> Held {
    let held = Held {
        pmr: mrs!("s3_0_c4_c6_0"),
        ctlr: mrs!("s3_0_c12_c12_4"),
        grpen: mrs!("s3_0_c12_c12_7"),
        acked: false,
    };
    msr!("s3_0_c4_c6_0", 0xf0); // ICC_PMR_EL1
    msr!("s3_0_c12_c12_4", held.ctlr | 1 << 1); // ICC_CTLR_EL1.EOImode = 1
    msr!("s3_0_c12_c12_7", 1); // ICC_IGRPEN1_EL1
    set_pending(gicd);
    let acked = poll(POLLS, true, false) == 1;
    Held { acked, ..held }
}

/// After the attack: (deliveries while still held, deliveries after the
/// root's own deactivation); the interface restored.
pub fn release(gicd: u64, held: &Held) -> (u32, u32) {
    set_pending(gicd);
    let early = poll(POLLS / 4, false, true);
    if held.acked {
        msr!("s3_0_c12_c11_1", SPI); // ICC_DIR_EL1: the root's own end
    }
    let after = if early == 0 { poll(POLLS, true, true) } else { 0 };
    msr!("s3_0_c12_c12_7", held.grpen);
    msr!("s3_0_c12_c12_4", held.ctlr);
    msr!("s3_0_c4_c6_0", held.pmr);
    (early, after)
}

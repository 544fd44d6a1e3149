//! Rust side of the exception vectors: interrupt dispatch to one registered
//! handler, and a report for every exception the programs do not expect.
use crate::gic;
use core::sync::atomic::{AtomicPtr, Ordering};

/// Register state saved by the vector stubs (layout fixed by `boot.rs`).
#[repr(C)]
#[derive(Debug)]
pub struct TrapFrame {
    pub x: [u64; 31],
    pub elr: u64,
    pub spsr: u64,
    pub fpsr: u64,
    pub fpcr: u64,
    _pad: u64,
    pub q: [u128; 32],
}

const _: () = assert!(core::mem::size_of::<TrapFrame>() == 800);

/// Vector kinds (index of the 0x80-byte slot in the table).
const KIND_NAMES: [&str; 16] = [
    "sync/el1t",
    "irq/el1t",
    "fiq/el1t",
    "serror/el1t",
    "sync/el1h",
    "irq/el1h",
    "fiq/el1h",
    "serror/el1h",
    "sync/el0-64",
    "irq/el0-64",
    "fiq/el0-64",
    "serror/el0-64",
    "sync/el0-32",
    "irq/el0-32",
    "fiq/el0-32",
    "serror/el0-32",
];

/// Called for every acknowledged interrupt with its INTID; null = none.
static IRQ_HANDLER: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

/// Sets the function that handles interrupts (before unmasking them).
pub fn set_irq_handler(handler: fn(u32)) {
    IRQ_HANDLER.store(handler as *mut (), Ordering::Release);
}

fn dispatch_irq() {
    let intid = gic::acknowledge();
    if gic::is_spurious(intid) {
        return;
    }
    let ptr = IRQ_HANDLER.load(Ordering::Acquire);
    if !ptr.is_null() {
        // SAFETY: IRQ_HANDLER is only ever written by `set_irq_handler`,
        // from a value of type `fn(u32)`, so a non-null pointer is one.
        let handler = unsafe { core::mem::transmute::<*mut (), fn(u32)>(ptr) };
        handler(intid);
    }
    gic::end_of_interrupt(intid);
}

#[no_mangle]
extern "C" fn __exception_handler(kind: u64, frame: &mut TrapFrame) {
    match kind {
        1 | 5 => dispatch_irq(),
        _ => {
            let name = KIND_NAMES.get(kind as usize).copied().unwrap_or("?");
            panic!(
                "unexpected exception {name}: ESR_EL1 {:#x} ELR_EL1 {:#x} FAR_EL1 {:#x}",
                crate::cpu::esr_el1(),
                frame.elr,
                crate::cpu::far_el1()
            );
        }
    }
}

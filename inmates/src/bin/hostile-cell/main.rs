//! hostile-cell: one program, several roles, chosen by the ROLE word the
//! isolation root writes into the mailbox before CELL_START:
//! - an attack number (`attack_ids.rs`): try one forbidden thing, reporting
//!   progress and return values in the mailbox (the cell has no console);
//! - `ROLE_VICTIM`: the well-behaved neighbour that keeps a checksum of its
//!   own memory, a heartbeat in its mailbox and a tick line on the UART.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod attack_ids;
#[cfg(target_os = "none")]
mod attacks;
#[cfg(target_os = "none")]
mod direct;
#[cfg(target_os = "none")]
mod mailbox;
#[cfg(target_os = "none")]
mod stage1;
#[cfg(target_os = "none")]
mod victim;

#[cfg(target_os = "none")]
mod program {
    use super::mailbox::{Mailbox, CELL_MAILBOX, ROLE, ROLE_VICTIM};
    use syshyper_inmates::cpu;

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        // SAFETY: both configs map the mailbox page read/write at CELL_MAILBOX.
        let mb = unsafe { Mailbox::at(CELL_MAILBOX) };
        match mb.read(ROLE) {
            ROLE_VICTIM => super::victim::run(mb),
            attack => super::attacks::run(mb, attack),
        }
        cpu::park()
    }
}

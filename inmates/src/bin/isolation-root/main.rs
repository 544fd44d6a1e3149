//! isolation-root: the boot-first root program of the isolation suite.
//! It starts a victim cell, runs each attack of a hostile cell in a cell of
//! its own and verifies after each that the root, the victim and the
//! hypervisor are unharmed; then feeds the hypervisor bad management calls;
//! and prints a table `| attack | expected | observed |` before the usual
//! `[PASS]`/`[FAIL]` summary (contracts.md test protocol).
//!
//! With a bundle entry named `mode:accounting` it runs only the lifecycle
//! accounting loop (1000 create/load/start/destroy cycles), so that its
//! system test can forbid every hypervisor warning of the run.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
#[path = "../hostile-cell/attack_ids.rs"]
mod attack_ids;
#[cfg(target_os = "none")]
#[path = "../hostile-cell/mailbox.rs"]
mod mailbox;

#[cfg(target_os = "none")]
mod accounting;
#[cfg(target_os = "none")]
mod attacks;
#[cfg(target_os = "none")]
mod bad_calls;
#[cfg(target_os = "none")]
mod config_race;
#[cfg(target_os = "none")]
mod env;
#[cfg(target_os = "none")]
mod held_spi;
#[cfg(target_os = "none")]
mod table;

#[cfg(target_os = "none")]
mod program {
    use super::env::Env;
    use syshyper_inmates::{check, panic, println};

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        panic::exit_on_panic();
        println!("isolation-root: started");
        let Some(env) = Env::new() else {
            check!(
                "isolation: bundle with hostile-cell.bin, hostile.cell, victim.cell",
                false
            );
            check::finish()
        };
        if env.bundle.find("mode:accounting").is_some() {
            super::accounting::run(&env);
        } else {
            super::attacks::run(&env);
        }
        super::table::print();
        check::finish()
    }
}

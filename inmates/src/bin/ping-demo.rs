//! ping-demo: the smallest useful cell for lifecycle loops. It adds 1 to
//! word 0 of the root-shared page, so the root sees each start without
//! waiting for console output, then sleeps.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::{cell, cpu};

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        if let Some(page) = cell::shared_page() {
            page.write(0, page.read(0).wrapping_add(1));
        }
        cpu::park()
    }
}

//! ivshmem-demo: the cell side of docs/ivshmem.md's demo protocol.
//!
//! Finds the cell's first ivshmem function on the virtual PCI host (ECAM
//! and INTx base from the comm region), places BAR0, prints its ID,
//! maximum peers and section sizes, leaves a hello text at the start of
//! its output section, sets its state to ID + 1 and then works from its
//! INTx only (`service`): it prints every peer's state change and new
//! hello text (answering texts from lower IDs with its own), and answers
//! every new PING record with a PONG (the ping-pong exchange). A timer
//! wakes it every 50 ms besides, so that it answers the hypervisor's
//! comm-region messages (docs/lifecycle.md) when no doorbell rings.
//!
//! Command line (`cell load ... -s "mode=..." -a 0x1000`): `mode=hostile-out`
//! and `mode=hostile-state` write where the contract forbids (another
//! peer's output section, the state table: the cell must fail);
//! `mode=bad-doorbell` rings targets that do not exist (nothing may happen)
//! and then, as a control, peer 0 (see `hostile`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod hostile;
#[cfg(target_os = "none")]
mod service;

#[cfg(target_os = "none")]
mod program {
    use super::{hostile, service};
    use syshyper_inmates::cmdline::Cmdline;
    use syshyper_inmates::gic::Gic;
    use syshyper_inmates::ivshmem::{Device, Platform};
    use core::sync::atomic::{AtomicU64, Ordering};
    use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};
    use syshyper_inmates::{cell, console, cpu, exceptions, println, ticks};

    /// Wake-up period: bounds how late a comm-region message is seen.
    const WAKE_NS: u64 = 50_000_000;
    static WAKE_TICKS: AtomicU64 = AtomicU64::new(1);

    /// The doorbell (INTx) to the service, the timer re-armed.
    fn on_irq(intid: u32) {
        if intid == VIRT_TIMER_INTID {
            timer::set_deadline(timer::counter() + WAKE_TICKS.load(Ordering::Relaxed));
        } else {
            service::on_irq(intid);
        }
    }

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let Some(comm) = cell::comm_region() else {
            println!("IVSHMEM: no comm region (not in a cell), nothing to do");
            cpu::park();
        };
        let platform = Platform {
            mmconfig_base: comm.pci_mmconfig_base(),
            // The comm region does not carry the end bus; the shipped
            // system configs have one bus (docs/ivshmem.md, BAR0 placement).
            end_bus: 0,
            vpci_irq_base: comm.vpci_irq_base(),
        };
        if platform.mmconfig_base == 0 {
            println!("IVSHMEM: no virtual PCI host, nothing to do");
            cpu::park();
        }
        // SAFETY: the platform comes from this cell's comm region; its
        // config maps the function's sections as the contract says.
        let dev = match unsafe { Device::open(&platform, 0) } {
            Ok(d) => d,
            Err(e) => {
                println!("IVSHMEM: {e} .. nothing to do");
                cpu::park();
            }
        };
        let f = &dev.function;
        let s = dev.sections();
        println!(
            "IVSHMEM: found device {} (protocol {:#06x}), bar0 at {:#x}",
            f.bdf,
            f.protocol,
            platform.bar0_for(f.index)
        );
        println!("IVSHMEM: ID is {}, max. peers is {}", dev.id, dev.peers);
        println!(
            "IVSHMEM: state table {:#x} ({} bytes), R/W section {:#x} ({} bytes), output sections {} bytes, own at {:#x}",
            s.state_table,
            s.state_table_size,
            s.rw_section(),
            s.rw_size,
            s.out_size,
            s.output(dev.id)
        );
        println!("IVSHMEM: INTx is INTID {}", dev.intid);

        let line = console::cmdline_copy();
        let mode = Cmdline::new(&line).str("mode").unwrap_or("demo");
        match mode {
            "hostile-out" => hostile::write_foreign_output(&dev),
            "hostile-state" => hostile::write_state_table(&dev),
            "bad-doorbell" => hostile::bad_doorbells(&dev),
            "demo" => {}
            other => {
                println!("IVSHMEM: unknown mode {other}");
                cpu::park();
            }
        }

        // SAFETY: the GIC bases come from this cell's comm region.
        let gic = match unsafe { Gic::new(comm.gicd_base() as usize, comm.gicr_base() as usize) } {
            Ok(g) => g,
            Err(e) => {
                println!("IVSHMEM: {e}");
                cpu::park();
            }
        };
        gic.init(false);
        service::init(dev);
        exceptions::set_irq_handler(on_irq);
        gic.enable_spi(dev.intid);
        gic.enable_private(VIRT_TIMER_INTID);
        WAKE_TICKS.store(ticks::ns_to_ticks(WAKE_NS, timer::frequency()).max(1), Ordering::Relaxed);
        timer::set_deadline(timer::counter() + WAKE_TICKS.load(Ordering::Relaxed));
        dev.set_interrupts(true);
        // Initial states (peers that were there before any interrupt).
        service::run();
        // Printed first: the root prints once it sees the state.
        println!(
            "IVSHMEM: setting state to {}, waiting for interrupts",
            dev.id + 1
        );
        dev.set_state(dev.id + 1);
        cpu::irq_enable();
        loop {
            cpu::wfi();
            comm.poll_messages();
        }
    }
}

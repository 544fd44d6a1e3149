//! sgi-demo: SGIs between the two CPUs of one cell. The first CPU starts the
//! second with PSCI CPU_ON; the second enables SGI `SGI_ID` on its
//! redistributor and counts arrivals; the first sends `COUNT` SGIs through
//! ICC_SGI1R_EL1, one at a time, waiting for each to be counted.
//! Root-shared page: word 0 ready, 1 received, 2 sent, 3 other interrupts
//! on the receiver, 4 done.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use core::sync::atomic::{AtomicU32, Ordering};
    use syshyper_inmates::gic::{Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
    use syshyper_inmates::psci::{self, SecondarySlot};
    use syshyper_inmates::psci_ids::{qemu_virt_mpidr, SUCCESS};
    use syshyper_inmates::shared::SharedPage;
    use syshyper_inmates::{cell, cpu, exceptions, gic, println, ticks, timer};

    const SGI_ID: u32 = 3;
    const COUNT: u32 = 10;
    const MAX_CPUS: u64 = 4;
    /// How long a step may take before it counts as failed.
    const WAIT_NS: u64 = 1_000_000_000;
    const READY: usize = 0;
    const RECEIVED: usize = 1;
    const SENT: usize = 2;
    const OTHER: usize = 3;
    const DONE: usize = 4;

    static SLOT: SecondarySlot<4096> = SecondarySlot::new();
    static RECEIVED_COUNT: AtomicU32 = AtomicU32::new(0);
    static OTHER_COUNT: AtomicU32 = AtomicU32::new(0);

    syshyper_inmates::entry!(main);

    fn page() -> Option<SharedPage> {
        cell::shared_page()
    }

    fn gic_here() -> Option<Gic> {
        let (gicd, gicr) = match cell::comm_region() {
            Some(c) => (c.gicd_base() as usize, c.gicr_base() as usize),
            None => (QEMU_VIRT_GICD, QEMU_VIRT_GICR),
        };
        // SAFETY: the bases come from the hypervisor's comm region or are
        // QEMU virt's GICv3.
        let gic = unsafe { Gic::new(gicd, gicr) }.ok()?;
        gic.init(false);
        Some(gic)
    }

    fn on_irq(intid: u32) {
        if intid == SGI_ID {
            let n = RECEIVED_COUNT.fetch_add(1, Ordering::Relaxed) + 1;
            println!(
                "sgi-demo: CPU {} got SGI {intid} (#{n})",
                cpu::mpidr() & 0xff
            );
            if let Some(p) = page() {
                p.write(RECEIVED, n);
            }
        } else {
            let n = OTHER_COUNT.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(p) = page() {
                p.write(OTHER, n);
            }
        }
    }

    extern "C" fn receiver(_: u64) -> ! {
        let Some(gic) = gic_here() else {
            println!("sgi-demo: receiver has no redistributor");
            cpu::park();
        };
        gic.enable_private(SGI_ID);
        cpu::irq_enable();
        if let Some(p) = page() {
            p.write(READY, 1);
        }
        loop {
            cpu::wfi();
        }
    }

    /// Polls `done` for up to `WAIT_NS` of counter time (not a poll count:
    /// the emulated CPUs share a loaded host and run at varying speed).
    fn wait(mut done: impl FnMut() -> bool) -> bool {
        let end = timer::counter() + ticks::ns_to_ticks(WAIT_NS, timer::frequency());
        while timer::counter() < end {
            if done() {
                return true;
            }
            cpu::cpu_relax();
        }
        done()
    }

    fn main() -> ! {
        let me = cpu::mpidr() & 0xff;
        exceptions::set_irq_handler(on_irq);
        let Some(p) = page() else { cpu::park() };
        if gic_here().is_none() {
            println!("sgi-demo: sender has no redistributor");
            cpu::park();
        }
        let Some(peer) = (0..MAX_CPUS)
            .filter(|&n| n != me)
            .find(|&n| psci::start_cpu(&SLOT, qemu_virt_mpidr(n), receiver, 0) == SUCCESS)
        else {
            println!("sgi-demo: no second CPU in this cell");
            cpu::park();
        };
        if !wait(|| p.read(READY) == 1) {
            println!("sgi-demo: CPU {peer} did not get ready");
            cpu::park();
        }
        let mut sent = 0;
        for i in 1..=COUNT {
            gic::send_sgi(SGI_ID, qemu_virt_mpidr(peer));
            sent = i;
            p.write(SENT, sent);
            if !wait(|| p.read(RECEIVED) >= i) {
                break;
            }
        }
        println!(
            "sgi-demo: CPU {me} sent {sent} SGIs, CPU {peer} received {}",
            p.read(RECEIVED)
        );
        p.write(DONE, 1);
        cpu::park()
    }
}

//! timer-bare: like Jailhouse's gic-demo, relies on the redistributor
//! state a Linux root leaves: it sets up only the CPU interface and the
//! enable bit of its timer PPI, not the PPI's group or priority, and counts
//! timer interrupts. Root-shared page: word 0 the number of interrupts.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};
    use syshyper_inmates::gic::{Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
    use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};
    use syshyper_inmates::{cell, cpu, exceptions, println, ticks};

    const PERIOD_NS: u64 = 10_000_000;
    const GICR_ISENABLER0: usize = 0x1_0100;

    static PERIOD: AtomicU64 = AtomicU64::new(1);
    static TICKS: AtomicU32 = AtomicU32::new(0);

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let (gicd, gicr) = match cell::comm_region() {
            Some(c) if c.gicd_base() != 0 && c.gicr_base() != 0 => (c.gicd_base() as usize, c.gicr_base() as usize),
            _ => (QEMU_VIRT_GICD, QEMU_VIRT_GICR),
        };
        // SAFETY: bases from the comm region: the GIC the hypervisor emulates.
        let Ok(gic) = (unsafe { Gic::new(gicd, gicr) }) else {
            println!("timer-bare: no redistributor");
            cpu::park();
        };
        gic.init(false);
        exceptions::set_irq_handler(on_irq);
        // GICv2: the banked ISENABLER0 is GICD's, at 0x100.
        let isenabler0 = if syshyper_inmates::gic::is_v2() { gicd + 0x100 } else { gic.redistributor() + GICR_ISENABLER0 };
        // SAFETY: this CPU's ISENABLER0, trapped and emulated.
        unsafe {
            (isenabler0 as *mut u32).write_volatile(1 << VIRT_TIMER_INTID);
        }
        PERIOD.store(ticks::ns_to_ticks(PERIOD_NS, timer::frequency()).max(1), Ordering::Relaxed);
        timer::set_deadline(timer::counter() + PERIOD.load(Ordering::Relaxed));
        cpu::irq_enable();
        println!("timer-bare: waiting for timer interrupts");
        loop {
            cpu::wfi();
        }
    }

    fn on_irq(intid: u32) {
        if intid != VIRT_TIMER_INTID {
            return;
        }
        let n = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
        // Print before publishing the count: the root destroys the cell as
        // soon as it sees 5.
        if n == 5 {
            println!("timer-bare: 5 timer interrupts");
        }
        if let Some(p) = cell::shared_page() {
            p.write(0, n);
        }
        timer::set_deadline(timer::counter() + PERIOD.load(Ordering::Relaxed));
    }
}

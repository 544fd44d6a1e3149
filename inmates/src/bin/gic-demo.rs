//! gic-demo: the EL1 virtual timer interrupts every 100 ms through the GICv3
//! CPU interface; each interrupt prints how late it came (jitter) and the
//! minimum and maximum so far, in the format of Jailhouse's gic-demo.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
    use syshyper_inmates::gic::{Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
    use syshyper_inmates::timer::{self, VIRT_TIMER_INTID};
    use syshyper_inmates::{cell, cpu, exceptions, println, ticks};

    const PERIOD_NS: u64 = 100_000_000;

    /// Counter value the next interrupt is due at.
    static EXPECTED: AtomicU64 = AtomicU64::new(0);
    static PERIOD_TICKS: AtomicU64 = AtomicU64::new(0);
    static FREQ: AtomicU64 = AtomicU64::new(0);
    static MIN_NS: AtomicI64 = AtomicI64::new(i64::MAX);
    static MAX_NS: AtomicI64 = AtomicI64::new(i64::MIN);
    static SEEN: AtomicBool = AtomicBool::new(false);

    syshyper_inmates::entry!(main);

    fn main() -> ! {
        let comm = cell::comm_region();
        println!("Initializing the GIC...");
        let (gicd, gicr) = match comm {
            // GICv2 has no redistributor (gicr_base 0): Gic::new finds the
            // version from the distributor and the CPU interface from the
            // comm region.
            Some(c) if c.gicd_base() != 0 => (c.gicd_base() as usize, c.gicr_base() as usize),
            _ => (QEMU_VIRT_GICD, QEMU_VIRT_GICR),
        };
        // SAFETY: the bases come from the hypervisor's comm region or are
        // QEMU virt's GIC when there is no comm region.
        let gic = match unsafe { Gic::new(gicd, gicr) } {
            Ok(g) => g,
            Err(e) => {
                println!("gic-demo: {e}");
                cpu::park();
            }
        };
        // Natively nobody else has enabled the distributor.
        gic.init(comm.is_none());
        exceptions::set_irq_handler(handle_irq);
        gic.enable_private(VIRT_TIMER_INTID);

        println!("Initializing the timer...");
        let freq = timer::frequency();
        let period = ticks::ns_to_ticks(PERIOD_NS, freq).max(1);
        FREQ.store(freq, Ordering::Relaxed);
        PERIOD_TICKS.store(period, Ordering::Relaxed);
        arm(period);
        cpu::irq_enable();
        loop {
            cpu::wfi();
            if let Some(c) = comm {
                c.poll_messages();
            }
        }
    }

    fn arm(period: u64) {
        let expected = timer::counter() + period;
        EXPECTED.store(expected, Ordering::Relaxed);
        timer::set_deadline(expected);
    }

    fn handle_irq(intid: u32) {
        if intid != VIRT_TIMER_INTID {
            return;
        }
        let now = timer::counter();
        let late = now.wrapping_sub(EXPECTED.load(Ordering::Relaxed)) as i64;
        let jitter = ticks::ticks_to_ns(late, FREQ.load(Ordering::Relaxed));
        if !SEEN.swap(true, Ordering::Relaxed) {
            MIN_NS.store(jitter, Ordering::Relaxed);
            MAX_NS.store(jitter, Ordering::Relaxed);
        }
        let min = MIN_NS.fetch_min(jitter, Ordering::Relaxed).min(jitter);
        let max = MAX_NS.fetch_max(jitter, Ordering::Relaxed).max(jitter);
        println!("Timer fired, jitter: {jitter:6} ns, min: {min:6} ns, max: {max:6} ns");
        arm(PERIOD_TICKS.load(Ordering::Relaxed));
    }
}

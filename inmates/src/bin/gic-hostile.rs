//! gic-hostile: a cell that tries to reach interrupt state it does not own
//! and reports what it saw. Its config (configs/test-hostile.toml) grants
//! only SPI `OWN_SPI`. It tries to
//! - read, enable, disable, pend, route and reprioritise SPI `FOREIGN_SPI`
//!   (the root's UART interrupt) and enable SPI `FOREIGN_SPI + 1`,
//! - switch the distributor off (GICD_CTLR),
//! - read and disable SGIs/PPIs, pend an SGI and put to sleep in every other
//!   CPU's redistributor frame,
//! - send SGI `SGI_TO_ROOT` to CPUs 0 and 1 and to "all but self",
//!
//! and, as a control that writes do reach the GIC, enables, routes and
//! disables its own SPI. Reads of foreign state must give 0.
//! Root-shared page: word 0 done, 1 mask of foreign reads that were not 0
//! (bit per `V_*`), 2 control result (1 = own SPI worked).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::gic::{Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
    use syshyper_inmates::psci_ids::qemu_virt_mpidr;
    use syshyper_inmates::{cell, cpu, gic, println};

    const FOREIGN_SPI: usize = 33;
    const OWN_SPI: usize = 146;
    const SGI_TO_ROOT: u32 = 5;
    const MAX_CPUS: usize = 4;
    const GICR_FRAME: usize = 0x2_0000;
    const GICR_SGI: usize = 0x1_0000;

    // Bits of word 1: which foreign read returned something.
    const V_ENABLE: u32 = 1 << 0;
    const V_PENDING: u32 = 1 << 1;
    const V_ROUTE: u32 = 1 << 2;
    const V_PRIORITY: u32 = 1 << 3;
    const V_GICR_ENABLE: u32 = 1 << 4;

    syshyper_inmates::entry!(main);

    fn r32(a: usize) -> u32 {
        // SAFETY: `a` is a GICD/GICR register: trapped and emulated by the
        // hypervisor, which is what this program tests.
        unsafe { (a as *const u32).read_volatile() }
    }
    fn w32(a: usize, v: u32) {
        // SAFETY: as in `r32`.
        unsafe { (a as *mut u32).write_volatile(v) }
    }
    fn r64(a: usize) -> u64 {
        // SAFETY: as in `r32`.
        unsafe { (a as *const u64).read_volatile() }
    }
    fn w64(a: usize, v: u64) {
        // SAFETY: as in `r32`.
        unsafe { (a as *mut u64).write_volatile(v) }
    }
    fn r8(a: usize) -> u8 {
        // SAFETY: as in `r32` (priority registers are byte-accessible).
        unsafe { (a as *const u8).read_volatile() }
    }
    fn w8(a: usize, v: u8) {
        // SAFETY: as in `r8`.
        unsafe { (a as *mut u8).write_volatile(v) }
    }

    fn bit(reg_base: usize, n: usize) -> (usize, u32) {
        (reg_base + (n / 32) * 4, 1 << (n % 32))
    }

    fn main() -> ! {
        let Some(comm) = cell::comm_region() else {
            println!("gic-hostile: no comm region");
            cpu::park();
        };
        let (gicd, gicr) = match (comm.gicd_base() as usize, comm.gicr_base() as usize) {
            (0, _) | (_, 0) => (QEMU_VIRT_GICD, QEMU_VIRT_GICR),
            bases => bases,
        };
        // SAFETY: bases from the comm region: the GIC the hypervisor emulates.
        let Ok(own) = (unsafe { Gic::new(gicd, gicr) }) else {
            println!("gic-hostile: no redistributor");
            cpu::park();
        };
        own.init(false);
        let mut seen = 0u32;
        // GICv2: SPIs are routed by ITARGETSR bytes (one bit per CPU
        // interface), there are no redistributor frames and no SGI
        // system registers (GICD_SGIR instead, through gic::send_sgi).
        let v2 = gic::is_v2();
        let route_read = |spi: usize| if v2 { u64::from(r8(gicd + 0x800 + spi)) } else { r64(gicd + 0x6000 + 8 * spi) };

        // 1. Foreign SPI state must read as 0.
        let (en, en_bit) = bit(gicd + 0x100, FOREIGN_SPI);
        let (pend, pend_bit) = bit(gicd + 0x200, FOREIGN_SPI);
        let router = gicd + 0x6000 + 8 * FOREIGN_SPI;
        let prio = gicd + 0x400 + FOREIGN_SPI;
        let reads = [
            (r32(en) & en_bit != 0, V_ENABLE),
            (r32(pend) & pend_bit != 0, V_PENDING),
            (route_read(FOREIGN_SPI) != 0, V_ROUTE),
            (r8(prio) != 0, V_PRIORITY),
        ];
        for (nonzero, flag) in reads {
            if nonzero {
                seen |= flag;
            }
        }
        println!(
            "gic-hostile: SPI {FOREIGN_SPI} reads: enable {:#x} pending {:#x} route {:#x} priority {:#x}",
            r32(en),
            r32(pend),
            route_read(FOREIGN_SPI),
            r8(prio)
        );

        // 2. Attacks on foreign SPIs and the distributor.
        let (clr, clr_bit) = bit(gicd + 0x180, FOREIGN_SPI);
        let (en_next, en_next_bit) = bit(gicd + 0x100, FOREIGN_SPI + 1);
        w32(clr, clr_bit);
        w32(en_next, en_next_bit);
        w32(pend, pend_bit);
        if v2 {
            w8(gicd + 0x800 + FOREIGN_SPI, 0xff);
        } else {
            w64(router, cpu::mpidr() & 0xff_00ff_ffff);
        }
        w8(prio, 0);
        w32(gicd, 0);

        // 3. Other CPUs' redistributors.
        for n in (0..MAX_CPUS).filter(|_| !v2) {
            let frame = gicr + n * GICR_FRAME;
            if frame == own.redistributor() {
                continue;
            }
            let sgi = frame + GICR_SGI;
            let enabled = r32(sgi + 0x100);
            if enabled != 0 {
                seen |= V_GICR_ENABLE;
            }
            println!("gic-hostile: GICR frame {n} ISENABLER0 reads {enabled:#x}");
            w32(sgi + 0x180, 0xffff_ffff);
            w32(sgi + 0x200, 1 << SGI_TO_ROOT);
            w32(frame + 0x14, 1 << 1);
        }

        // 4. SGIs to root CPUs, targeted and broadcast.
        gic::send_sgi(SGI_TO_ROOT, qemu_virt_mpidr(0));
        gic::send_sgi(SGI_TO_ROOT, qemu_virt_mpidr(1));
        if v2 {
            // GICD_SGIR, "all but self" (the hypervisor keeps it inside
            // this cell).
            w32(gicd + 0xf00, (1 << 24) | SGI_TO_ROOT);
        } else {
            // SAFETY: ICC_SGI1R_EL1 with IRM = 1: SGI to every other CPU
            // (the hypervisor must keep it inside this cell).
            unsafe {
                core::arch::asm!("msr S3_0_C12_C11_5, {}", "isb",
                    in(reg) (1u64 << 40) | (u64::from(SGI_TO_ROOT) << 24), options(nomem, nostack));
            }
        }

        // 5. Control: the own SPI can be enabled, routed and disabled.
        let (own_en, own_bit) = bit(gicd + 0x100, OWN_SPI);
        own.enable_spi(OWN_SPI as u32);
        let enabled = r32(own_en) & own_bit != 0;
        let routed = if v2 {
            // This CPU's interface: the banked ITARGETSR0 byte names it.
            r8(gicd + 0x800 + OWN_SPI) == r8(gicd + 0x800)
        } else {
            r64(gicd + 0x6000 + 8 * OWN_SPI) == cpu::mpidr() & 0xff_00ff_ffff
        };
        own.disable_spi(OWN_SPI as u32);
        let disabled = r32(own_en) & own_bit == 0;
        let control = enabled && routed && disabled;
        println!(
            "gic-hostile: own SPI {OWN_SPI}: enabled {enabled}, routed {routed}, disabled {disabled}"
        );
        println!("gic-hostile: done, foreign reads not zero: {seen:#x}");
        if let Some(p) = cell::shared_page() {
            p.write(1, seen);
            p.write(2, u32::from(control));
            p.write(0, 1);
        }
        cpu::park()
    }
}

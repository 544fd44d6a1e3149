//! gic-leftover: a cell that tries to leave interrupt state behind for the
//! hypervisor and the root. On its own CPU it moves every SGI and PPI to
//! group 0, priority 0xff, pends and activates them, and turns off the
//! hypervisor's SGI 15 and maintenance PPI 25; its own SPI 146 it moves to
//! group 0 with priority 0xff, edge-triggered, enabled, pending and active.
//! Then it reports and spins with interrupts unmasked, so the root's
//! shutdown has to get through whatever a group-0 interrupt does at EL2.
//! Root-shared page: word 0 done, 1 the group register of its frame as
//! read back, 2 the group register of SPI 146 as read back.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::gic::{Gic, QEMU_VIRT_GICD, QEMU_VIRT_GICR};
    use syshyper_inmates::{cell, cpu, println};

    const OWN_SPI: usize = 146;
    const GICR_SGI: usize = 0x1_0000;

    syshyper_inmates::entry!(main);

    // Trapped registers: the library's accessors compile to plain
    // `ldr`/`str`, whose syndrome the hypervisor can emulate.
    use syshyper_inmates::mmio::{read32 as r32, write32 as w32, write8 as w8};

    fn main() -> ! {
        let Some(comm) = cell::comm_region() else {
            println!("gic-leftover: no comm region");
            cpu::park();
        };
        let (gicd, gicr) = match (comm.gicd_base() as usize, comm.gicr_base() as usize) {
            (0, _) | (_, 0) => (QEMU_VIRT_GICD, QEMU_VIRT_GICR),
            bases => bases,
        };
        // SAFETY: bases from the comm region: the GIC the hypervisor emulates.
        let Ok(own) = (unsafe { Gic::new(gicd, gicr) }) else {
            println!("gic-leftover: no redistributor");
            cpu::park();
        };
        own.init(false);
        // GICv2: the banked registers are GICD's, at the same offsets.
        let sgi = if syshyper_inmates::gic::is_v2() { gicd } else { own.redistributor() + GICR_SGI };
        w32(sgi + 0x180, (1 << 15) | (1 << 25));
        w32(sgi + 0x080, 0);
        w32(sgi + 0x0d00, 0);
        for w in 0..8 {
            w32(sgi + 0x400 + 4 * w, 0xffff_ffff);
        }
        w32(sgi + 0x100, 0xffff_ffff);
        w32(sgi + 0x200, 0xffff_ffff);
        w32(sgi + 0x300, 0xffff_ffff);

        let (word, bit) = (OWN_SPI / 32 * 4, 1u32 << (OWN_SPI % 32));
        w32(gicd + 0x080 + word, r32(gicd + 0x080 + word) & !bit);
        w8(gicd + 0x400 + OWN_SPI, 0xff);
        let cfg = gicd + 0xc00 + OWN_SPI / 16 * 4;
        w32(cfg, r32(cfg) | 2 << (2 * (OWN_SPI % 16)));
        own.enable_spi(OWN_SPI as u32);
        w32(gicd + 0x200 + word, bit);
        w32(gicd + 0x300 + word, bit);

        let frame_group = r32(sgi + 0x080);
        let spi_group = r32(gicd + 0x080 + word) & bit;
        println!("gic-leftover: done, groups read back {frame_group:#x} {spi_group:#x}");
        if let Some(p) = cell::shared_page() {
            p.write(1, frame_group);
            p.write(2, spi_group);
            p.write(0, 1);
        }
        cpu::irq_enable();
        loop {
            cpu::cpu_relax();
        }
    }
}

//! dma-test: a bare-metal cell that owns QEMU's `edu` PCI device, passed
//! through (configs/test-passthru.toml, docs/passthrough.md). It finds the
//! device on its virtual PCI host, checks the filtered config space
//! (identity, no other function, BAR fixed and sized from the
//! configuration's mask, capabilities hidden), enables memory decoding
//! and bus mastering, talks to the device's registers in its mapped BAR0,
//! copies a buffer by DMA through the device and back inside its own
//! memory (checksum compared) and takes the device's INTx.
//!
//! With `attack=1` on its command line (root-test passes it only when
//! the system configuration has the SMMU: without one these transfers
//! would land) it then points DMA at the addresses `root=`, `cell=` and
//! `hv=` (the root's checksummed buffer, another cell's RAM, hypervisor
//! memory), 64 bytes each from the device's buffer. The SMMU must block
//! each: root-test checks that nothing changed there and that the
//! hypervisor logged an event naming the stream and address. The cell
//! keeps running (docs/passthrough.md: the policy).
//!
//! With `msi=1` (root-test passes it when the system configuration has
//! the GICv3 ITS: the SMMU system on a GICv3) edu's MSI capability is
//! shown, the distributor reports message-based SPIs (GICD_TYPER.MBIS,
//! no LPIS), and the cell programs the capability with GITS_TRANSLATER
//! as address and one of its SPIs (150, 151) as data: edu's interrupt
//! arrives as that SPI, once. Then the hostile rows, each of which must
//! raise nothing: data naming the root's SPI 33 (root-test checks it
//! stays not pending) or an EventID beyond every mapping, the address of
//! the distributor's GICD_SETSPI_NSR (the SMMU faults the write), and
//! the cell's own CPU writing GITS_TRANSLATER (DeviceID 0 at the ITS).
//!
//! With `v2m=ADDR v2m_spi=INTID` (root-test passes them with
//! configs/test-passthru-v2m.toml: the cell owns the GICv2m frame at ADDR
//! and all its SPIs) edu's MSI capability must be visible instead of
//! hidden; the cell programs it (address ADDR + MSI_SETSPI_NS, data
//! INTID), has edu raise its interrupt three times and takes INTID each
//! time; then a store of INTID + 1 to the frame by this CPU raises that
//! SPI too (the frame is mapped in the cell).
//!
//! Each check prints a `[PASS]`/`[FAIL]` line; the tally goes to the
//! root-shared page for root-test (`passthru.rs`): word 1 passed, word 2
//! failed, word 3 the command register it left, word 0 [`DONE`] last.
//! Then it powers its cell off.
//!
//! edu's registers (QEMU docs/specs/edu.rst): 00h identification
//! 010000EDh, 04h liveness (reads the inverse of what was written), 24h
//! interrupt status, 60h raise, 64h acknowledge, 80h DMA source, 88h
//! destination, 90h count, 98h command (bit 0 start/busy, bit 1 direction:
//! 0 RAM to the device's buffer at device address 40000h, 1 back; bit 2
//! interrupt when done). A DMA completes 100 ms (virtual) after its start.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(not(target_os = "none"))]
fn main() {}

#[cfg(target_os = "none")]
mod demo {
    use syshyper_inmates::cmdline::Cmdline;
    use syshyper_inmates::gic::{self, Gic};
    use syshyper_inmates::{barrier, cell, check, check_eq, console, cpu, hvc, println, psci, ticks, timer};

    /// Where root-test finds the tally complete.
    pub const DONE: u32 = 0x0d0a_7e57;
    /// edu at 00:05.0, as QEMU is told (`addr=05.0`) and the cell's
    /// configuration passes it through.
    const BDF: u64 = 5 << 3;
    /// BAR0 as root-test programmed it (the firmware's job), mapped 1:1
    /// into the cell by its configuration.
    const BAR0: u64 = 0x1000_0000;
    const BAR0_MASK: u32 = 0xfff0_0000;
    /// The cell's DMA buffer: a region mapped 1:1 (guest = physical), so
    /// the device address is the same with and without an SMMU.
    const BUF: u64 = 0x7f31_0000;
    const BACK: u64 = BUF + 0x8000;
    /// Inside edu's 4 KiB buffer.
    const EDU_BUF: u64 = 0x4_0000;
    const LEN: u64 = 1024;

    syshyper_inmates::entry!(main);

    // Trapped registers (the virtual ECAM, the GIC) need accesses with a
    // syndrome: the assembly accessors, never a writeback form the
    // compiler may choose for a volatile read.
    fn rd32(a: u64) -> u32 {
        syshyper_inmates::mmio::read32(a as usize)
    }

    fn wr32(a: u64, v: u32) {
        syshyper_inmates::mmio::write32(a as usize, v)
    }

    fn wr64(a: u64, v: u64) {
        syshyper_inmates::mmio::write64(a as usize, v)
    }

    fn rd16(a: u64) -> u16 {
        syshyper_inmates::mmio::read16(a as usize)
    }

    fn wr16(a: u64, v: u16) {
        syshyper_inmates::mmio::write16(a as usize, v)
    }

    fn rd8(a: u64) -> u8 {
        syshyper_inmates::mmio::read8(a as usize)
    }

    /// Polls `done` for at most `ms` milliseconds of counter time.
    fn wait_ms(ms: u64, mut done: impl FnMut() -> bool) -> bool {
        let end = timer::counter().saturating_add(ticks::ns_to_ticks(ms * 1_000_000, timer::frequency()));
        while timer::counter() < end {
            if done() {
                return true;
            }
            cpu::cpu_relax();
        }
        done()
    }

    /// Fills `len` bytes at `at` with a reproducible pattern; returns
    /// their checksum.
    fn fill(at: u64, len: u64) -> u64 {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut sum = 0u64;
        for i in 0..len / 8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            // SAFETY: inside the cell's DMA region (64 KiB at BUF).
            unsafe { ((at + 8 * i) as *mut u64).write_volatile(x) };
            sum = sum.rotate_left(5) ^ x;
        }
        sum
    }

    fn checksum(at: u64, len: u64) -> u64 {
        let mut sum = 0u64;
        for i in 0..len / 8 {
            // SAFETY: as in `fill`.
            let x = unsafe { ((at + 8 * i) as *const u64).read_volatile() };
            sum = sum.rotate_left(5) ^ x;
        }
        sum
    }

    /// One DMA of `len` bytes; `to_ram`: from the device's buffer. True
    /// when the device reports it done in time.
    fn dma(src: u64, dst: u64, len: u64, to_ram: bool) -> bool {
        wr64(BAR0 + 0x80, src);
        wr64(BAR0 + 0x88, dst);
        wr64(BAR0 + 0x90, len);
        wr64(BAR0 + 0x98, 1 | if to_ram { 2 } else { 0 });
        wait_ms(3000, || rd32(BAR0 + 0x98) & 1 == 0)
    }

    fn config_space(ecam: u64, msi: bool) -> bool {
        let cfg = |reg: u64| ecam + (BDF << 12) + reg;
        if !check_eq!("dma-test: edu on the virtual PCI host", rd32(cfg(0)), 0x11e8_1234) {
            return false;
        }
        check_eq!("dma-test: no other function of the device", rd32(cfg(1 << 12)), u32::MAX);
        check_eq!("dma-test: header type 0, single function", rd8(cfg(0x0e)), 0);
        check_eq!("dma-test: BAR0 at its physical address", rd32(cfg(0x10)), BAR0 as u32);
        wr32(cfg(0x10), u32::MAX);
        check_eq!("dma-test: BAR0 sizing reads the configured mask", rd32(cfg(0x10)), BAR0_MASK);
        wr32(cfg(0x10), BAR0 as u32);
        wr32(cfg(0x10), 0x2000_0000);
        check_eq!("dma-test: BAR0 cannot be moved", rd32(cfg(0x10)), BAR0 as u32);
        if msi {
            check_eq!("dma-test: the listed MSI capability is visible, alone", (rd8(cfg(0x34)), rd8(cfg(MSI_CAP)), rd8(cfg(MSI_CAP + 1)), rd32(cfg(0x04)) & (1 << 20)), (MSI_CAP as u8, 5, 0, 1 << 20));
        } else {
            check_eq!("dma-test: unlisted capabilities (edu's MSI) are hidden", (rd8(cfg(0x34)), rd32(cfg(0x04)) & (1 << 20)), (0, 0));
        }
        check_eq!("dma-test: interrupt pin A", rd8(cfg(0x3d)), 1);
        wr32(cfg(0x04), 0x6);
        check_eq!("dma-test: memory decoding and bus mastering on", rd32(cfg(0x04)) & 0x6, 0x6);
        true
    }

    fn registers_and_dma() {
        check_eq!("dma-test: edu identification in the mapped BAR0", rd32(BAR0), 0x0100_00ed);
        wr32(BAR0 + 4, 0x1234_5678);
        check_eq!("dma-test: edu liveness register", rd32(BAR0 + 4), !0x1234_5678);
        let sum = fill(BUF, LEN);
        // The device reads memory, not this CPU's caches.
        barrier::clean_invalidate(BUF, LEN);
        barrier::clean_invalidate(BACK, LEN);
        let there = dma(BUF, EDU_BUF, LEN, false);
        check!("dma-test: DMA from cell memory to the device completes", there);
        let back = there && dma(EDU_BUF, BACK, LEN, true);
        check!("dma-test: DMA from the device to cell memory completes", back);
        barrier::clean_invalidate(BACK, LEN);
        check_eq!("dma-test: the copy's checksum is the original's", checksum(BACK, LEN), sum);
    }

    /// INTx: QEMU virt routes INTA-D of device d to SPIs 3-6 swizzled,
    /// INTID 32 + 3 + (d + pin - 1) % 4.
    fn intx(ecam: u64) {
        let pin = u64::from(rd8(ecam + (BDF << 12) + 0x3d));
        let intid = 32 + 3 + ((BDF >> 3) + pin.saturating_sub(1)) % 4;
        let (gicd, gicr) = cell::comm_region().map_or((0, 0), |c| (c.gicd_base() as usize, c.gicr_base() as usize));
        // SAFETY: the comm region's GIC bases (the hypervisor's emulation).
        let Ok(g) = (unsafe { Gic::new(gicd, gicr) }) else {
            check!("dma-test: GIC", false);
            return;
        };
        g.init(false);
        g.enable_spi(intid as u32);
        wr32(BAR0 + 0x60, 1);
        let mut got = 1023;
        wait_ms(1000, || {
            got = gic::acknowledge();
            got != 1023
        });
        check_eq!("dma-test: edu's INTx arrives as its swizzled SPI", got, intid as u32);
        check_eq!("dma-test: edu interrupt status", rd32(BAR0 + 0x24), 1);
        wr32(BAR0 + 0x64, 1);
        if got != 1023 {
            gic::end_of_interrupt(got);
        }
        check_eq!("dma-test: acknowledged", rd32(BAR0 + 0x24), 0);
    }

    /// edu's MSI through the hypervisor's ITS (docs/passthrough.md "MSI").
    mod msi {
        use super::{rd16, rd32, wait_ms, wr16, wr32, BAR0};
        use syshyper_inmates::gic::{self, Gic};
        use syshyper_inmates::{cell, check, check_eq, hvc, println};

        /// GITS_TRANSLATER of QEMU virt's ITS (0x08080000 + 0x10040).
        const DOORBELL: u64 = 0x0809_0040;
        /// GICD_SETSPI_NSR: not mapped for the cell, so not for its device.
        const GICD_SETSPI: u64 = 0x0800_0040;
        /// The cell's SPIs for MSIs (configs/test-passthru.toml).
        const SPIS: [u32; 2] = [150, 151];
        /// The root's UART SPI.
        const ROOT_SPI: u16 = 33;

        /// The capability at 40h: control at +2, address at +4 (high
        /// half at +8 with 64-bit addresses), data after it.
        pub(super) fn program(cfg: u64, addr: u64, data: u16) {
            let ctrl = rd16(cfg + 0x42);
            let wide = ctrl & (1 << 7) != 0;
            wr16(cfg + 0x42, 0);
            wr32(cfg + 0x44, addr as u32);
            if wide {
                wr32(cfg + 0x48, (addr >> 32) as u32);
            }
            wr16(cfg + if wide { 0x4c } else { 0x48 }, data);
            // Enabled, one vector.
            wr16(cfg + 0x42, 1);
        }

        /// edu raises its interrupt (an MSI while the capability is
        /// enabled); the first INTID taken within `ms`, 1023 if none.
        pub(super) fn raise(ms: u64) -> u32 {
            wr32(BAR0 + 0x60, 1);
            let got = take(ms);
            wr32(BAR0 + 0x64, 1);
            got
        }

        /// The first interrupt taken (and ended) within `ms`, 1023 if none.
        pub(super) fn take(ms: u64) -> u32 {
            let mut got = 1023;
            wait_ms(ms, || {
                got = gic::acknowledge();
                got != 1023
            });
            if got != 1023 {
                gic::end_of_interrupt(got);
            }
            got
        }

        pub fn run(cfg: u64) {
            let (gicd, gicr) = cell::comm_region().map_or((0, 0), |c| (c.gicd_base() as usize, c.gicr_base() as usize));
            // SAFETY: the comm region's GIC bases (the hypervisor's emulation).
            let Ok(g) = (unsafe { Gic::new(gicd, gicr) }) else {
                check!("dma-test: GIC for MSI", false);
                return;
            };
            let typer = rd32(gicd as u64 + 4);
            check_eq!("dma-test: GICD_TYPER: message-based SPIs, no LPIs", typer & (3 << 16), 1 << 16);
            for spi in SPIS {
                g.enable_spi(spi);
            }
            for spi in SPIS {
                program(cfg, DOORBELL, spi as u16);
                let got = raise(1000);
                println!("dma-test: edu's MSI with data {spi} arrived as INTID {got}");
                check_eq!("dma-test: edu's MSI arrives as the SPI its data names", got, spi);
                check_eq!("dma-test: one MSI, one interrupt", take(100), 1023);
            }
            program(cfg, DOORBELL, ROOT_SPI);
            check_eq!("dma-test: an MSI naming the root's SPI 33 raises nothing here", raise(300), 1023);
            program(cfg, DOORBELL, 1000);
            check_eq!("dma-test: an MSI with an EventID beyond the cell's SPIs raises nothing", raise(300), 1023);
            program(cfg, GICD_SETSPI, SPIS[0] as u16);
            check_eq!("dma-test: an MSI at GICD_SETSPI_NSR (not mapped) raises nothing", raise(300), 1023);
            // The SMMU's event for it is printed on the next hypercall.
            let _ = hvc::hypervisor_info(0);
            wr16(cfg + 0x42, 0);
            wr32(DOORBELL, SPIS[0]);
            check_eq!("dma-test: the cell's own write to GITS_TRANSLATER raises nothing", take(300), 1023);
            println!("dma-test: MSI checks done");
        }
    }

    /// edu's MSI capability (QEMU: at 0x40, 64-bit address).
    const MSI_CAP: u64 = 0x40;
    /// GICv2m: the register an SPI's INTID is written to.
    const MSI_SETSPI_NS: u64 = 0x40;

    /// MSI through the GICv2m frame at `frame`, as SPI `intid`.
    fn v2m(ecam: u64, frame: u64, intid: u32) {
        let cfg = |reg: u64| ecam + (BDF << 12) + MSI_CAP + reg;
        let (gicd, gicr) = cell::comm_region().map_or((0, 0), |c| (c.gicd_base() as usize, c.gicr_base() as usize));
        // SAFETY: the comm region's GIC bases (the hypervisor's emulation).
        let Ok(g) = (unsafe { Gic::new(gicd, gicr) }) else {
            check!("dma-test: GIC", false);
            return;
        };
        for i in [intid, intid + 1] {
            g.set_edge(i);
            g.enable_spi(i);
        }
        let doorbell = frame + MSI_SETSPI_NS;
        msi::program(ecam + (BDF << 12), doorbell, intid as u16);
        check_eq!("dma-test: MSI address and data as programmed", (rd32(cfg(4)), u32::from(rd16(cfg(0xc))), rd16(cfg(2)) & 1), (doorbell as u32, intid, 1));
        let mut arrived = 0;
        for _ in 0..3 {
            let got = msi::raise(1000);
            if got == intid {
                arrived += 1;
            } else {
                println!("dma-test: expected INTID {intid}, took {got}");
            }
        }
        println!("dma-test: edu's MSI arrived as INTID {intid}, {arrived} of 3");
        check_eq!("dma-test: edu's MSIs through the GICv2m frame arrive as the cell's SPI", arrived, 3);
        // SAFETY: the frame's page, mapped into this cell as device memory
        // by its configuration; MSI_SETSPI_NS takes 32-bit writes.
        unsafe { (doorbell as *mut u32).write_volatile(intid + 1) };
        check_eq!("dma-test: a CPU store to the frame raises the cell's SPI", msi::take(1000), intid + 1);
        // Left as the root expects to find it: MSI off.
        wr16(cfg(2), 0);
    }

    /// DMA from the device's buffer to addresses outside the cell: each
    /// completes as far as the device can tell (the SMMU aborts the
    /// write; edu does not report it).
    fn attack(line: &Cmdline) {
        for name in ["root", "cell", "hv"] {
            let target = line.int(name, 0) as u64;
            if target == 0 {
                continue;
            }
            println!("dma-test: DMA of 64 bytes to {name} memory at {target:#x}");
            let done = dma(EDU_BUF, target, 64, true);
            check!("dma-test: the stray DMA ends (the device sees no error)", done, "to {name} at {target:#x}");
            // Any hypercall drains the SMMU's event queue (hypervisor
            // `iommu::poll`): each stray DMA's events are printed before
            // the next one's. The answer does not matter.
            let _ = hvc::hypervisor_info(0);
        }
        println!("dma-test: still running after the stray DMA");
    }

    fn main() -> ! {
        println!("dma-test: started");
        let copy = console::cmdline_copy();
        let line = Cmdline::new(&copy);
        let ecam = cell::comm_region().map_or(0, |c| c.pci_mmconfig_base());
        let msi = line.bool("msi", false);
        let frame = line.int("v2m", 0) as u64;
        let v2m_spi = line.int("v2m_spi", 0) as u32;
        if check!("dma-test: a virtual PCI host", ecam != 0) && config_space(ecam, msi || frame != 0) {
            registers_and_dma();
            intx(ecam);
            if msi {
                msi::run(ecam + (BDF << 12));
            }
            if frame != 0 {
                v2m(ecam, frame, v2m_spi);
            }
            if line.bool("attack", false) {
                attack(&line);
            }
        }
        let t = check::tally();
        println!("dma-test: {} passed, {} failed", t.passed, t.failed);
        if let Some(p) = cell::shared_page() {
            p.write(1, t.passed);
            p.write(2, t.failed);
            p.write(3, rd32(ecam + (BDF << 12) + 4) & 0xffff);
            p.write(0, DONE);
        }
        psci::system_off()
    }
}

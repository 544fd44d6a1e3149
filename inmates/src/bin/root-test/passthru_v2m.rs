//! Suite "passthru-v2m" (xtask's `root-passthru-v2m`: QEMU virt with
//! gic-version=2, its SMMUv3 and edu at 00:05.0; system configuration
//! configs/qemu-virt-gicv2-smmu.toml): MSI for a passed-through device
//! through the GICv2m frame (docs/passthrough.md "MSI").
//!
//! First the refusals (configs/test-passthru-v2m.toml changed in a copy,
//! each -EINVAL, pool usage and cell count unchanged): the frame without
//! all 64 of its SPIs; the frame rootshared; SPIs of the frame without
//! the frame while the root maps it — with its control (the same copy
//! without those SPIs is accepted). Then the cell owns frame and SPIs:
//! dma-test programs edu's MSI capability and takes the MSIs; meanwhile
//! the root's read of the frame faults; after destroy the root reads the
//! frame's MSI_TYPER again, and create/destroy cycles (which need the
//! SPIs back in the root's hands each time) keep the pool constant.
use crate::hv_memory::probe;
use crate::lifecycle::{addr_of, file, launch_with, ms, shared_page, usage, wait_ns, warm_up};
use crate::passthru::{rd, wr, BAR0, DONE, EDU, EDU_ID};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config::{self as cfg, MEM_ROOTSHARED};
use syshyper_inmates::hypercall::EINVAL;
use syshyper_inmates::{check, check_eq, hvc};

/// Bundle entry selecting the suite (its content is not read).
pub const MODE: &str = "mode:passthru-v2m";
const CONFIG: &str = "passthru/test-passthru-v2m.cell";
const IMAGE: &str = "passthru/dma-test.bin";
/// QEMU virt's GICv2m frame and its MSI_TYPER: 64 SPIs from INTID 80.
const FRAME: u64 = 0x0802_0000;
const MSI_TYPER: u32 = 80 << 16 | 64;
const FRAME_SPIS: core::ops::Range<u32> = 80..144;
/// The SPI dma-test's MSI raises.
const MSI_INTID: u32 = 100;
/// Index of the frame's region in test-passthru-v2m.toml.
const FRAME_REGION: usize = 6;
/// Free root RAM no test cell uses.
const SPARE: u64 = 0x7f00_0000;
/// A memory region's flags; an irqchip entry's pin bitmap.
const REGION_FLAGS_OFF: usize = 24;
const IRQCHIP_BITMAP_OFF: usize = 16;
const BUF: usize = 512;

/// The frame's MSI_TYPER, read by the root.
fn typer() -> u32 {
    // SAFETY: the GICv2m frame's page, mapped 1:1 as device memory in the
    // root (configs/qemu-virt-gicv2-smmu.toml) while no cell holds it;
    // MSI_TYPER is read-only, an aligned 32-bit read.
    unsafe { ((FRAME + 8) as *const u32).read_volatile() }
}

pub fn wanted(b: &Bundle) -> bool {
    b.find(MODE).is_some()
}

/// A changed copy of the cell's configuration.
struct Copy {
    buf: [u8; BUF],
}

impl Copy {
    fn new(base: &[u8]) -> Option<Self> {
        let mut c = Copy { buf: [0; BUF] };
        c.buf.get_mut(..base.len())?.copy_from_slice(base);
        Some(c)
    }

    fn region(&self, i: usize) -> usize {
        cfg::DESC_SIZE + cfg::cpu_set_size(&self.buf).unwrap_or(0) + i * cfg::REGION_SIZE
    }

    /// Clears INTIDs `ids` from the first irqchip's bitmap (pin_base 32;
    /// the configuration has no cache regions).
    fn drop_irqs(&mut self, ids: core::ops::Range<u32>) -> &mut Self {
        let map = self.region(cfg::num_memory_regions(&self.buf).unwrap_or(0)) + IRQCHIP_BITMAP_OFF;
        for i in ids {
            let off = map + ((i - 32) / 32) as usize * 4;
            if let Some(w) = self.buf.get_mut(off..off + 4) {
                let v = u32::from_le_bytes([w[0], w[1], w[2], w[3]]) & !(1 << ((i - 32) % 32));
                w.copy_from_slice(&v.to_le_bytes());
            }
        }
        self
    }

    fn add_flags(&mut self, region: usize, add: u64) -> &mut Self {
        let off = self.region(region) + REGION_FLAGS_OFF;
        if let Some(w) = self.buf.get_mut(off..off + 8) {
            let mut b = [0u8; 8];
            b.copy_from_slice(w);
            w.copy_from_slice(&(u64::from_le_bytes(b) | add).to_le_bytes());
        }
        self
    }

    fn move_region(&mut self, region: usize, phys: u64) -> &mut Self {
        cfg::set_region_phys(&mut self.buf, region, phys);
        self
    }

    fn create(&self) -> i64 {
        hvc::cell_create(addr_of(&self.buf))
    }
}

/// One refusal row: its check name and the change to a fresh copy.
type Row = (&'static str, fn(&mut Copy));

/// The refusals, each against a fresh copy, and the control. Its own
/// frame: the copies do not stay on the stack for the run below.
#[inline(never)]
fn refusals(base: &[u8]) {
    let Some(fresh) = Copy::new(base) else {
        check!("passthru-v2m: configuration fits the copy", false);
        return;
    };
    let before = usage();
    let cases: [Row; 3] = [
        ("passthru-v2m: the frame without all its SPIs (INTID 143 left out) is refused (EINVAL)", |c| {
            c.drop_irqs(143..144);
        }),
        ("passthru-v2m: the frame rootshared is refused (EINVAL)", |c| {
            c.add_flags(FRAME_REGION, MEM_ROOTSHARED);
        }),
        ("passthru-v2m: SPIs of the frame without the frame, which the root maps, are refused (EINVAL)", |c| {
            c.move_region(FRAME_REGION, SPARE);
        }),
    ];
    for (what, change) in cases {
        let mut c = Copy { buf: fresh.buf };
        change(&mut c);
        let r = c.create();
        if r > 0 {
            hvc::cell_destroy(r as u64);
        }
        check_eq!(what, r, -EINVAL);
    }
    // Control of the last row: without the frame's SPIs it is accepted.
    let mut c = Copy { buf: fresh.buf };
    c.move_region(FRAME_REGION, SPARE).drop_irqs(FRAME_SPIS);
    let r = c.create();
    check!("passthru-v2m: control: neither the frame nor its SPIs is accepted", r > 0, "returned {r}");
    if r > 0 {
        check_eq!("passthru-v2m: control destroyed", hvc::cell_destroy(r as u64), 0);
    }
    check_eq!("passthru-v2m: refusals keep pool usage and cell count", usage(), before);
}

pub fn run(b: &Bundle<'static>) {
    let (Some(config), Some(image)) = (file(b, "passthru-v2m", CONFIG), file(b, "passthru-v2m", IMAGE)) else {
        return;
    };
    if !check_eq!("passthru-v2m: the root reads the GICv2m frame's MSI_TYPER (64 SPIs from INTID 80)", typer(), MSI_TYPER)
        || !check_eq!("passthru-v2m: the root sees edu at 00:05.0", rd(EDU), EDU_ID)
    {
        return;
    }
    // The firmware's job, as in suite "passthru".
    wr(EDU + 0x10, BAR0 as u32);
    wr(EDU + 4, 0x2);
    refusals(config);
    let Some(page) = shared_page(config) else {
        check!("passthru-v2m: the cell's shared page", false);
        return;
    };
    page.clear(4);
    warm_up(hvc::cell_create(addr_of(config)));
    let line = "v2m=0x8020000 v2m_spi=100";
    const _: () = assert!(MSI_INTID == 100 && FRAME == 0x802_0000);
    match launch_with(config, image, &[line]) {
        Ok(id) => {
            let done = wait_ns(ms(5000), || page.read(0) == DONE);
            check!("passthru-v2m: dma-test ran to its end", done);
            check!("passthru-v2m: while the cell has the frame the root's read of it faults", probe(FRAME).is_some());
            check_eq!("passthru-v2m: dma-test failed none of its checks (config space, DMA, INTx, MSI)", page.read(2), 0);
            check_eq!("passthru-v2m: destroy", hvc::cell_destroy(id), 0);
            check_eq!("passthru-v2m: after destroy the root reads the frame again", typer(), MSI_TYPER);
        }
        Err(e) => {
            check!("passthru-v2m: dma-test cell launched", false, "{e}");
        }
    }
    let before = usage();
    let mut bad = 0;
    for _ in 0..10 {
        let id = hvc::cell_create(addr_of(config));
        if id <= 0 || probe(FRAME).is_none() || hvc::cell_destroy(id as u64) != 0 || typer() != MSI_TYPER {
            bad += 1;
        }
    }
    check_eq!("passthru-v2m: 10 create/destroy cycles move frame and SPIs each time", bad, 0);
    check_eq!("passthru-v2m: pool usage and cell count unchanged after the cycles", usage(), before);
}

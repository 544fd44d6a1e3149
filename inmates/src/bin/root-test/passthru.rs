//! Suite "passthru" (xtask/src/systests_passthru.rs; QEMU with
//! `-device edu,addr=05.0`): QEMU's edu device handed to the dma-test cell
//! (configs/test-passthru.toml, docs/passthrough.md) and back. root-test
//! first does the firmware's job (BAR0 at 0x1000_0000 through the real
//! host bridge's ECAM); while the cell has the device the root's view of
//! its config space reads as no device and the root's writes there are
//! ignored; the cell's checks (inmates/src/bin/dma-test.rs) come back
//! through the shared page; after destroy the device is the root's again,
//! quiesced; 100 create/destroy cycles keep pool usage constant.
//!
//! With [`SMMU_MODE`] in the bundle (system configuration with QEMU's
//! SMMUv3, xtask's `root-passthru-smmu`) the cell also points the device's
//! DMA at root memory (a checksummed buffer of root-test), at another
//! cell's RAM (uart-demo, running) and at hypervisor memory (its image
//! header, which the root may read): each must stay unchanged (the SMMU
//! event lines are matched by the test), and the cell keeps running.
use crate::lifecycle::{addr_of, file, launch, launch_with, ms, shared_page, usage, wait_ns, warm_up};
use core::sync::atomic::{AtomicU64, Ordering};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config::{self as cfg, MEM_IO, MEM_LOADABLE};
use syshyper_inmates::{check, check_eq, hvc};

/// Bundle entry selecting the suite (its content is not read).
pub const MODE: &str = "mode:passthru";
/// Bundle entry adding the DMA attacks (only with an SMMU).
pub const SMMU_MODE: &str = "mode:passthru-smmu";
/// Hypervisor memory the root may read: the image header page.
const HV_HEADER: u64 = 0x7fc0_0000;
/// Root data the cell's device is pointed at.
static ROOT_DATA: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];
/// QEMU virt's PCIe ECAM (highmem), mapped 1:1 in the root.
const PHYS_ECAM: u64 = 0x40_1000_0000;
/// edu's config space: 00:05.0.
const EDU: u64 = PHYS_ECAM + (5 << 15);
const BAR0: u64 = 0x1000_0000;
/// dma-test's "tally complete" word (inmates/src/bin/dma-test.rs).
const DONE: u32 = 0x0d0a_7e57;
const EDU_ID: u32 = 0x11e8_1234;

pub fn wanted(b: &Bundle) -> bool {
    b.find(MODE).is_some()
}

/// A command line for the cell, formatted in place.
struct Line {
    buf: [u8; 128],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self { buf: [0; 128], len: 0 }
    }
}

impl Line {
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// Another cell (uart-demo) whose RAM the device is pointed at; after its
/// destroy the root compares that RAM with the image it loaded there.
struct Victim {
    id: u64,
    ram: u64,
    image: &'static [u8],
}

impl Victim {
    fn start(b: &Bundle<'static>) -> Option<Self> {
        let config = file(b, "passthru", "passthru/uart-demo.cell")?;
        let image = file(b, "passthru", "passthru/uart-demo.bin")?;
        let (_, r) = cfg::find_region(config, MEM_LOADABLE, MEM_IO)?;
        match launch(config, image) {
            Ok(id) => Some(Self { id, ram: r.phys, image }),
            Err(e) => {
                check!("passthru: the victim cell starts", false, "{e}");
                None
            }
        }
    }

    fn check_intact(&self) {
        check_eq!("passthru: victim cell destroyed", hvc::cell_destroy(self.id), 0);
        let n = self.image.len().min(64);
        // SAFETY: the destroyed cell's RAM is the root's again, mapped
        // 1:1; the bytes the device was pointed at.
        let now = unsafe { core::slice::from_raw_parts(self.ram as *const u8, n) };
        check!("passthru: DMA into another cell's memory blocked: its RAM still holds its image", now == &self.image[..n]);
    }
}

/// The first 64 bytes at `addr` folded into one word.
fn read64(addr: u64) -> u64 {
    (0..8).fold(0u64, |sum, i| {
        // SAFETY: the hypervisor's header page, mapped read-only in the
        // root; 8-byte aligned words inside it.
        let w = unsafe { ((addr + 8 * i) as *const u64).read_volatile() };
        sum.rotate_left(7) ^ w
    })
}

fn rd(addr: u64) -> u32 {
    // SAFETY: the real ECAM (root memory, io; trapped by the hypervisor
    // for a function a cell holds) or edu's BAR0 while the root has it;
    // an aligned 32-bit device access.
    unsafe { (addr as *const u32).read_volatile() }
}

fn wr(addr: u64, v: u32) {
    // SAFETY: as `rd`: a config-space register.
    unsafe { (addr as *mut u32).write_volatile(v) }
}

/// Whether SPI 33 (the UART, the root's) is pending in the distributor.
fn root_spi33_pending() -> bool {
    // GICD_ISPENDR1 bit 1, through the root's (trapped) distributor.
    rd(syshyper_inmates::gic::QEMU_VIRT_GICD as u64 + 0x204) & 2 != 0
}

pub fn run(b: &Bundle<'static>) {
    let (Some(config), Some(image)) = (file(b, "passthru", "passthru/test-passthru.cell"), file(b, "passthru", "passthru/dma-test.bin")) else {
        return;
    };
    if !check_eq!("passthru: the root sees edu at 00:05.0 of the real host bridge", rd(EDU), EDU_ID) {
        return;
    }
    // What firmware or the root's PCI core does: place BAR0, decode it.
    wr(EDU + 0x10, BAR0 as u32);
    wr(EDU + 4, 0x2);
    check_eq!("passthru: the root reaches edu's registers in BAR0", rd(BAR0), 0x0100_00ed);
    let Some(page) = shared_page(config) else {
        check!("passthru: the cell's shared page", false);
        return;
    };
    page.clear(4);
    warm_up(hvc::cell_create(addr_of(config)));
    let smmu = b.find(SMMU_MODE).is_some();
    let victim = if smmu { Victim::start(b) } else { None };
    for (i, w) in ROOT_DATA.iter().enumerate() {
        w.store(0x5eed_0000_0000_0000 | i as u64, Ordering::Relaxed);
    }
    let hv_before = read64(HV_HEADER);
    let mut line = Line::default();
    // The SMMU system on a GICv3 has the ITS: edu's MSIs to the cell.
    // SAFETY: QEMU virt's distributor, trapped for the root.
    let msi = smmu && !unsafe { syshyper_inmates::gic::is_v2_at(syshyper_inmates::gic::QEMU_VIRT_GICD) };
    if smmu {
        let _ = core::fmt::Write::write_fmt(
            &mut line,
            format_args!(
                "attack=1 root={:#x} cell={:#x} hv={HV_HEADER:#x}{}",
                ROOT_DATA.as_ptr() as u64,
                victim.as_ref().map_or(0, |v| v.ram),
                if msi { " msi=1" } else { "" }
            ),
        );
    }
    let spi33_before = root_spi33_pending();
    let launched = if smmu { launch_with(config, image, &[line.as_str()]) } else { launch(config, image) };
    match launched {
        Ok(id) => {
            let done = wait_ns(ms(5000), || page.read(0) == DONE);
            check!("passthru: dma-test ran to its end", done);
            // The cell still holds the device until its destroy below; the
            // root looks only now, so that its lines follow the cell's on
            // the shared console instead of racing them.
            check_eq!("passthru: while the cell has 00:05.0 the root reads no device there", rd(EDU), u32::MAX);
            // Ignored: after destroy the root finds BAR0 where it was.
            wr(EDU + 0x10, 0x2000_0000);
            check_eq!("passthru: dma-test failed none of its checks", page.read(2), 0);
            check!("passthru: dma-test passed its checks (config space, DMA checksum, INTx)", page.read(1) >= 15, "{} passed", page.read(1));
            check_eq!("passthru: the cell had memory decoding and bus mastering on", page.read(3) & 0x6, 0x6);
            if smmu {
                let intact = ROOT_DATA.iter().enumerate().all(|(i, w)| w.load(Ordering::Relaxed) == 0x5eed_0000_0000_0000 | i as u64);
                check!("passthru: DMA into root memory blocked: the root's data is intact", intact);
                check_eq!("passthru: DMA into hypervisor memory blocked: its header is intact", read64(HV_HEADER), hv_before);
                check!("passthru: the cell kept running through its blocked DMA (not failed)", hvc::cell_state(id) != 3, "state {}", hvc::cell_state(id));
            }
            if msi {
                check_eq!("passthru: the cell's MSI naming the root's SPI 33 left it as it was (not pending)", root_spi33_pending(), spi33_before);
            }
            check_eq!("passthru: destroy", hvc::cell_destroy(id), 0);
            if let Some(v) = &victim {
                v.check_intact();
            }
            check_eq!("passthru: after destroy the root sees the device again", rd(EDU), EDU_ID);
            check_eq!("passthru: the root's write while the cell had it was ignored", rd(EDU + 0x10), BAR0 as u32);
            check_eq!("passthru: returned quiesced: no decoding, no bus mastering, INTx off", rd(EDU + 4) & 0x407, 0x400);
        }
        Err(e) => {
            check!("passthru: dma-test cell launched", false, "{e}");
        }
    }
    let before = usage();
    let mut bad = 0;
    for _ in 0..100 {
        let id = hvc::cell_create(addr_of(config));
        if id <= 0 || rd(EDU) != u32::MAX || hvc::cell_destroy(id as u64) != 0 || rd(EDU) != EDU_ID {
            bad += 1;
        }
    }
    check_eq!("passthru: 100 assign/unassign cycles succeed, the device hidden and back each time", bad, 0);
    check_eq!("passthru: pool usage and cell count unchanged after 100 assign/unassign cycles", usage(), before);
}

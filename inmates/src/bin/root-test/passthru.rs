//! Suite "passthru" (xtask/src/systests_passthru.rs; QEMU with
//! `-device edu,addr=05.0`): QEMU's edu device handed to the dma-test cell
//! (configs/test-passthru.toml, docs/passthrough.md) and back. root-test
//! first does the firmware's job (BAR0 at 0x1000_0000 through the real
//! host bridge's ECAM); while the cell has the device the root's view of
//! its config space reads as no device and the root's writes there are
//! ignored; the cell's checks (inmates/src/bin/dma-test.rs) come back
//! through the shared page; after destroy the device is the root's again,
//! quiesced; 100 create/destroy cycles keep pool usage constant.
use crate::lifecycle::{addr_of, file, launch, ms, shared_page, usage, wait_ns, warm_up};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::{check, check_eq, hvc};

/// Bundle entry selecting the suite (its content is not read).
pub const MODE: &str = "mode:passthru";
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

pub fn run(b: &Bundle) {
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
    match launch(config, image) {
        Ok(id) => {
            check_eq!("passthru: while the cell has 00:05.0 the root reads no device there", rd(EDU), u32::MAX);
            // Ignored: the cell checks its BAR0 is still where it was.
            wr(EDU + 0x10, 0x2000_0000);
            let done = wait_ns(ms(5000), || page.read(0) == DONE);
            check!("passthru: dma-test ran to its end", done);
            check_eq!("passthru: dma-test failed none of its checks", page.read(2), 0);
            check!("passthru: dma-test passed its checks (config space, DMA checksum, INTx)", page.read(1) >= 15, "{} passed", page.read(1));
            check_eq!("passthru: the cell had memory decoding and bus mastering on", page.read(3) & 0x6, 0x6);
            check_eq!("passthru: destroy", hvc::cell_destroy(id), 0);
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

//! gic-leftover (CPU 2, SPI 146) leaves its SGIs/PPIs and SPI in group 0,
//! at priority 0xff, pending and active, and tries to switch off the
//! hypervisor's SGI 15 and maintenance PPI 25. The root must still be able
//! to destroy it (its CPU takes the management SGI whatever the cell left),
//! and SPI 146 must come back exactly as the root had configured it.
//! Then timer-bare on the same CPU, which enables its timer PPI without
//! setting its group or priority, must get timer interrupts: the CPU's
//! banked interrupts are reset whatever the previous cell left.
use crate::lifecycle::{addr_of, file, launch, ms, shared_page, wait_ns, warm_up};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::gic::QEMU_VIRT_GICD;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{check, check_eq};

const CELL: &str = "gic/test-leftover.cell";
const BIN: &str = "gic/gic-leftover.bin";
const SPI: usize = 146;
const TIMER_CELL: &str = "gic/test-timer-bare.cell";
const TIMER_BIN: &str = "gic/timer-bare.bin";

fn r32(addr: usize) -> u32 {
    // SAFETY: a GICD register, trapped and emulated for the root.
    unsafe { (addr as *const u32).read_volatile() }
}

fn r8(addr: usize) -> u8 {
    // SAFETY: as in `r32`; priority registers are byte-accessible.
    unsafe { (addr as *const u8).read_volatile() }
}

/// The root's view of the SPI: group, priority, trigger, enabled,
/// pending, active.
fn view() -> [u32; 6] {
    let (word, bit) = (SPI / 32 * 4, 1u32 << (SPI % 32));
    let g = QEMU_VIRT_GICD;
    [
        r32(g + 0x080 + word) & bit,
        u32::from(r8(g + 0x400 + SPI)),
        (r32(g + 0xc00 + SPI / 16 * 4) >> (2 * (SPI % 16))) & 3,
        r32(g + 0x100 + word) & bit,
        r32(g + 0x200 + word) & bit,
        r32(g + 0x300 + word) & bit,
    ]
}

pub fn run(bundle: &Bundle) {
    let (Some(config), Some(image)) = (file(bundle, "gic: files", CELL), file(bundle, "gic: files", BIN)) else {
        return;
    };
    let Some(page) = shared_page(config) else {
        check!("gic: leftover config has a shared page", false);
        return;
    };
    page.clear(4);
    warm_up(hvc::cell_create(addr_of(config)));
    let before = view();
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("gic: leftover cell starts", false, "{e}");
            return;
        }
    };
    let done = wait_ns(ms(2000), || page.read(0) == 1);
    let state = hvc::cell_state(id);
    let destroyed = hvc::cell_destroy(id);
    let after = view();
    check!("gic: leftover cell ran to the end", done, "done word {}", page.read(0));
    check_eq!("gic: leftover cell was still running", state, CELL_RUNNING);
    // GICv3: group 1, RAO/WI. GICv2: the hypervisor keeps the groups
    // as it set them and shows a cell none (RAZ/WI).
    let v2 = syshyper_inmates::gic::is_v2();
    let (banked, spi) = if v2 { (0, 0) } else { (0xffff_ffff, 1 << (SPI % 32)) };
    check_eq!("gic: leftover cell cannot change its banked interrupts' group", page.read(1), banked);
    check_eq!("gic: leftover cell cannot change SPI 146's group", page.read(2), spi);
    check_eq!("gic: leftover cell destroyed despite its group-0 state", destroyed, 0);
    check_eq!("gic: SPI 146 back in the root's configuration", after, before);
    timer_bare(bundle);
}

fn timer_bare(bundle: &Bundle) {
    let (Some(config), Some(image)) = (file(bundle, "gic: files", TIMER_CELL), file(bundle, "gic: files", TIMER_BIN))
    else {
        return;
    };
    let Some(page) = shared_page(config) else {
        check!("gic: timer-bare config has a shared page", false);
        return;
    };
    page.clear(4);
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("gic: timer-bare cell starts", false, "{e}");
            return;
        }
    };
    let ticked = wait_ns(ms(2000), || page.read(0) >= 5);
    let destroyed = hvc::cell_destroy(id);
    check!("gic: timer-bare gets its timer interrupts after gic-leftover", ticked, "{} ticks", page.read(0));
    check_eq!("gic: timer-bare destroyed", destroyed, 0);
}

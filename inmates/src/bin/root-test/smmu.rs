//! Suite "smmu" (QEMU virt with `iommu=smmuv3` and two `edu` devices,
//! configs/qemu-virt-smmu.toml): DMA of the root's devices goes through
//! the SMMU.
//! * edu 00:01.0 (stream 0x8, the root's) copies a buffer within root
//!   memory through its 4 KiB device buffer: the copy is exact;
//! * pointed at hypervisor memory — a write over the image header (a page
//!   the root may read, so it can see it intact) and a read of hypervisor
//!   code — the transfers are blocked: the header is unchanged, what comes
//!   back holds no hypervisor bytes, the hypervisor prints an SMMU event
//!   naming the stream and address (the harness checks), and the root's
//!   fault count (SYSHYPER_CELL_GET_INFO 6) grows;
//! * edu 00:02.0 (stream 0x10) copies for the root, is handed to a cell
//!   (smmu-cell lists the stream) by cell create — now its write into root
//!   memory is blocked and counted for that cell — and comes back to the
//!   root at destroy, copying again; 100 more such cycles leave the page
//!   pool as it was.
//!
//! Events are drained when the root makes a hypercall (see the
//! hypervisor's `iommu`): the suite makes one after each blocked transfer.
use crate::lifecycle::{file, ms, wait_ns};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::{EBUSY, INFO_MEM_POOL_USED, INFO_NUM_CELLS};
use syshyper_inmates::pci::{Bdf, Ecam, CFG_BAR0, CFG_COMMAND, CMD_MASTER, CMD_MEMORY};
use syshyper_inmates::{check, check_eq, println};

pub const SMMU_CELL: &str = "smmu/smmu-cell.cell";
/// Cells of the refused-create check (step 5; optional in the bundle).
const HOLDER: &str = "smmu/smmu-holder.cell";
const REFUSED: &str = "smmu/smmu-refused.cell";

/// QEMU virt's high ECAM (the root maps it, configs/qemu-virt-smmu.toml).
const ECAM: usize = 0x40_1000_0000;
/// Free PCI MMIO for the two BARs (QEMU virt: 0x10000000-0x3efeffff;
/// above the passthru suite's edu BAR0 at 0x1000_0000, as root-smmu-s2
/// runs both suites in one boot).
const BAR_BASE: [u64; 2] = [0x1020_0000, 0x1030_0000];
const EDU: (u16, u16) = (0x1234, 0x11e8);
/// edu registers (QEMU docs/specs/edu.rst).
const EDU_ID: u64 = 0x00;
const DMA_SRC: u64 = 0x80;
const DMA_DST: u64 = 0x88;
const DMA_LEN: u64 = 0x90;
const DMA_CMD: u64 = 0x98;
const CMD_RUN: u64 = 1;
/// Direction bit: set = device buffer to memory.
const CMD_TO_RAM: u64 = 2;
/// The device's buffer, in its own address space.
const EDU_BUF: u64 = 0x40000;
/// Bytes per transfer: less than the 4 KiB buffer, as QEMU 7.2's edu
/// refuses (with a hardware error that stops the machine) a transfer
/// that ends exactly at the buffer's end.
const LEN: usize = 2048;

const HV: u64 = 0x7fc0_0000;

#[repr(C, align(4096))]
struct Page([u8; 4096]);
static mut SRC: Page = Page([0; 4096]);
static mut DST: Page = Page([0; 4096]);

fn src() -> u64 {
    core::ptr::addr_of!(SRC) as u64
}
fn dst() -> u64 {
    core::ptr::addr_of!(DST) as u64
}
/// Byte `i` of a buffer (no copies: the boot stack is small, and a
/// buffer-sized array on it overruns into .bss).
fn byte(addr: u64, i: usize) -> u8 {
    // SAFETY: one of this program's two buffers or a page the root maps,
    // read with volatile loads: a device writes it by DMA.
    unsafe { ((addr + i as u64) as *const u8).read_volatile() }
}
fn same(a: u64, b: u64, len: usize) -> bool {
    (0..len).all(|i| byte(a, i) == byte(b, i))
}
fn all(addr: u64, v: u8) -> bool {
    (0..LEN).all(|i| byte(addr, i) == v)
}
fn fill(addr: u64, f: impl Fn(usize) -> u8) {
    for i in 0..LEN {
        // SAFETY: one of this program's two buffers; volatile, as above.
        unsafe { ((addr + i as u64) as *mut u8).write_volatile(f(i)) };
    }
}

fn reg_read(bar: u64, off: u64) -> u64 {
    // SAFETY: the edu BAR this suite assigned, inside the root's
    // permissive MMIO region; with the MMU off it is device memory.
    unsafe { ((bar + off) as *const u32).read_volatile() as u64 }
}
fn reg_write(bar: u64, off: u64, v: u64) {
    // SAFETY: as in `reg_read`; edu takes 64-bit writes at 0x80-0x98.
    unsafe { ((bar + off) as *mut u64).write_volatile(v) };
}

/// Runs one transfer and waits until the device reports it done (it
/// completes aborted transfers too, only without data).
fn dma(bar: u64, from: u64, to: u64, len: usize, to_ram: bool) -> bool {
    reg_write(bar, DMA_SRC, from);
    reg_write(bar, DMA_DST, to);
    reg_write(bar, DMA_LEN, len as u64);
    reg_write(bar, DMA_CMD, CMD_RUN | if to_ram { CMD_TO_RAM } else { 0 });
    wait_ns(ms(3000), || reg_read(bar, DMA_CMD) & CMD_RUN == 0)
}

/// Copies `from` (memory) to `to` (memory) through the device's buffer.
fn copy(bar: u64, from: u64, to: u64) -> bool {
    dma(bar, from, EDU_BUF, LEN, false) && dma(bar, EDU_BUF, to, LEN, true)
}

fn checksum(addr: u64) -> u64 {
    (0..LEN).fold(0xcbf2_9ce4_8422_2325u64, |h, i| (h ^ u64::from(byte(addr, i))).wrapping_mul(0x100_0000_01b3))
}

/// Faults recorded for `cell` (a hypercall: drains the event queue first).
fn faults(cell: u64) -> i64 {
    hvc::hvc(0x100, cell, 6)
}

pub fn wanted(b: &Bundle) -> bool {
    b.find(SMMU_CELL).is_some()
}

pub fn run(bundle: &Bundle) {
    let Some(cell_cfg) = file(bundle, "smmu: files", SMMU_CELL) else { return };
    // SAFETY: QEMU virt's ECAM, 1 bus, mapped by the root's configuration.
    let ecam = unsafe { Ecam::at(ECAM, 1) };
    let devs = [Bdf::new(0, 1, 0), Bdf::new(0, 2, 0)];
    for (i, &d) in devs.iter().enumerate() {
        if !check_eq!("smmu: edu device present", ecam.vendor_device(d), EDU) {
            return;
        }
        ecam.write32(d, CFG_BAR0, BAR_BASE[i] as u32);
        ecam.write32(d, CFG_COMMAND, CMD_MEMORY | CMD_MASTER);
        if !check_eq!("smmu: edu BAR0 answers", reg_read(BAR_BASE[i], EDU_ID) & 0xff, 0xed) {
            return;
        }
    }
    let (a, b) = (BAR_BASE[0], BAR_BASE[1]);

    // 1. A copy within root memory.
    fill(src(), |i| (i * 7 + 3) as u8);
    fill(dst(), |_| 0);
    let done = copy(a, src(), dst());
    let (cs, cd) = (checksum(src()), checksum(dst()));
    check!("smmu: root edu copies within root memory (checksum)", done && cs == cd && same(src(), dst(), LEN),
        "done {done}, {cs:#x} vs {cd:#x}");
    let f0 = faults(0);
    check_eq!("smmu: no fault recorded for the root so far", f0, 0);

    // 2. Writing over the hypervisor's header page.
    let mut header = [0u8; 64];
    header.iter_mut().enumerate().for_each(|(i, b)| *b = byte(HV, i));
    let done = dma(a, EDU_BUF, HV, 64, true);
    let f1 = faults(0);
    println!("smmu: edu 00:01.0 aimed at hypervisor memory {HV:#x} (write), root faults {f0} -> {f1}");
    check!("smmu: DMA write into hypervisor memory blocked (header intact)", done && header.iter().enumerate().all(|(i, &b)| byte(HV, i) == b));
    check!("smmu: the fault is recorded for the root", f1 > f0, "{f0} -> {f1}");

    // 3. Reading hypervisor code into root memory.
    let code = HV + 0x2000;
    fill(dst(), |_| 0x5a);
    let done = dma(a, code, EDU_BUF, LEN, false) && dma(a, EDU_BUF, dst(), LEN, true);
    let f2 = faults(0);
    let first = byte(dst(), 0);
    let uniform = all(dst(), first);
    println!("smmu: edu 00:01.0 aimed at hypervisor memory {code:#x} (read), root faults {f1} -> {f2}, got {first:#x} x {LEN}");
    check!("smmu: DMA read of hypervisor memory returns no hypervisor bytes", done && uniform && f2 > f1,
        "done {done}, uniform {uniform}, faults {f1} -> {f2}");

    // 4. Stream 0x10: the root's, the cell's, the root's again.
    fill(dst(), |_| 0);
    check!("smmu: edu 00:02.0 copies for the root", copy(b, src(), dst()) && same(src(), dst(), LEN));
    let id = hvc::cell_create(cell_cfg.as_ptr() as u64);
    if !check!("smmu: smmu-cell created (stream 0x10 handed over)", id > 0, "{id}") {
        return;
    }
    let id = id as u64;
    fill(dst(), |_| 0xa5);
    let done = dma(b, EDU_BUF, dst(), LEN, true);
    let fc = faults(id);
    let intact = all(dst(), 0xa5);
    println!("smmu: edu 00:02.0 (now smmu-cell's) aimed at root memory {:#x}, cell faults {fc}", dst());
    check!("smmu: a cell's device cannot write root memory", done && intact);
    check!("smmu: the fault is recorded for the cell", fc > 0, "{fc}");
    check_eq!("smmu: smmu-cell destroyed (stream 0x10 back to the root)", hvc::cell_destroy(id), 0);
    fill(dst(), |_| 0);
    check!("smmu: edu 00:02.0 copies for the root again", copy(b, src(), dst()) && same(src(), dst(), LEN));
    // 100 more hand-overs root -> cell -> root: the pool stays as it was
    // (the stream table's level-2 page was allocated by the first).
    let used = hvc::hypervisor_info(INFO_MEM_POOL_USED);
    let mut ok = true;
    for _ in 0..100 {
        let id = hvc::cell_create(cell_cfg.as_ptr() as u64);
        ok &= id > 0 && hvc::cell_destroy(id as u64) == 0;
    }
    check!("smmu: 100 stream hand-over cycles keep the pool constant",
        ok && hvc::hypervisor_info(INFO_MEM_POOL_USED) == used, "ok {ok}, used {used} -> {}", hvc::hypervisor_info(INFO_MEM_POOL_USED));
    fill(dst(), |_| 0);
    check!("smmu: edu 00:02.0 still copies for the root after them", copy(b, src(), dst()) && same(src(), dst(), LEN));
    check_eq!("smmu: cells left", hvc::hypervisor_info(INFO_NUM_CELLS), 1);

    // 5. A create refused after its stream preparation: smmu-refused
    // lists 0x100, whose stream-table page does not exist yet (preparing
    // it allocates one), and 0x200, which smmu-holder holds (EBUSY). The
    // page must go back with the refusal, and the holder's own page with
    // its destroy: the pool ends where it began.
    let (Some(holder), Some(refused)) = (bundle.find(HOLDER).map(|f| f.data), bundle.find(REFUSED).map(|f| f.data)) else {
        return;
    };
    let used = hvc::hypervisor_info(INFO_MEM_POOL_USED);
    let h = hvc::cell_create(holder.as_ptr() as u64);
    if !check!("smmu: smmu-holder created (stream 0x200)", h > 0, "{h}") {
        return;
    }
    let with_holder = hvc::hypervisor_info(INFO_MEM_POOL_USED);
    let mut bad = 0;
    for _ in 0..10 {
        let r = hvc::cell_create(refused.as_ptr() as u64);
        bad += usize::from(r != -EBUSY);
        if r > 0 {
            hvc::cell_destroy(r as u64);
        }
    }
    let after = hvc::hypervisor_info(INFO_MEM_POOL_USED);
    check!("smmu: a create listing a held stream is refused (EBUSY)", bad == 0, "{bad} of 10 not EBUSY");
    check!("smmu: refused creates keep the pool constant (their stream-table pages go back)", after == with_holder,
        "{with_holder} -> {after}");
    check_eq!("smmu: smmu-holder destroyed", hvc::cell_destroy(h as u64), 0);
    check!("smmu: the pool is back where it was before the holder", hvc::hypervisor_info(INFO_MEM_POOL_USED) == used,
        "{used} -> {}", hvc::hypervisor_info(INFO_MEM_POOL_USED));
}

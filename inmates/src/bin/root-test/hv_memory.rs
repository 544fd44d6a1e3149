//! Suite "hvmem": while uart-demo runs on CPU 1, the root reads hypervisor
//! memory. The header page and the console page must read; a per-CPU area
//! (CPU 1's, with its trap frame), the system configuration copy and the
//! page pool must not: each read must come back to the root's own EL1
//! handler as a synchronous external data abort (ESR_EL1 EC 0x25, DFSC
//! 0x10, FAR_EL1 = the address). The suite installs its own vector table for
//! the probes only and puts the library's back afterwards.
use crate::lifecycle::{file, launch, ms, wait_ns};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::{CELL_RUNNING, CPU_STAT_BASE, STAT_TOTAL};
use syshyper_inmates::{check, check_eq, println};

pub const HVMEM_CELL: &str = "hvmem/uart-demo.cell";
pub const HVMEM_BIN: &str = "hvmem/uart-demo.bin";

/// Physical base and size of hypervisor memory (configs/qemu-virt.toml).
const HV: u64 = 0x7fc0_0000;
const HV_SIZE: u64 = 0x40_0000;
/// The hypervisor's own virtual base; header pointers are relative to it.
const HV_VIRT: u64 = 0x0000_ffff_c000_0000;
pub const EC_DABT_CUR: u64 = 0x25;
pub const DFSC_SEA: u64 = 0x10;

core::arch::global_asm!(
    r#"
.section .data.hvmem_probe, "aw"
.balign 8
.global __hvmem_record
// faults taken, last ESR_EL1, last FAR_EL1
__hvmem_record:
    .quad 0, 0, 0

.section .text.hvmem_vectors, "ax"
// Synchronous exceptions from EL1 (with SP_EL0 at 0x000, SP_EL1 at 0x200)
// are recorded and the faulting instruction skipped; only x16/x17 are used,
// which the probe declares clobbered, so no stack is needed. Any other
// vector is unexpected and stops here, which the test's timeout reports.
.macro hvmem_record_skip
    adrp    x16, __hvmem_record
    add     x16, x16, :lo12:__hvmem_record
    ldr     x17, [x16]
    add     x17, x17, #1
    str     x17, [x16]
    mrs     x17, esr_el1
    str     x17, [x16, #8]
    mrs     x17, far_el1
    str     x17, [x16, #16]
    mrs     x17, elr_el1
    add     x17, x17, #4
    msr     elr_el1, x17
    eret
.endm
.balign 2048
.global __hvmem_vectors
__hvmem_vectors:
    hvmem_record_skip
    .rept 3
    .balign 128
    b       .
    .endr
    .balign 128
    hvmem_record_skip
    .rept 11
    .balign 128
    b       .
    .endr
"#
);

extern "C" {
    static __hvmem_vectors: u8;
    static mut __hvmem_record: [u64; 3];
}

/// Outcome of one probe: `None` = the read completed, else (ESR, FAR).
/// `align_bits` is ORed into SCTLR_EL1 for the load (bit 1, A: alignment
/// checks, for the self-check of the handler).
fn probe_with(addr: u64, align_bits: u64) -> Option<(u64, u64)> {
    // Only this CPU's EL1 vector base and interrupt mask change; the
    // replacement table handles the exception the load may raise and the
    // old one is restored before returning, with interrupts masked.
    // SAFETY: as above; the record is written only by that handler on this
    // CPU and read here after it ran.
    unsafe {
        core::ptr::addr_of_mut!(__hvmem_record).write_volatile([0; 3]);
        core::arch::asm!(
            "mrs {old}, vbar_el1",
            "mrs {daif}, daif",
            "msr daifset, #2",
            "msr vbar_el1, {new}",
            "mrs {sctlr}, sctlr_el1",
            "orr {tmp}, {sctlr}, {align}",
            "msr sctlr_el1, {tmp}",
            "isb",
            "ldr {tmp}, [{addr}]",
            "msr sctlr_el1, {sctlr}",
            "msr vbar_el1, {old}",
            "isb",
            "msr daif, {daif}",
            old = out(reg) _,
            daif = out(reg) _,
            new = in(reg) core::ptr::addr_of!(__hvmem_vectors) as u64,
            addr = in(reg) addr,
            tmp = out(reg) _,
            sctlr = out(reg) _,
            align = in(reg) align_bits,
            out("x16") _,
            out("x17") _,
            options(nostack)
        );
        let rec = core::ptr::addr_of!(__hvmem_record).read_volatile();
        (rec[0] != 0).then_some((rec[1], rec[2]))
    }
}

static HVMEM_SCRATCH: [u64; 2] = [0; 2];

pub fn probe(addr: u64) -> Option<(u64, u64)> {
    probe_with(addr, 0)
}

fn header_u64(off: u64) -> u64 {
    // SAFETY: the header page stays mapped read-only in the root (it is the
    // one hypervisor page the driver needs); aligned 8-byte read.
    unsafe { core::ptr::read_volatile((HV + off) as *const u64) }
}

fn must_fault(name: &str, addr: u64) {
    match probe(addr) {
        None => {
            check!(name, false, "read of {addr:#x} completed in the root");
        }
        Some((esr, far)) => {
            let ec = esr >> 26;
            let dfsc = esr & 0x3f;
            check!(
                name,
                ec == EC_DABT_CUR && dfsc == DFSC_SEA && far == addr,
                "ESR {esr:#x} (EC {ec:#x} DFSC {dfsc:#x}) FAR {far:#x}, want EC 0x25 DFSC 0x10 FAR {addr:#x}"
            );
        }
    }
}

fn must_read(name: &str, addr: u64) {
    let r = probe(addr);
    check!(name, r.is_none(), "read of {addr:#x} faulted: {r:x?}");
}

pub fn wanted(b: &Bundle) -> bool {
    b.find(HVMEM_CELL).is_some()
}

pub fn run(bundle: &Bundle) {
    let (Some(config), Some(image)) = (
        file(bundle, "hvmem: files", HVMEM_CELL),
        file(bundle, "hvmem: files", HVMEM_BIN),
    ) else {
        return;
    };
    // Header fields (layout.rs): core_size @8, percpu_size @16,
    // console_page @32, max_cpus @48.
    let core_size = header_u64(8);
    let percpu_size = header_u64(16);
    let console = header_u64(32);
    let max_cpus = header_u64(48) & 0xffff_ffff;
    let console_off = if console >= HV_VIRT { console - HV_VIRT } else { console };
    println!(
        "hvmem: core {core_size:#x} per-CPU {percpu_size:#x} x {max_cpus}, console page {console:#x}"
    );
    let sane = core_size > 0 && percpu_size > 0 && max_cpus >= 2
        && core_size + (max_cpus + 1) * percpu_size < HV_SIZE
        && console_off < core_size;
    if !check!("hvmem: header readable and plausible", sane) {
        return;
    }
    // The probe mechanics themselves: with alignment checks on, an unaligned
    // load is an alignment fault taken at EL1 without the hypervisor.
    let wide = core::ptr::addr_of!(HVMEM_SCRATCH) as u64 + 1;
    let r = probe_with(wide, 1 << 1);
    check!(
        "hvmem: probe handler records an EL1 data abort",
        matches!(r, Some((esr, far)) if esr >> 26 == EC_DABT_CUR && far == wide),
        "{r:x?}"
    );
    let id = match launch(config, image) {
        Ok(id) => id,
        Err(e) => {
            check!("hvmem: uart-demo launched", false, "{e}");
            return;
        }
    };
    // uart-demo greets before its first timer wait; two more exits of its
    // CPU mean it is past that and running.
    let exits = || hvc::cpu_info(1, CPU_STAT_BASE + STAT_TOTAL);
    let start = exits();
    let ran = wait_ns(ms(2000), || exits() >= start + 2);
    check!("hvmem: uart-demo's CPU is taking exits", ran, "from {start} to {}", exits());
    let cpu1_area = HV + core_size + percpu_size;
    // The trap frame sits at the top of the per-CPU stack.
    must_fault("hvmem: root read of CPU 1's trap frame faults (SEA)", cpu1_area + percpu_size - 0x100);
    must_fault("hvmem: root read of CPU 1's per-CPU area faults (SEA)", cpu1_area);
    must_fault(
        "hvmem: root read of the system config copy faults (SEA)",
        HV + core_size + max_cpus * percpu_size,
    );
    must_fault("hvmem: root read of the page pool faults (SEA)", HV + HV_SIZE - 0x1000);
    must_read("hvmem: root reads the header page", HV);
    must_read("hvmem: root reads the console page", HV + console_off);
    check_eq!("hvmem: uart-demo still running", hvc::cell_state(id), CELL_RUNNING);
    check_eq!("hvmem: uart-demo destroyed", hvc::cell_destroy(id), 0);
}

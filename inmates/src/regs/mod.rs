//! Register hand-over test (issue 12 finding 5): `plant` writes a
//! distinctive value into every register class an EL1 program can write
//! and read back, then turns the CPU off; `probe` runs on the next
//! context of that CPU and reports every register that still shows
//! anything but the reset state.
//!
//! The probe must see the registers as handed over, before any code
//! changes them: an entry stub ([`capture_body!`]) stores x1-x30, SP,
//! SCTLR_EL1, CPACR_EL1, VBAR_EL1, FPCR, FPSR and q0-q31 into a
//! [`Capture`] before the boot code runs; the other system registers are
//! untouched by the boot code and read afterwards. Entry stubs: the
//! `reg-probe` cell's (bin `reg-probe`) and root-test's `__regprobe_root`
//! (`root_entry.rs`).
pub mod root_entry;
pub mod sysregs;

use crate::println;
use sysregs::{Expect, Features, Plant};

/// What the probe's entry stub stores (layout used by `capture_body!`).
#[repr(C, align(16))]
#[derive(Debug)]
pub struct Capture {
    /// x0 (see the entry stubs for what it holds) and x1-x30.
    pub x: [u64; 31],
    pub sp: u64,
    pub sctlr: u64,
    pub cpacr: u64,
    pub vbar: u64,
    pub fpcr: u64,
    pub fpsr: u64,
    _pad: u64,
    pub q: [u128; 32],
}

impl Capture {
    pub const fn new() -> Self {
        Self { x: [0; 31], sp: 0, sctlr: 0, cpacr: 0, vbar: 0, fpcr: 0, fpsr: 0, _pad: 0, q: [0; 32] }
    }
}

impl Default for Capture {
    fn default() -> Self {
        Self::new()
    }
}

/// Stores x1-x30, SP, SCTLR/CPACR/VBAR_EL1, then enables FP/SIMD and
/// stores FPCR, FPSR and q0-q31, all at the [`Capture`] that x0 points to.
/// Clobbers x1 and x2 (after saving them) and leaves x0. The caller stores
/// x0's slot itself.
#[macro_export]
macro_rules! capture_body {
    () => {
        "
    stp     x1, x2, [x0, #8]
    stp     x3, x4, [x0, #24]
    stp     x5, x6, [x0, #40]
    stp     x7, x8, [x0, #56]
    stp     x9, x10, [x0, #72]
    stp     x11, x12, [x0, #88]
    stp     x13, x14, [x0, #104]
    stp     x15, x16, [x0, #120]
    stp     x17, x18, [x0, #136]
    stp     x19, x20, [x0, #152]
    stp     x21, x22, [x0, #168]
    stp     x23, x24, [x0, #184]
    stp     x25, x26, [x0, #200]
    stp     x27, x28, [x0, #216]
    stp     x29, x30, [x0, #232]
    mov     x1, sp
    str     x1, [x0, #248]
    mrs     x1, sctlr_el1
    str     x1, [x0, #256]
    mrs     x1, cpacr_el1
    str     x1, [x0, #264]
    mrs     x1, vbar_el1
    str     x1, [x0, #272]
    mov     x1, #(3 << 20)
    msr     cpacr_el1, x1
    isb
    mrs     x1, fpcr
    str     x1, [x0, #280]
    mrs     x1, fpsr
    str     x1, [x0, #288]
    add     x1, x0, #304
    stp     q0, q1, [x1, #0]
    stp     q2, q3, [x1, #32]
    stp     q4, q5, [x1, #64]
    stp     q6, q7, [x1, #96]
    stp     q8, q9, [x1, #128]
    stp     q10, q11, [x1, #160]
    stp     q12, q13, [x1, #192]
    stp     q14, q15, [x1, #224]
    stp     q16, q17, [x1, #256]
    stp     q18, q19, [x1, #288]
    stp     q20, q21, [x1, #320]
    stp     q22, q23, [x1, #352]
    stp     q24, q25, [x1, #384]
    stp     q26, q27, [x1, #416]
    stp     q28, q29, [x1, #448]
    stp     q30, q31, [x1, #480]
"
    };
}

const _: () = assert!(core::mem::offset_of!(Capture, sp) == 248);
const _: () = assert!(core::mem::offset_of!(Capture, fpsr) == 288);
const _: () = assert!(core::mem::offset_of!(Capture, q) == 304);

/// Values the plant loads into x1-x30 (index n for xn; 0 unused) and, at
/// index 31, into SP.
#[no_mangle]
static REGS_X_PATTERNS: [u64; 32] = {
    let mut a = [0u64; 32];
    let mut n = 1;
    while n < 32 {
        a[n] = sysregs::pattern(0x100 + n as u64);
        n += 1;
    }
    a[31] &= !0xf;
    a
};

/// Values the plant loads into q0-q31.
#[no_mangle]
static REGS_Q_PATTERNS: [u128; 32] = {
    let mut a = [0u128; 32];
    let mut n = 0;
    while n < 32 {
        a[n] = ((sysregs::pattern(0x200 + n as u64) as u128) << 64) | sysregs::pattern(0x300 + n as u64) as u128;
        n += 1;
    }
    a
};

/// FPCR planted: AHP, DN, FZ, RMode = 0b11. FPSR planted: QC and the
/// cumulative exception flags.
pub const FPCR_PLANT: u64 = 0x07c0_0000;
pub const FPSR_PLANT: u64 = 0x0800_009f;

core::arch::global_asm!(
    r#"
.section .text.regs_plant, "ax"
.global __regs_plant_final
__regs_plant_final:
    mov     x9, #(3 << 20)
    msr     cpacr_el1, x9
    isb
    adrp    x9, REGS_Q_PATTERNS
    add     x9, x9, :lo12:REGS_Q_PATTERNS
    ldp     q0, q1, [x9, #0]
    ldp     q2, q3, [x9, #32]
    ldp     q4, q5, [x9, #64]
    ldp     q6, q7, [x9, #96]
    ldp     q8, q9, [x9, #128]
    ldp     q10, q11, [x9, #160]
    ldp     q12, q13, [x9, #192]
    ldp     q14, q15, [x9, #224]
    ldp     q16, q17, [x9, #256]
    ldp     q18, q19, [x9, #288]
    ldp     q20, q21, [x9, #320]
    ldp     q22, q23, [x9, #352]
    ldp     q24, q25, [x9, #384]
    ldp     q26, q27, [x9, #416]
    ldp     q28, q29, [x9, #448]
    ldp     q30, q31, [x9, #480]
    movz    x10, #{fpcr_hi}, lsl #16
    msr     fpcr, x10
    movz    x10, #{fpsr_hi}, lsl #16
    movk    x10, #{fpsr_lo}
    msr     fpsr, x10
    adrp    x30, REGS_X_PATTERNS
    add     x30, x30, :lo12:REGS_X_PATTERNS
    ldr     x9, [x30, #248]
    mov     sp, x9
    ldp     x1, x2, [x30, #8]
    ldp     x3, x4, [x30, #24]
    ldp     x5, x6, [x30, #40]
    ldp     x7, x8, [x30, #56]
    ldp     x9, x10, [x30, #72]
    ldp     x11, x12, [x30, #88]
    ldp     x13, x14, [x30, #104]
    ldp     x15, x16, [x30, #120]
    ldp     x17, x18, [x30, #136]
    ldp     x19, x20, [x30, #152]
    ldp     x21, x22, [x30, #168]
    ldp     x23, x24, [x30, #184]
    ldp     x25, x26, [x30, #200]
    ldp     x27, x28, [x30, #216]
    ldr     x29, [x30, #232]
    movz    x0, #0x0002
    movk    x0, #0x8400, lsl #16
    ldr     x30, [x30, #240]
    smc     #0
1:  wfe
    b       1b
"#,
    fpcr_hi = const FPCR_PLANT >> 16,
    fpsr_hi = const FPSR_PLANT >> 16,
    fpsr_lo = const FPSR_PLANT & 0xffff,
);

extern "C" {
    fn __regs_plant_final() -> !;
}

/// Plants every system register this CPU has, then FP/SIMD, FPCR/FPSR,
/// SP and x1-x30, and turns the CPU off with PSCI CPU_OFF (x0 is the
/// function id). Returns the number of system registers that read back
/// as planted through `report` before the last step, so callers can show
/// the test is not vacuous.
pub fn plant(report: impl FnOnce(u32, u32)) -> ! {
    let features = Features::read();
    let (mut planted, mut stuck) = (0u32, 0u32);
    sysregs::for_each(&features, |r| {
        let Some(write) = r.write else { return };
        let value = match (r.plant, r.read) {
            (Plant::Set(v), _) => v,
            (Plant::Or(bits), Some(read)) => read() | bits,
            (Plant::Or(bits), None) => bits,
            (Plant::None, _) => return,
        };
        write(value);
        planted += 1;
        if r.read.is_some_and(|read| read() & mask_of(r.expect) == value & mask_of(r.expect)) {
            stuck += 1;
        }
    });
    report(planted, stuck);
    // SAFETY: the routine only loads registers and calls PSCI CPU_OFF; it
    // does not return (it waits for events should CPU_OFF fail).
    unsafe { __regs_plant_final() }
}

fn mask_of(e: Expect) -> u64 {
    match e {
        Expect::Zero(m) => m,
        Expect::Is(_) | Expect::NotPlanted => u64::MAX,
    }
}

fn leaked(e: Expect, plant: Plant, v: u64) -> bool {
    match e {
        Expect::Zero(m) => v & m != 0,
        Expect::Is(x) => v != x,
        Expect::NotPlanted => matches!(plant, Plant::Set(p) if p == v),
    }
}

/// Checks the capture and every live system register against the reset
/// state; prints one line per leak prefixed `who` and returns the number
/// of leaks and of registers checked. `x0_ok` judges x0 as handed over.
pub fn probe(who: &str, cap: &Capture, x0_ok: bool) -> (u32, u32) {
    let features = Features::read();
    let (mut leaks, mut checked) = (0u32, 0u32);
    let mut judge = |name: &str, idx: Option<usize>, v: u64, bad: bool| {
        checked += 1;
        if bad {
            leaks += 1;
            match idx {
                Some(i) => println!("{who}: leak {name}{i} = {v:#x}"),
                None => println!("{who}: leak {name} = {v:#x}"),
            }
        }
    };
    judge("x0 (boot argument)", None, cap.x[0], !x0_ok);
    for (i, v) in cap.x.iter().enumerate().skip(1) {
        judge("x", Some(i), *v, *v != 0);
    }
    judge("sp_el1", None, cap.sp, cap.sp != 0);
    judge("cpacr_el1", None, cap.cpacr, cap.cpacr != 0);
    judge("fpcr", None, cap.fpcr, cap.fpcr != 0);
    judge("fpsr", None, cap.fpsr, cap.fpsr != 0);
    for (i, q) in cap.q.iter().enumerate() {
        let folded = (*q as u64) | ((*q >> 64) as u64);
        judge("q", Some(i), folded, *q != 0);
    }
    sysregs::for_each(&features, |r| {
        let v = match (r.name, r.read) {
            ("sctlr_el1", _) => cap.sctlr,
            ("vbar_el1", _) => cap.vbar,
            (_, Some(read)) => read(),
            (_, None) => return,
        };
        judge(r.name, None, v, leaked(r.expect, r.plant, v));
    });
    (leaks, checked)
}

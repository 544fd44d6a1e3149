//! Item 2, the time-of-check/time-of-use case: root CPU 3 keeps rewriting a
//! config (valid <-> a variant that claims hypervisor memory, the root's
//! CPU 0 and 200 regions) while CPU 0 hands it to CELL_CREATE. The
//! hypervisor validates only its own copy, so every call must either create
//! a proper cell or fail with a documented errno, and nothing may leak.
use crate::bad_calls::SCRATCH;
use crate::env::*;
use crate::table::{row, text};
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::psci::{self, SecondarySlot};
use syshyper_inmates::psci_ids::{qemu_virt_mpidr, SUCCESS};
use syshyper_inmates::{check, check_eq, cpu};

const ROUNDS: u32 = 300;
const RACER_CPU: u64 = 3;
/// The racing copy lives one page into SCRATCH, away from bad_calls' use.
const AT: usize = SCRATCH + 0x1_0000;
const LEN: usize = 512;

static STOP: AtomicBool = AtomicBool::new(false);
static FLIPS: AtomicU64 = AtomicU64::new(0);
static SLOT: SecondarySlot<8192> = SecondarySlot::new();
/// The two versions the racer alternates between (filled by CPU 0 first).
static mut GOOD: [u8; LEN] = [0; LEN];
static mut BAD: [u8; LEN] = [0; LEN];

extern "C" fn racer(_: u64) -> ! {
    let good = core::ptr::addr_of!(GOOD) as *const u8;
    let bad = core::ptr::addr_of!(BAD) as *const u8;
    let mut which = false;
    while !STOP.load(Ordering::Acquire) {
        let src = if which { bad } else { good };
        for i in 0..LEN {
            // SAFETY: GOOD/BAD are only read after CPU 0 filled them
            // (before CPU_ON); AT.. is scratch root RAM.
            unsafe { ((AT + i) as *mut u8).write_volatile(src.add(i).read_volatile()) };
        }
        which = !which;
        FLIPS.fetch_add(1, Ordering::Relaxed);
        cpu::cpu_relax();
    }
    psci::cpu_off();
    cpu::park()
}

fn prepare(env: &Env) {
    let n = env.hostile_cfg.len().min(LEN);
    let good = core::ptr::addr_of_mut!(GOOD) as *mut u8;
    let bad = core::ptr::addr_of_mut!(BAD) as *mut u8;
    for i in 0..n {
        // SAFETY: in bounds; the racer is not running yet.
        unsafe {
            good.add(i).write_volatile(env.hostile_cfg[i]);
            bad.add(i).write_volatile(env.hostile_cfg[i]);
        }
    }
    let patches: [(usize, &[u8]); 3] = [
        (52, &200u32.to_le_bytes()),
        (132, &[1]),
        (140, &0x7fc0_0000u64.to_le_bytes()),
    ];
    for (off, v) in patches {
        for (i, b) in v.iter().enumerate() {
            // SAFETY: offsets lie inside the 236-byte config, below LEN.
            unsafe { bad.add(off + i).write_volatile(*b) };
        }
    }
    copy_words(env.hostile_cfg, AT);
}

pub fn run(env: &Env, pool_v: i64) {
    prepare(env);
    env.hostile_mb.clear();
    env.hostile_mb
        .write(crate::mailbox::ROLE, crate::attack_ids::IDLE);
    let r = psci::start_cpu(&SLOT, qemu_virt_mpidr(RACER_CPU), racer, 0);
    if !check_eq!("config race: CPU_ON cpu 3", r, SUCCESS) {
        return;
    }
    let (mut created, mut refused, mut odd, mut first_odd) = (0u32, 0u32, 0u32, 0i64);
    for _ in 0..ROUNDS {
        let r = hvc::cell_create(AT as u64);
        if r > 0 {
            created += 1;
            if hvc::cell_destroy(r as u64) != 0 {
                odd += 1;
            }
        } else if matches!(-r, EINVAL | 7 | 16) {
            refused += 1;
        } else {
            odd += 1;
            first_odd = r;
        }
    }
    STOP.store(true, Ordering::Release);
    let flips = FLIPS.load(Ordering::Relaxed);
    wait_ms(1000, || {
        psci::affinity_info(qemu_virt_mpidr(RACER_CPU)) == 1
    });
    let (cells, pool) = (num_cells(), pool_used());
    let ok = odd == 0 && cells == 2 && pool == pool_v && flips > 0;
    check!(
        "config race: every create valid or refused, nothing leaked",
        ok,
        "created {created}, refused {refused}, odd {odd} (first {first_odd}), flips {flips}, cells {cells}, pool {pool}/{pool_v}"
    );
    row(
        "config rewritten during CREATE (CPU 3)",
        "valid cell or errno, no leak",
        &text(format_args!(
            "{created} created, {refused} refused, {odd} odd, {flips} flips"
        )),
    );
}

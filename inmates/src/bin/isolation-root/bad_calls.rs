//! Item 2: bad management calls from the root. Every call must return its
//! documented errno and change nothing (cell count and page-pool use stay
//! as they were; the victim keeps running).
use crate::env::*;
use crate::mailbox::*;
use crate::table::{row, text};
use syshyper_inmates::check;
use syshyper_inmates::hvc::{self, hvc, hypervisor_info};
use syshyper_inmates::hypercall::*;

const E2BIG: i64 = 7;
const EBUSY: i64 = 16;
const EEXIST: i64 = 17;

/// Root RAM used to place (broken) configs; nothing else uses it.
pub const SCRATCH: usize = 0x5100_0000;
const SCRATCH_SIZE: usize = 20 * 4096;
/// End of the root's RAM region (configs/qemu-virt.toml).
const ROOT_RAM_END: usize = 0x7fa1_0000;

/// Offsets in a cell descriptor and its first memory region (hostile.cell
/// has an 8-byte cpu set).
const OFF_SIGNATURE: usize = 0;
const OFF_REVISION: usize = 6;
const OFF_CPU_SET_SIZE: usize = 48;
const OFF_NUM_MEM: usize = 52;
const OFF_NUM_IRQCHIPS: usize = 60;
const OFF_CPU_SET: usize = 132;
const OFF_MEM0_PHYS: usize = 140;
const OFF_NAME: usize = 8;

fn poke(addr: usize, bytes: &[u8]) {
    for (i, &b) in bytes.iter().enumerate() {
        // SAFETY: callers pass root RAM (SCRATCH.., or the last page of
        // the root's RAM region) that nothing else uses.
        unsafe { ((addr + i) as *mut u8).write_volatile(b) };
    }
}

fn zero(addr: usize, len: usize) {
    for i in 0..len {
        // SAFETY: as in `poke`.
        unsafe { ((addr + i) as *mut u8).write_volatile(0) };
    }
}

/// Copies `cfg` to `at`, then applies byte patches (offset, little-endian value bytes).
/// Bytes past the root's RAM are left out: that is unmapped space.
fn place(cfg: &[u8], at: usize, patches: &[(usize, &[u8])]) -> u64 {
    let fits = ROOT_RAM_END.saturating_sub(at).min(cfg.len());
    poke(at, &cfg[..fits]);
    for (off, v) in patches {
        if at + off + v.len() <= ROOT_RAM_END {
            poke(at + off, v);
        }
    }
    at as u64
}

/// Expected outcome of one call.
#[derive(Clone, Copy)]
enum Want {
    Errno(i64),
    /// A new cell id (then destroyed again).
    Created,
}

fn judge(name: &'static str, expected: &'static str, got: i64, want: Want, pool_v: i64) {
    let mut ok = match want {
        Want::Errno(e) => got == -e,
        Want::Created => got > 0,
    };
    // A cell created against expectation is removed too, so that one
    // wrong answer does not cascade into every later check.
    let mut cleanup = 0;
    if got > 0 {
        cleanup = hvc::cell_destroy(got as u64);
        ok &= cleanup == 0;
    }
    let (cells, pool) = (num_cells(), pool_used());
    let unchanged = cells == 2 && pool == pool_v;
    check!(
        name,
        ok && unchanged,
        "returned {got} (destroy {cleanup}); cells {cells}, pool {pool} (want 2, {pool_v})"
    );
    let obs = if unchanged {
        text(format_args!("returned {got}, nothing changed"))
    } else {
        text(format_args!("returned {got}, cells {cells} pool {pool}"))
    };
    row(name, expected, &obs);
}

pub fn run(env: &Env, victim: i64, pool_v: i64) {
    addresses(env, pool_v);
    huge_counts(env, pool_v);
    contents(env, pool_v);
    ids_and_states(env, victim, pool_v);
    let mut detail = crate::table::Text::new();
    let ok = crate::attacks::all_unharmed(env, pool_v, &mut detail);
    check!(
        "bad calls: root, victim, hypervisor unharmed",
        ok,
        "{}",
        detail.as_str()
    );
}

fn addresses(env: &Env, pool_v: i64) {
    let c = env.hostile_cfg;
    let einval = Want::Errno(EINVAL);
    judge(
        "create: config at 4 GiB (not root's)",
        "-EINVAL",
        hvc::cell_create(1 << 32),
        einval,
        pool_v,
    );
    judge(
        "create: config on the UART page",
        "-EINVAL",
        hvc::cell_create(0x0900_0000),
        einval,
        pool_v,
    );
    judge(
        "create: config in hypervisor memory",
        "-EINVAL",
        hvc::cell_create(0x7fc0_0000),
        einval,
        pool_v,
    );
    judge(
        "create: config address wraps",
        "-EINVAL",
        hvc::cell_create(u64::MAX - 7),
        einval,
        pool_v,
    );
    let at = place(c, ROOT_RAM_END - 100, &[]);
    judge(
        "create: header crosses end of root RAM",
        "-EINVAL",
        hvc::cell_create(at),
        einval,
        pool_v,
    );
    let at = place(c, ROOT_RAM_END - 200, &[]);
    judge(
        "create: arrays cross end of root RAM",
        "-EINVAL",
        hvc::cell_create(at),
        einval,
        pool_v,
    );
    let at = place(c, SCRATCH + 1, &[]);
    judge(
        "create: unaligned config (+1)",
        "accepted",
        hvc::cell_create(at),
        Want::Created,
        pool_v,
    );
    let at = place(c, SCRATCH + 4096 - 60, &[]);
    judge(
        "create: config across a page boundary",
        "accepted",
        hvc::cell_create(at),
        Want::Created,
        pool_v,
    );
}

fn huge_counts(env: &Env, pool_v: i64) {
    let c = env.hostile_cfg;
    let e2big = Want::Errno(E2BIG);
    let max = u32::MAX.to_le_bytes();
    let at = place(c, SCRATCH, &[(OFF_NUM_MEM, &max)]);
    judge(
        "create: 2^32-1 memory regions",
        "-E2BIG",
        hvc::cell_create(at),
        e2big,
        pool_v,
    );
    let at = place(
        c,
        SCRATCH,
        &[(OFF_CPU_SET_SIZE, &0xffff_fff8u32.to_le_bytes())],
    );
    judge(
        "create: cpu_set_size 2^32-8",
        "-E2BIG",
        hvc::cell_create(at),
        e2big,
        pool_v,
    );
    let at = place(
        c,
        SCRATCH,
        &[(OFF_NUM_IRQCHIPS, &0x8000_0000u32.to_le_bytes())],
    );
    judge(
        "create: 2^31 irqchips",
        "-E2BIG",
        hvc::cell_create(at),
        e2big,
        pool_v,
    );
    // 2040 regions: 132 + 8 + 2040 * 32 = 65420 bytes, just inside 16 pages.
    let regions = 2040u32.to_le_bytes();
    zero(SCRATCH, SCRATCH_SIZE);
    let at = place(c, SCRATCH, &[(OFF_NUM_MEM, &regions)]);
    // All-zero regions are placeholders (Jailhouse's ivshmem groups).
    judge(
        "create: 16 pages, 2037 empty regions",
        "accepted",
        hvc::cell_create(at),
        Want::Created,
        pool_v,
    );
    zero(SCRATCH, SCRATCH_SIZE);
    let at = place(c, SCRATCH + 4000, &[(OFF_NUM_MEM, &regions)]);
    judge(
        "create: same config spanning 17 pages",
        "-E2BIG",
        hvc::cell_create(at),
        e2big,
        pool_v,
    );
}

fn contents(env: &Env, pool_v: i64) {
    let c = env.hostile_cfg;
    let einval = Want::Errno(EINVAL);
    let ebusy = Want::Errno(EBUSY);
    let create = |patches: &[(usize, &[u8])]| hvc::cell_create(place(c, SCRATCH, patches));
    let r = hvc::cell_create(addr_of(env.victim_cfg));
    judge(
        "create: duplicate name (victim)",
        "-EEXIST",
        r,
        Want::Errno(EEXIST),
        pool_v,
    );
    let r = create(&[(OFF_CPU_SET, &[1 << 2])]);
    judge("create: victim's CPU 2", "-EBUSY", r, ebusy, pool_v);
    let r = create(&[(OFF_CPU_SET, &[1 << 0])]);
    judge("create: root's running CPU 0", "-EBUSY", r, ebusy, pool_v);
    let r = create(&[(OFF_CPU_SET, &[0, 0, 0, 0, 0, 0, 0, 0x80])]);
    judge("create: CPU 63 (absent)", "-EINVAL", r, einval, pool_v);
    let r = create(&[(OFF_CPU_SET, &[0])]);
    judge("create: no CPU", "-EINVAL", r, einval, pool_v);
    let r = create(&[(OFF_MEM0_PHYS, &0x7f10_0000u64.to_le_bytes())]);
    judge(
        "create: RAM overlapping the victim's",
        "-EBUSY",
        r,
        ebusy,
        pool_v,
    );
    let r = create(&[(OFF_MEM0_PHYS, &0x7fc0_0000u64.to_le_bytes())]);
    judge(
        "create: RAM in hypervisor memory",
        "-EINVAL",
        r,
        einval,
        pool_v,
    );
    let r = create(&[(OFF_SIGNATURE, b"JHSYS")]);
    judge("create: wrong signature", "-EINVAL", r, einval, pool_v);
    let r = create(&[(OFF_REVISION, &13u16.to_le_bytes())]);
    judge("create: revision 13", "-EINVAL", r, einval, pool_v);
    let r = create(&[(OFF_NAME, &[0])]);
    judge("create: empty name", "-EINVAL", r, einval, pool_v);
}

fn ids_and_states(env: &Env, victim: i64, pool_v: i64) {
    let enoent = Want::Errno(ENOENT);
    let einval = Want::Errno(EINVAL);
    judge(
        "start: unknown id 77",
        "-ENOENT",
        hvc::cell_start(77),
        enoent,
        pool_v,
    );
    judge(
        "set_loadable: unknown id 77",
        "-ENOENT",
        hvc::cell_set_loadable(77),
        enoent,
        pool_v,
    );
    judge(
        "destroy: unknown id 77",
        "-ENOENT",
        hvc::cell_destroy(77),
        enoent,
        pool_v,
    );
    judge(
        "get_state: unknown id 77",
        "-ENOENT",
        hvc::cell_state(77),
        enoent,
        pool_v,
    );
    let wide = (1u64 << 32) | victim as u64;
    judge(
        "destroy: victim id + 2^32",
        "-ENOENT",
        hvc::cell_destroy(wide),
        enoent,
        pool_v,
    );
    judge(
        "start: root cell (id 0)",
        "-EINVAL",
        hvc::cell_start(0),
        einval,
        pool_v,
    );
    judge(
        "destroy: root cell (id 0)",
        "-EINVAL",
        hvc::cell_destroy(0),
        einval,
        pool_v,
    );
    judge(
        "set_loadable: root cell",
        "-EINVAL",
        hvc::cell_set_loadable(0),
        einval,
        pool_v,
    );
    judge(
        "hypercall code 9",
        "-ENOSYS",
        hvc(9, 0, 0),
        Want::Errno(ENOSYS),
        pool_v,
    );
    judge(
        "get_info type 2^63",
        "-EINVAL",
        hypervisor_info(1 << 63),
        einval,
        pool_v,
    );

    // Wrong order on one cell: start before any load, destroy twice, then
    // calls on the destroyed id.
    env.hostile_mb.clear();
    env.hostile_mb.write(ROLE, crate::attack_ids::IDLE);
    let id = hvc::cell_create(addr_of(env.hostile_cfg));
    if !check!("wrong state: create", id > 0, "returned {id}") {
        return;
    }
    let pool_h = pool_used();
    let start = hvc::cell_start(id as u64);
    check_eq_row(
        "wrong state: start before load",
        "0 (Jailhouse allows it)",
        start,
        0,
    );
    let d1 = hvc::cell_destroy(id as u64);
    check_eq_row("wrong state: destroy", "0", d1, 0);
    judge(
        "wrong state: destroy twice",
        "-ENOENT",
        hvc::cell_destroy(id as u64),
        enoent,
        pool_v,
    );
    judge(
        "wrong state: start destroyed",
        "-ENOENT",
        hvc::cell_start(id as u64),
        enoent,
        pool_v,
    );
    judge(
        "wrong state: load destroyed",
        "-ENOENT",
        hvc::cell_set_loadable(id as u64),
        enoent,
        pool_v,
    );
    check!(
        "wrong state: pool grew with the cell",
        pool_h > pool_v,
        "{pool_h} vs {pool_v}"
    );
}

fn check_eq_row(name: &'static str, expected: &'static str, got: i64, want: i64) {
    check!(name, got == want, "returned {got}, expected {want}");
    row(name, expected, &text(format_args!("returned {got}")));
}

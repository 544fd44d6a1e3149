//! Suite "regions": the region kinds a create must refuse (a second comm
//! region; ROOTSHARED or owned memory over the hypervisor, the GICD or a
//! GICR frame; ROOTSHARED memory outside the root) and the owned region
//! outside the root it must accept, as Jailhouse does. Each case is
//! uart-demo.cell (on CPU 2, no interrupts) with one extra region; every
//! refusal must be exactly -EINVAL and leave pool usage and cell count as
//! they were.
use crate::lifecycle::{addr_of, file, usage};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config::{self as cfg, MemRegion};
use syshyper_inmates::cell_config::{MEM_COMM_REGION, MEM_IO, MEM_READ, MEM_ROOTSHARED, MEM_WRITE};
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{check, check_eq};

pub const REGIONS_CELL: &str = "regions/uart-demo.cell";

const HYPERVISOR: u64 = 0x7fc0_0000;
const GICD: u64 = 0x0800_0000;
/// CPU 0's redistributor (RD and SGI frame, 128 KiB).
const GICR0: u64 = 0x080a_0000;
/// A gap between the root's RAM (ends 0x7fa10000) and its ivshmem regions
/// (from 0x7faf0000): neither root, hypervisor, GIC nor another cell.
const OUTSIDE_ROOT: u64 = 0x7fa8_0000;
/// Root RAM no test cell uses.
const ROOT_RAM: u64 = 0x7f10_0000;
/// A guest address no region of uart-demo uses.
const EXTRA_VIRT: u64 = 0x9000_0000;
const BUF: usize = 512;
/// Byte offsets of the array counts after the memory regions (cache,
/// irqchips, pio, pci devices, pci caps, stream ids; jailhouse-abi.md §4).
const OTHER_COUNTS: [usize; 6] = [56, 60, 64, 68, 72, 76];
const NUM_MEMORY_REGIONS_OFF: usize = 52;

pub fn wanted(b: &Bundle) -> bool {
    b.find(REGIONS_CELL).is_some()
}

/// uart-demo's descriptor and memory regions followed by `extra`, renamed,
/// on CPU 2 and with every other array emptied.
struct Built {
    buf: [u8; BUF],
}

impl Built {
    fn new(base: &[u8], name: &str, extra: MemRegion) -> Option<Self> {
        let n = cfg::num_memory_regions(base)?;
        let regions_end = cfg::DESC_SIZE + cfg::cpu_set_size(base)? + n * cfg::REGION_SIZE;
        let mut b = Built { buf: [0; BUF] };
        b.buf.get_mut(..regions_end)?.copy_from_slice(base.get(..regions_end)?);
        for off in OTHER_COUNTS {
            b.buf.get_mut(off..off + 4)?.fill(0);
        }
        let count = u32::try_from(n + 1).ok()?;
        b.buf
            .get_mut(NUM_MEMORY_REGIONS_OFF..NUM_MEMORY_REGIONS_OFF + 4)?
            .copy_from_slice(&count.to_le_bytes());
        let r = b.buf.get_mut(regions_end..regions_end + cfg::REGION_SIZE)?;
        for (i, v) in [extra.phys, extra.virt, extra.size, extra.flags].iter().enumerate() {
            r[i * 8..i * 8 + 8].copy_from_slice(&v.to_le_bytes());
        }
        let ok = cfg::set_name(&mut b.buf, name) && cfg::set_cpus(&mut b.buf, 1 << 2);
        (ok && cfg::total_size(&b.buf)? == regions_end + cfg::REGION_SIZE).then_some(b)
    }

    fn create(&self) -> i64 {
        hvc::cell_create(addr_of(&self.buf))
    }
}

const fn region(phys: u64, size: u64, flags: u64) -> MemRegion {
    MemRegion { phys, virt: EXTRA_VIRT, size, flags }
}

/// QEMU virt's GICv2 virtual interface control (GICH) and virtual CPU
/// interface (GICV): what a GICv2 has in place of redistributors.
const GICH: u64 = 0x0803_0000;
const GICV: u64 = 0x0804_0000;

/// A case's region on a GICv2: a region over a redistributor frame
/// becomes one over GICH (the rootshared case) or GICV (the owned case),
/// frames the hypervisor keeps for itself alike (the GICD cases stay:
/// GICD is at the same address).
fn on_gicv2(r: MemRegion) -> MemRegion {
    match r.phys {
        GICR0 => MemRegion { phys: GICH, size: 0x1000, ..r },
        p if p == GICR0 + 0x2_0000 => MemRegion { phys: GICV, size: 0x2000, ..r },
        _ => r,
    }
}

const RW: u64 = MEM_READ | MEM_WRITE;
const SHARED_IO: u64 = RW | MEM_IO | MEM_ROOTSHARED;

/// (check name, cell name, extra region) of every create that is -EINVAL.
const REFUSED: [(&str, &str, MemRegion); 10] = [
    (
        "regions: second comm region is EINVAL",
        "two-comm",
        MemRegion { phys: 0, virt: 0x8000_1000, size: 0x1000, flags: RW | MEM_COMM_REGION },
    ),
    (
        "regions: rootshared over hypervisor memory is EINVAL",
        "sh-hv",
        region(HYPERVISOR, 0x1000, MEM_READ | MEM_ROOTSHARED),
    ),
    (
        "regions: rootshared over hypervisor end is EINVAL",
        "sh-hv-end",
        region(HYPERVISOR + 0x3f_f000, 0x1000, MEM_READ | MEM_ROOTSHARED),
    ),
    (
        "regions: rootshared over the GICD is EINVAL",
        "sh-gicd",
        region(GICD, 0x1_0000, SHARED_IO),
    ),
    (
        "regions: rootshared over a GICR frame is EINVAL",
        "sh-gicr",
        region(GICR0, 0x2_0000, SHARED_IO),
    ),
    (
        "regions: rootshared outside the root is EINVAL",
        "sh-outside",
        region(OUTSIDE_ROOT, 0x1000, RW | MEM_ROOTSHARED),
    ),
    (
        "regions: owned over hypervisor memory is EINVAL",
        "own-hv",
        region(HYPERVISOR + 0x10_0000, 0x1000, RW),
    ),
    (
        "regions: owned over the GICD is EINVAL",
        "own-gicd",
        region(GICD, 0x1_0000, RW | MEM_IO),
    ),
    (
        "regions: owned over a GICR frame is EINVAL",
        "own-gicr",
        region(GICR0 + 0x2_0000, 0x2_0000, RW | MEM_IO),
    ),
    (
        "regions: owned region wrapping around is EINVAL",
        "own-wrap",
        region(0xffff_ffff_ffff_f000, 0x2000, RW),
    ),
];

pub fn run(bundle: &Bundle) {
    let Some(base) = file(bundle, "regions: files", REGIONS_CELL) else {
        return;
    };
    let control = Built::new(base, "control", region(ROOT_RAM, 0x1000, MEM_READ | MEM_ROOTSHARED));
    let Some(control) = control else {
        check!("regions: build control config", false);
        return;
    };
    // Warm-up: the first cell in a 2 MiB block of root RAM leaves a split
    // root table behind, which is not a refusal's leak.
    let warm = control.create();
    if !check!("regions: control (rootshared root RAM) accepted", warm > 0, "returned {warm}") {
        return;
    }
    check_eq!("regions: control destroyed", hvc::cell_destroy(warm as u64), 0);
    let before = usage();
    // SAFETY: QEMU virt's distributor, trapped for the root; a read.
    let v2 = unsafe { syshyper_inmates::gic::is_v2_at(GICD as usize) };
    for (name, cell, extra) in REFUSED {
        let extra = if v2 { on_gicv2(extra) } else { extra };
        let Some(b) = Built::new(base, cell, extra) else {
            check!("regions: build config", false, "{cell}");
            continue;
        };
        let ret = b.create();
        check_eq!(name, ret, -EINVAL);
        if ret > 0 {
            hvc::cell_destroy(ret as u64);
        }
        check_eq!("regions: refusal leaves pool and cell count unchanged", usage(), before);
    }
    owned_outside_root(base, before);
}

/// Jailhouse maps an owned region the root does not have; so do we, as long
/// as it is not hypervisor, GIC or another cell's memory.
fn owned_outside_root(base: &[u8], before: (i64, i64)) {
    let Some(b) = Built::new(base, "own-outside", region(OUTSIDE_ROOT, 0x1000, RW)) else {
        check!("regions: build config", false, "own-outside");
        return;
    };
    let id = b.create();
    check!("regions: owned region outside the root accepted", id > 0, "returned {id}");
    if id > 0 {
        check_eq!("regions: own-outside destroyed", hvc::cell_destroy(id as u64), 0);
    }
    check_eq!("regions: accepted cell gives everything back", usage(), before);
}

//! Part of suite "regions": malformed ivshmem `pci_device` configurations
//! (docs/ivshmem.md) are refused with exactly -EINVAL (-EBUSY for memory
//! another link holds), leaving pool usage
//! and cell count as they were. The base is test-vpci-peer.cell, a valid
//! peer 1 of the root's link 0001:00:01.0, which must be accepted; each
//! case changes a few bytes of it.
use crate::lifecycle::{addr_of, file, usage};
use syshyper_inmates::bundle::Bundle;
use syshyper_inmates::cell_config::{self as cfg, MEM_COMM_REGION, MEM_IO, MEM_WRITE};
use syshyper_inmates::hvc;
use syshyper_inmates::hypercall::*;
use syshyper_inmates::{check, check_eq};

pub const PEER_CELL: &str = "regions/test-vpci-peer.cell";
// test-vpci-peer.cell is 452 bytes, 508 with the duplicated device. Kept
// small: the suite holds copies on the 8 KiB boot stack, and at 1 KiB
// they overflowed it into the .bss below (psci_suite's RUNS, once the
// layout put it there).
const BUF: usize = 512;
/// jailhouse-abi.md §4: num_pci_devices in the descriptor; a PCI device
/// is 56 bytes: bdf @4, shmem_regions_start @48, shmem_dev_id @52,
/// shmem_peers @53. A memory region: size @16, flags @24.
const NUM_PCI_DEVICES_OFF: usize = 68;
const PCI_DEVICE_SIZE: usize = 56;
const DEV_REGIONS_START: usize = 48;
const DEV_ID: usize = 52;
const DEV_PEERS: usize = 53;
const REGION_SIZE_OFF: usize = 16;
const REGION_FLAGS_OFF: usize = 24;
/// An irqchip entry: address u64, id u32, pin_base u32, bitmap @16.
const IRQCHIP_BITMAP_OFF: usize = 16;
/// Regions of the base: the loadable RAM, the link's state table, the
/// outputs of peers 0 and 1.
const RAM: usize = 0;
const STATE: usize = 2;
const OUT0: usize = 4;
const OUT1: usize = 5;
/// A memory region's phys_start.
const REGION_PHYS_OFF: usize = 0;
/// The state table of the root's link 0001:00:00.0 (configs/qemu-virt.toml).
const ROOT_DEMO_STATE_TABLE: u64 = 0x7faf_0000;

pub fn wanted(b: &Bundle) -> bool {
    b.find(PEER_CELL).is_some()
}

/// A copy of the base configuration to change.
struct Cfg {
    buf: [u8; BUF],
    len: usize,
}

impl Cfg {
    fn new(base: &[u8]) -> Option<Self> {
        let len = cfg::total_size(base)?;
        let mut c = Cfg { buf: [0; BUF], len };
        c.buf.get_mut(..len)?.copy_from_slice(base.get(..len)?);
        Some(c)
    }

    /// Offset of the (only) PCI device: the last array in the base.
    fn dev(&self) -> usize {
        self.len - PCI_DEVICE_SIZE
    }

    /// Offset of the first irqchip's pin bitmap (after the regions; the
    /// base has no cache regions).
    fn irq_bitmap(&self) -> usize {
        self.region(cfg::num_memory_regions(&self.buf).unwrap_or(0)) + IRQCHIP_BITMAP_OFF
    }

    fn region(&self, i: usize) -> usize {
        cfg::DESC_SIZE + cfg::cpu_set_size(&self.buf).unwrap_or(0) + i * cfg::REGION_SIZE
    }

    fn set(&mut self, off: usize, bytes: &[u8]) -> &mut Self {
        if let Some(d) = self.buf.get_mut(off..off + bytes.len()) {
            d.copy_from_slice(bytes);
        }
        self
    }

    fn flags(&mut self, region: usize, add: u64, remove: u64) -> &mut Self {
        let off = self.region(region) + REGION_FLAGS_OFF;
        let f = u64::from_le_bytes(self.buf[off..off + 8].try_into().unwrap_or([0; 8]));
        self.set(off, &((f | add) & !remove).to_le_bytes())
    }

    /// Appends a second copy of the PCI device (same bdf).
    fn duplicate_device(&mut self) -> &mut Self {
        let d = self.dev();
        let mut copy = [0u8; PCI_DEVICE_SIZE];
        copy.copy_from_slice(&self.buf[d..d + PCI_DEVICE_SIZE]);
        let end = self.len;
        self.len += PCI_DEVICE_SIZE;
        self.set(end, &copy).set(NUM_PCI_DEVICES_OFF, &2u32.to_le_bytes())
    }

    fn create(&self) -> i64 {
        hvc::cell_create(addr_of(&self.buf))
    }
}

/// Creates and destroys the unchanged configuration (accepted; warms up
/// its RAM block); its PCI device's offset. Its own frame: the copy does
/// not stay on the stack during the cases below.
#[inline(never)]
fn accept_and_warm_up(base: &[u8]) -> Option<usize> {
    let Some(good) = Cfg::new(base) else {
        check!("vpci-regions: base config fits", false);
        return None;
    };
    let id = good.create();
    if !check!("vpci-regions: valid link peer accepted", id > 0, "returned {id}") {
        return None;
    }
    check_eq!("vpci-regions: valid link peer destroyed", hvc::cell_destroy(id as u64), 0);
    Some(good.dev())
}

/// One malformation: the base copy and the PCI device's offset.
type Change = fn(&mut Cfg, usize);

pub fn run(bundle: &Bundle) {
    let Some(base) = file(bundle, "vpci-regions: files", PEER_CELL) else {
        return;
    };
    let Some(dev) = accept_and_warm_up(base) else { return };
    let before = usage();
    let cases: [(&str, Change, i64); 11] = [
        ("vpci-regions: shmem_regions_start on the comm region is EINVAL", |c, d| {
            c.set(d + DEV_REGIONS_START, &1u32.to_le_bytes());
        }, -EINVAL),
        ("vpci-regions: shmem_regions_start beyond the regions is EINVAL", |c, d| {
            c.set(d + DEV_REGIONS_START, &4u32.to_le_bytes());
        }, -EINVAL),
        ("vpci-regions: 17 peers is EINVAL", |c, d| {
            c.set(d + DEV_PEERS, &[17]);
        }, -EINVAL),
        ("vpci-regions: bdf clash is EINVAL", |c, _| {
            c.duplicate_device();
        }, -EINVAL),
        ("vpci-regions: peer 0's output writable by peer 1 is EINVAL", |c, _| {
            c.flags(OUT0, MEM_WRITE, 0);
        }, -EINVAL),
        ("vpci-regions: the root's peer ID again is EINVAL", |c, d| {
            c.set(d + DEV_ID, &[0]).flags(OUT0, MEM_WRITE, 0).flags(OUT1, 0, MEM_WRITE);
        }, -EINVAL),
        ("vpci-regions: the root's INTx 129 (157 on a GICv2) granted to the cell is EINVAL", |c, _| {
            // pin_base 128: bit 20 is the cell's own 148, bit 1 129 (the
            // root's INTx on a GICv3, a plain root SPI on a GICv2), bit 29
            // 157 (the root's INTx on a GICv2, qemu-virt-gicv2.toml): one
            // of the two is the root's INTx whatever the GIC.
            let off = c.irq_bitmap();
            c.set(off, &((1u32 << 20) | (1 << 1) | (1 << 29)).to_le_bytes());
        }, -EINVAL),
        ("vpci-regions: an output size other than the root's is EINVAL", |c, _| {
            let off = c.region(OUT1) + REGION_SIZE_OFF;
            c.set(off, &0x7e000u64.to_le_bytes());
        }, -EINVAL),
        // Sections flagged as something else than memory: a comm region
        // would skip every check of the physical address the hypervisor
        // writes the state table to.
        ("vpci-regions: a comm-region state table is EINVAL", |c, _| {
            c.flags(STATE, MEM_COMM_REGION, 0);
        }, -EINVAL),
        ("vpci-regions: an io output section is EINVAL", |c, _| {
            c.flags(OUT1, MEM_IO, 0);
        }, -EINVAL),
        // RAM of its own over the root's link 0001:00:00.0: the root's
        // state writes would land in the cell's memory.
        ("vpci-regions: owning the root's state table is EBUSY", |c, _| {
            let off = c.region(RAM) + REGION_PHYS_OFF;
            c.set(off, &ROOT_DEMO_STATE_TABLE.to_le_bytes());
        }, -EBUSY),
    ];
    for (name, change, errno) in cases {
        let Some(mut c) = Cfg::new(base) else { continue };
        change(&mut c, dev);
        let ret = c.create();
        check_eq!(name, ret, errno);
        if ret > 0 {
            hvc::cell_destroy(ret as u64);
        }
        check_eq!("vpci-regions: refusal leaves pool and cell count unchanged", usage(), before);
    }
}

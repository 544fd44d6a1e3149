use super::link::{Links, INT_ENABLE};
use super::regs::{self, REG_DOORBELL, REG_ID, REG_INT_CTRL, REG_MAX_PEERS, REG_STATE};
use super::{ecam, Effects};
use crate::pci::config_space::{CMD_INTX_DISABLE, CMD_MEMORY};
use std::collections::BTreeMap;
use syshyper_config::ivshmem::{Ivshmem, Section};

/// Records what the registry does to the machine.
#[derive(Default, Debug)]
struct Fake {
    table: BTreeMap<u64, u32>,
    raised: Vec<(u32, u32)>,
    virt: BTreeMap<u32, bool>,
}

impl Effects for Fake {
    fn write_state(&mut self, pa: u64, value: u32) {
        self.table.insert(pa, value);
    }
    fn raise(&mut self, cell: u32, intid: u32) {
        self.raised.push((cell, intid));
    }
    fn mark_virtual(&mut self, intid: u32, on: bool) {
        self.virt.insert(intid, on);
    }
}

const TABLE: u64 = 0x7fb0_0000;
const BAR: u32 = 0x08f0_0000;

/// Peer `id` of a three-peer link at 00:01.0 with INTx `intid`.
fn dev(id: u8, intid: u32) -> Ivshmem {
    let mut outputs = [Section::default(); 16];
    for (p, o) in outputs.iter_mut().take(3).enumerate() {
        let at = 0x7fb0_3000 + p as u64 * 0x1000;
        *o = Section { phys: at, virt: at, size: 0x1000, flags: if p == id as usize { 3 } else { 1 } };
    }
    Ivshmem {
        index: 0,
        domain: 1,
        bdf: 0x08,
        bar_mask: 0xffff_f000,
        id,
        peers: 3,
        protocol: 0,
        intid,
        state: Section { phys: TABLE, virt: TABLE, size: 0x1000, flags: 1 },
        rw: Section { phys: 0x7fb0_1000, virt: 0x7fb0_1000, size: 0x2000, flags: 3 },
        outputs,
    }
}

/// Root (cell 0, peer 0, INTID 129) and cell 1 (peer 1, INTID 140),
/// both with BAR0 programmed and enabled and interrupts on.
fn two_peers(fx: &mut Fake) -> Links {
    let mut l = Links::new();
    l.join(0, &[dev(0, 129)], true, fx).unwrap();
    l.join(1, &[dev(1, 140)], false, fx).unwrap();
    l.start(1);
    for cell in [0, 1] {
        ecam(&mut l, cell, 0x8010, 4, Some(u64::from(BAR)));
        ecam(&mut l, cell, 0x8004, 2, Some(u64::from(CMD_MEMORY)));
        reg(&mut l, cell, REG_INT_CTRL, Some(1), fx);
    }
    l
}

fn reg(l: &mut Links, cell: u32, off: u64, write: Option<u64>, fx: &mut Fake) -> Option<u64> {
    let (i, o) = l.bar_at(cell, u64::from(BAR) + off, 4)?;
    regs::access(l, i, o, 4, write, fx)
}

#[test]
fn config_space_through_the_ecam() {
    let mut fx = Fake::default();
    let mut l = Links::new();
    fx.table.insert(TABLE + 8, 0xdead);
    l.join(1, &[dev(1, 140)], false, &mut fx).unwrap();
    assert_eq!(fx.virt.get(&140), Some(&true));
    // The first peer of a link clears the whole table.
    assert_eq!(fx.table, BTreeMap::from([(TABLE, 0), (TABLE + 4, 0), (TABLE + 8, 0)]));
    assert_eq!(ecam(&mut l, 1, 0x8000, 4, None), 0x4106_110a);
    assert_eq!(ecam(&mut l, 1, 0x8000 + 0x3d, 1, None), 2);
    // Absent functions (00:00.0, another cell's 00:01.0) read all ones.
    assert_eq!(ecam(&mut l, 1, 0, 4, None), 0xffff_ffff);
    assert_eq!(ecam(&mut l, 1, 0, 2, None), 0xffff);
    assert_eq!(ecam(&mut l, 2, 0x8000, 4, None), 0xffff_ffff);
    // A malformed access reads all ones and writes nothing.
    assert_eq!(ecam(&mut l, 1, 0x8001, 4, None), 0xffff_ffff);
    ecam(&mut l, 1, 0x8004, 8, Some(u64::MAX));
    assert_eq!(ecam(&mut l, 1, 0x8004, 4, None), 0x0010_0000);
    // Sizing and programming BAR0; registers only with memory decoding on.
    ecam(&mut l, 1, 0x8010, 4, Some(0xffff_ffff));
    assert_eq!(ecam(&mut l, 1, 0x8010, 4, None), 0xffff_f000);
    ecam(&mut l, 1, 0x8010, 4, Some(u64::from(BAR)));
    assert_eq!(l.bar_at(1, u64::from(BAR), 4), None, "memory decoding off");
    ecam(&mut l, 1, 0x8004, 2, Some(u64::from(CMD_MEMORY)));
    assert_eq!(l.bar_at(1, u64::from(BAR) + 0x10, 4), Some((0, 0x10)));
    assert_eq!(l.bar_at(0, u64::from(BAR), 4), None, "another cell's BAR");
    assert_eq!(l.bar_at(1, u64::from(BAR) + 0xffe, 4), None, "beyond the BAR");
}

#[test]
fn registers_read_and_refuse_odd_accesses() {
    let mut fx = Fake::default();
    let mut l = two_peers(&mut fx);
    assert_eq!(reg(&mut l, 1, REG_ID, None, &mut fx), Some(1));
    assert_eq!(reg(&mut l, 1, REG_MAX_PEERS, None, &mut fx), Some(3));
    assert_eq!(reg(&mut l, 1, REG_INT_CTRL, None, &mut fx), Some(1));
    assert_eq!(reg(&mut l, 1, REG_DOORBELL, None, &mut fx), Some(0), "write-only");
    assert_eq!(reg(&mut l, 1, 0x100, None, &mut fx), Some(0));
    reg(&mut l, 1, 0x100, Some(7), &mut fx);
    reg(&mut l, 1, REG_INT_CTRL, Some(0xfe), &mut fx);
    assert_eq!(reg(&mut l, 1, REG_INT_CTRL, None, &mut fx), Some(0), "only bit 0");
    let (i, _) = l.bar_at(1, u64::from(BAR), 4).unwrap();
    assert_eq!(regs::access(&mut l, i, 2, 4, None, &mut fx), None, "unaligned");
    assert_eq!(regs::access(&mut l, i, 0, 2, None, &mut fx), None, "16-bit");
    assert_eq!(regs::access(&mut l, i, 0, 8, None, &mut fx), None, "64-bit");
    assert!(fx.raised.is_empty());
}

#[test]
fn doorbells_reach_only_present_running_enabled_peers() {
    let mut fx = Fake::default();
    let mut l = two_peers(&mut fx);
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16), &mut fx);
    assert_eq!(fx.raised, [(1, 140)]);
    fx.raised.clear();
    // Vector 1, an absent peer 2, an ID beyond the link: nothing.
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16 | 1), &mut fx);
    reg(&mut l, 0, REG_DOORBELL, Some(2 << 16), &mut fx);
    reg(&mut l, 0, REG_DOORBELL, Some(0xffff << 16), &mut fx);
    assert!(fx.raised.is_empty());
    // INTx disabled in the command register.
    ecam(&mut l, 1, 0x8004, 2, Some(u64::from(CMD_MEMORY | CMD_INTX_DISABLE)));
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16), &mut fx);
    assert!(fx.raised.is_empty());
    ecam(&mut l, 1, 0x8004, 2, Some(u64::from(CMD_MEMORY)));
    // Interrupts disabled.
    reg(&mut l, 1, REG_INT_CTRL, Some(0), &mut fx);
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16), &mut fx);
    assert!(fx.raised.is_empty());
    // One-shot: the first doorbell clears the enable bit.
    ecam(&mut l, 1, 0x8043, 1, Some(1));
    reg(&mut l, 1, REG_INT_CTRL, Some(1), &mut fx);
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16), &mut fx);
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16), &mut fx);
    assert_eq!(fx.raised, [(1, 140)]);
    assert_eq!(reg(&mut l, 1, REG_INT_CTRL, None, &mut fx), Some(0));
    fx.raised.clear();
    // A stopped peer takes none.
    reg(&mut l, 1, REG_INT_CTRL, Some(INT_ENABLE.into()), &mut fx);
    l.stop(1, &mut fx);
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16), &mut fx);
    assert_eq!(fx.raised, [(0, 129)], "only the stop's notice to the root");
    // Its registers ignore writes until it starts again.
    fx.raised.clear();
    reg(&mut l, 1, REG_STATE, Some(9), &mut fx);
    reg(&mut l, 1, REG_DOORBELL, Some(0), &mut fx);
    assert_eq!(fx.table.get(&(TABLE + 4)), Some(&0));
    assert!(fx.raised.is_empty());
}

#[test]
fn state_writes_go_to_the_table_and_interrupt_on_change() {
    let mut fx = Fake::default();
    let mut l = two_peers(&mut fx);
    reg(&mut l, 1, REG_STATE, Some(2), &mut fx);
    assert_eq!(fx.table.get(&(TABLE + 4)), Some(&2));
    assert_eq!(reg(&mut l, 1, REG_STATE, None, &mut fx), Some(2));
    assert_eq!(fx.raised, [(0, 129)]);
    // The same value again: written, nobody interrupted.
    reg(&mut l, 1, REG_STATE, Some(2), &mut fx);
    assert_eq!(fx.raised.len(), 1);
    reg(&mut l, 0, REG_STATE, Some(1), &mut fx);
    assert_eq!(fx.table.get(&TABLE), Some(&1));
    assert_eq!(fx.raised, [(0, 129), (1, 140)]);
}

#[test]
fn join_leave_and_restart() {
    let mut fx = Fake::default();
    let mut l = two_peers(&mut fx);
    // A third cell with the root's ID, another peer count, other sections
    // or the root's INTID is refused, and nothing of it stays.
    assert!(l.join(2, &[dev(0, 150)], false, &mut fx).is_err());
    let mut d = dev(2, 150);
    d.peers = 4;
    assert!(l.join(2, &[d], false, &mut fx).is_err());
    let mut d = dev(2, 150);
    d.outputs[2].phys += 0x10_0000;
    assert!(l.join(2, &[d], false, &mut fx).is_err());
    assert!(l.join(2, &[dev(2, 129)], false, &mut fx).is_err());
    assert!(l.join(1, &[dev(2, 150)], false, &mut fx).is_err(), "twice on one link");
    assert_eq!(l.eps.len(), 2);
    // Cell 1 announces itself, then is destroyed: entry 0, root told.
    reg(&mut l, 1, REG_STATE, Some(5), &mut fx);
    fx.raised.clear();
    l.leave(1, &mut fx);
    assert_eq!(fx.table.get(&(TABLE + 4)), Some(&0));
    assert_eq!(fx.raised, [(0, 129)]);
    assert_eq!(l.eps.len(), 1);
    assert_eq!(fx.virt.get(&140), Some(&false));
    // A new cell takes ID 1; its registers start from reset and it
    // clears only its own entry.
    fx.table.insert(TABLE, 7);
    fx.table.insert(TABLE + 4, 7);
    l.join(3, &[dev(1, 140)], false, &mut fx).unwrap();
    assert_eq!((fx.table[&TABLE], fx.table[&(TABLE + 4)]), (7, 0));
    fx.raised.clear();
    reg(&mut l, 0, REG_DOORBELL, Some(1 << 16), &mut fx);
    assert!(fx.raised.is_empty(), "not started");
    l.start(3);
    assert_eq!(ecam(&mut l, 3, 0x8010, 4, None), 0);
    // A restart resets the device; a stop of a stopped cell says nothing.
    l.stop(3, &mut fx);
    l.stop(3, &mut fx);
    assert_eq!(fx.raised, [(0, 129)], "one notice: the second stop finds it stopped");
}

#[test]
fn random_register_accesses_only_reach_real_peers() {
    let mut fx = Fake::default();
    let mut l = two_peers(&mut fx);
    fx.table.clear();
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let cell = (x & 1) as u32;
        let off = (x >> 8) & 0xffc;
        let size = [1u8, 2, 4, 8][((x >> 4) & 3) as usize];
        let value = x >> 16;
        if let Some((i, o)) = l.bar_at(cell, u64::from(BAR) + off, u64::from(size)) {
            let _ = regs::access(&mut l, i, o, size, (x & 2 != 0).then_some(value), &mut fx);
        }
        // Only the two peers' INTIDs, each for its own cell; the table
        // only at the two entries.
        assert!(fx.raised.iter().all(|r| *r == (0, 129) || *r == (1, 140)), "{:?}", fx.raised);
        assert!(fx.table.keys().all(|&pa| pa == TABLE || pa == TABLE + 4));
        fx.raised.clear();
    }
}

#[test]
fn another_cells_intx_cannot_be_granted() {
    let mut fx = Fake::default();
    let l = two_peers(&mut fx);
    // Cell 2 asking for the root's INTx 129, or cell 1's 140: refused.
    assert!(l.check_grants(2, [33, 129].into_iter()).is_err());
    assert!(l.check_grants(2, [140].into_iter()).is_err());
    assert!(l.check_grants(2, [33, 150].into_iter()).is_ok());
    // A cell's own INTx is its own to be granted.
    assert!(l.check_grants(1, [140].into_iter()).is_ok());
}

#[test]
fn memory_another_cells_link_uses_is_found() {
    let mut fx = Fake::default();
    let l = two_peers(&mut fx);
    // The state table, the read/write section and the last output section
    // (0x7fb0_5000..0x7fb0_6000) are the root's (and cell 1's) link.
    assert_eq!(l.section_overlap(2, TABLE, TABLE + 1), Some((0, 0x08)));
    assert_eq!(l.section_overlap(2, 0x7fb0_2fff, 0x7fb0_3000), Some((0, 0x08)));
    assert_eq!(l.section_overlap(2, 0x7fb0_5fff, 0x7fb0_7000), Some((0, 0x08)));
    assert_eq!(l.section_overlap(2, 0x7faf_0000, TABLE), None);
    assert_eq!(l.section_overlap(2, 0x7fb0_6000, 0x7fb1_0000), None);
    // A cell's own link is not in its way (it is not on it yet at create,
    // and its other peers' endpoints are another cell's).
    assert_eq!(l.section_overlap(0, TABLE, TABLE + 1), Some((1, 0x08)));
}

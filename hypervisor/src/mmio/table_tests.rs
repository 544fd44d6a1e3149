use super::*;
use crate::cell::desc::tests::{cell_bytes, platform, root, GICD, RW};
use crate::mmio::window::Slots;
use crate::sysconfig::{mem_flags, CellView};
use std::cell::RefCell;

const IO: u64 = mem_flags::IO;
const IO_8: u64 = 1 << 16;
const IO_32: u64 = 4 << 16;
const FAKE_BASE: u64 = 0xffff_f000_0000;

thread_local! {
    /// The fake window: slots in use, and how many more maps succeed.
    static FAKE: RefCell<(Slots, Option<usize>)> = const { RefCell::new((Slots::new(), None)) };
}

struct Fake;

impl Window for Fake {
    fn map(_phys: u64, pages: u64) -> Result<u64> {
        FAKE.with(|f| {
            let mut f = f.borrow_mut();
            if let Some(n) = f.1.as_mut() {
                if *n == 0 {
                    return Err(Error::NoMemory);
                }
                *n -= 1;
            }
            let first = f.0.alloc(pages as usize).ok_or(Error::NoMemory)?;
            Ok(FAKE_BASE + first as u64 * PAGE_SIZE)
        })
    }

    fn unmap(va: u64, pages: u64) {
        FAKE.with(|f| f.borrow_mut().0.free(((va - FAKE_BASE) / PAGE_SIZE) as usize, pages as usize));
    }
}

fn in_use() -> u32 {
    FAKE.with(|f| f.borrow().0.in_use())
}

fn maps_allowed(n: Option<usize>) {
    FAKE.with(|f| f.borrow_mut().1 = n);
}

fn desc(regions: &[(u64, u64, u64, u64)]) -> CellDesc {
    let bytes = cell_bytes("c", 0b10, regions, GICD, &[]);
    CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &root()).unwrap()
}

/// The UART page split as a cell would use it: data register (r/w, 8 and
/// 32 bit) and flag register (read only, 32 bit), plus RAM.
fn uart_cell() -> CellDesc {
    desc(&[
        (0x7000_0000, 0, 0x1_0000, RW),
        (0x0900_0000, 0x0900_0000, 0x10, RW | IO | IO_8 | IO_32),
        (0x0900_0018, 0x0900_0018, 0x8, mem_flags::READ | IO | IO_32),
    ])
}

fn handler_at(t: &Table<Fake>, addr: u64, size: u64) -> Option<(Handler, u64)> {
    t.lookup(addr, size).map(|(e, off)| (e.handler, off))
}

#[test]
fn gic_and_sub_page_entries_sorted_by_base() {
    let t = Table::<Fake>::for_cell(&uart_cell(), &platform()).unwrap();
    let bases: Vec<u64> = t.entries().iter().map(|e| e.base).collect();
    assert_eq!(bases, [GICD, 0x080a_0000, 0x0900_0000, 0x0900_0018]);
    assert_eq!(t.entries()[0].handler, Handler::Irqchip(0));
    assert_eq!(t.entries()[1].handler, Handler::Irqchip(1));
    // Both regions of the one UART page have their own window page.
    assert_eq!(in_use(), 2);
    drop(t);
    assert_eq!(in_use(), 0, "drop unmaps every window page");
}

#[test]
fn lookup_inside_at_edges_and_outside() {
    let t = Table::<Fake>::for_cell(&uart_cell(), &platform()).unwrap();
    assert_eq!(handler_at(&t, GICD + 0x100, 4), Some((Handler::Irqchip(0), 0x100)));
    assert_eq!(handler_at(&t, GICD + 0xfffc, 4), Some((Handler::Irqchip(0), 0xfffc)));
    assert_eq!(handler_at(&t, 0x080a_0000 + 4 * 0x2_0000 - 8, 8).map(|h| h.1), Some(4 * 0x2_0000 - 8));
    let dr = handler_at(&t, 0x0900_0000, 4).unwrap();
    assert!(matches!(dr, (Handler::SubPage(sp), 0) if sp.phys == 0x0900_0000 && sp.size == 0x10));
    assert_eq!(handler_at(&t, 0x0900_000c, 4).map(|h| h.1), Some(0xc));
    let fr = handler_at(&t, 0x0900_001c, 4).unwrap();
    assert!(matches!(fr, (Handler::SubPage(sp), 4) if sp.phys == 0x0900_0018));
    // Between the two regions, past the last byte, reaching past the end.
    assert_eq!(handler_at(&t, 0x0900_0010, 4), None);
    assert_eq!(handler_at(&t, 0x0900_0020, 1), None);
    assert_eq!(handler_at(&t, 0x0900_001c, 8), None);
    assert_eq!(handler_at(&t, 0x0900_0000 - 4, 4), None);
    assert_eq!(handler_at(&t, GICD - 1, 2), None);
    assert_eq!(handler_at(&t, u64::MAX - 2, 4), None);
    assert_eq!(handler_at(&t, 0, 4), None);
}

#[test]
fn adjacent_entries_split_at_their_boundary() {
    let t = Table::<Fake>::for_cell(
        &desc(&[
            (0x0900_0000, 0x0900_0000, 0x8, RW | IO | IO_32 | IO_8),
            (0x0900_0008, 0x0900_0008, 0x8, mem_flags::READ | IO | IO_32 | IO_8),
        ]),
        &platform(),
    )
    .unwrap();
    let at = |a, s| handler_at(&t, a, s).map(|(h, off)| (matches!(h, Handler::SubPage(sp) if sp.phys == 0x0900_0000), off));
    assert_eq!(at(0x0900_0004, 4), Some((true, 4)));
    assert_eq!(at(0x0900_0008, 4), Some((false, 0)));
    assert_eq!(at(0x0900_0007, 1), Some((true, 7)));
    // One access straddling both is in neither.
    assert_eq!(at(0x0900_0004, 8), None);
    assert_eq!(at(0x0900_0006, 4), None);
}

#[test]
fn overlapping_entries_highest_base_holding_the_access_wins() {
    let t = Table::<Fake>::for_cell(
        &desc(&[
            (0x0900_0000, 0x0900_0000, 0x40, RW | IO | IO_32),
            (0x0900_0010, 0x0900_0010, 0x8, mem_flags::READ | IO | IO_32),
        ]),
        &platform(),
    )
    .unwrap();
    let outer = |a, s| handler_at(&t, a, s).map(|(h, off)| (matches!(h, Handler::SubPage(sp) if sp.size == 0x40), off));
    assert_eq!(outer(0x0900_0010, 4), Some((false, 0)));
    assert_eq!(outer(0x0900_0014, 4), Some((false, 4)));
    // Held by the outer region only: before, after and across the inner one.
    assert_eq!(outer(0x0900_000c, 4), Some((true, 0xc)));
    assert_eq!(outer(0x0900_0018, 4), Some((true, 0x18)));
    assert_eq!(outer(0x0900_0010, 8).map(|o| o.0), Some(false));
    assert_eq!(outer(0x0900_0014, 8), Some((true, 0x14)));
}

#[test]
fn guest_address_differs_from_physical() {
    let t = Table::<Fake>::for_cell(&desc(&[(0x0900_0040, 0x1_0000_0040, 0x40, RW | IO | IO_32)]), &platform()).unwrap();
    assert_eq!(handler_at(&t, 0x0900_0040, 4), None);
    let (h, off) = handler_at(&t, 0x1_0000_0044, 4).unwrap();
    let Handler::SubPage(sp) = h else { panic!("not a sub-page entry") };
    assert_eq!((off, sp.el2_addr(off) & 0xfff), (4, 0x44));
}

#[test]
fn heap_failure_leaves_nothing_mapped() {
    fn no_heap(_: &mut Vec<Entry>, _: usize) -> Result<()> {
        Err(Error::NoMemory)
    }
    let before = in_use();
    let r = Table::<Fake>::build(&uart_cell(), &platform(), no_heap);
    assert_eq!(r.err(), Some(Error::NoMemory));
    assert_eq!(in_use(), before);
}

#[test]
fn window_failure_at_every_step_gives_back_what_was_mapped() {
    let d = uart_cell();
    for allowed in 0..2 {
        maps_allowed(Some(allowed));
        let r = Table::<Fake>::for_cell(&d, &platform());
        assert_eq!(r.err(), Some(Error::NoMemory), "{allowed} maps allowed");
        assert_eq!(in_use(), 0, "{allowed} maps allowed");
    }
    maps_allowed(None);
    let t = Table::<Fake>::for_cell(&d, &platform()).unwrap();
    assert_eq!(t.entries().len(), 4);
}

#[test]
fn region_over_two_pages_takes_two_window_pages() {
    let t = Table::<Fake>::for_cell(&desc(&[(0x0900_0ff0, 0x0900_0ff0, 0x20, RW | IO | IO_32)]), &platform()).unwrap();
    let Some((Handler::SubPage(sp), _)) = handler_at(&t, 0x0900_1000, 4) else { panic!("no entry") };
    assert_eq!(sp.pages, 2);
    assert_eq!(in_use(), 2);
}

#[test]
fn root_sub_page_regions_over_the_gic_are_not_forwarded() {
    let bytes = cell_bytes(
        "root",
        0b1111,
        &[(0x0900_0000, 0x0900_0000, 0x10, RW | IO | IO_32), (GICD + 0x10, GICD + 0x10, 0x10, RW | IO | IO_32)],
        GICD,
        &[],
    );
    let d = CellDesc::for_root(&CellView::parse(&bytes).unwrap(), &platform()).unwrap();
    let t = Table::<Fake>::for_cell(&d, &platform()).unwrap();
    assert_eq!(t.entries().len(), 3);
    assert_eq!(handler_at(&t, GICD + 0x10, 4), Some((Handler::Irqchip(0), 0x10)));
    assert!(matches!(handler_at(&t, 0x0900_0000, 4), Some((Handler::SubPage(_), 0))));
}

#[test]
fn platform_without_its_gic_frames_is_an_allocation_failure() {
    let mut p = platform();
    p.reserved_io.clear();
    assert_eq!(Table::<Fake>::for_cell(&uart_cell(), &p).err(), Some(Error::NoMemory));
    assert_eq!(in_use(), 0);
}

#[test]
fn empty_table_has_no_entries() {
    let t = Table::<Fake>::empty();
    assert!(t.entries().is_empty());
    assert_eq!(handler_at(&t, GICD, 4), None);
}

#[test]
fn the_ecam_is_an_entry_of_cells_with_pci_functions() {
    use crate::cell::desc::tests::{describe_link, link_cell};
    let d = describe_link(&link_cell(""), &platform()).unwrap();
    let t = Table::<Fake>::for_cell(&d, &platform()).unwrap();
    assert_eq!(handler_at(&t, 0x08e0_8000, 4), Some((Handler::PciEcam, 0x8000)));
    assert_eq!(handler_at(&t, 0x08ef_fffc, 4), Some((Handler::PciEcam, 0xf_fffc)));
    assert_eq!(handler_at(&t, 0x08f0_0000, 4), None, "BAR0 is not an entry");
    // A full heap: no table, nothing left mapped.
    assert!(Table::<Fake>::build(&d, &platform(), |_, _| Err(crate::error::Error::NoMemory)).is_err());
    let plain = Table::<Fake>::for_cell(&uart_cell(), &platform()).unwrap();
    assert!(plain.entries().iter().all(|e| e.handler != Handler::PciEcam));
}

/// A console descriptor: address, size, type (PL011 = 3).
fn console(addr: u64, size: u32, kind: u16) -> [u8; 32] {
    let mut c = [0u8; 32];
    c[0..8].copy_from_slice(&addr.to_le_bytes());
    c[8..12].copy_from_slice(&size.to_le_bytes());
    c[12..14].copy_from_slice(&kind.to_le_bytes());
    c
}

#[test]
fn a_pl011_console_the_cell_does_not_map_is_virtual() {
    let mut d = desc(&[(0x7000_0000, 0, 0x1_0000, RW)]);
    d.console = console(0x0900_0000, 0x1000, 3);
    let t = Table::<Fake>::for_cell(&d, &platform()).unwrap();
    assert_eq!(handler_at(&t, 0x0900_0018, 2), Some((Handler::VirtUart, 0x18)));
    assert!(t.vuart.is_some());
    assert_eq!(in_use(), 0, "no window: nothing real behind it");
    // Jailhouse's size 0, another type, or the UART mapped: no device.
    for c in [console(0x0900_0000, 0, 3), console(0x0900_0000, 0x1000, 2)] {
        d.console = c;
        let t = Table::<Fake>::for_cell(&d, &platform()).unwrap();
        assert!(t.vuart.is_none() && handler_at(&t, 0x0900_0000, 4).is_none());
    }
    let mut mapped = uart_cell();
    mapped.console = console(0x0900_0000, 0x1000, 3);
    let t = Table::<Fake>::for_cell(&mapped, &platform()).unwrap();
    assert!(t.vuart.is_none());
    assert!(matches!(handler_at(&t, 0x0900_0000, 4), Some((Handler::SubPage(_), 0))));
    drop(t);
    // Never over the GIC.
    d.console = console(GICD, 0x1000, 3);
    assert!(Table::<Fake>::for_cell(&d, &platform()).unwrap().vuart.is_none());
}

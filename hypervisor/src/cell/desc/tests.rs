use super::*;

/// Builds a cell configuration: CPUs, (phys, virt, size, flags) regions,
/// one irqchip at `gicd` with `irqs` (pin base 32).
pub(crate) fn cell_bytes(name: &str, cpus: u8, regions: &[(u64, u64, u64, u64)], gicd: u64, irqs: &[u32]) -> Vec<u8> {
    let mut b = vec![0u8; 132];
    b[0..5].copy_from_slice(b"JHCLL");
    b[5] = 2;
    b[6..8].copy_from_slice(&14u16.to_le_bytes());
    b[8..8 + name.len()].copy_from_slice(name.as_bytes());
    b[48..52].copy_from_slice(&8u32.to_le_bytes());
    b[52..56].copy_from_slice(&(regions.len() as u32).to_le_bytes());
    let chips = u32::from(!irqs.is_empty());
    b[60..64].copy_from_slice(&chips.to_le_bytes());
    let mut set = [0u8; 8];
    set[0] = cpus;
    b.extend_from_slice(&set);
    for &(p, v, s, f) in regions {
        for x in [p, v, s, f] {
            b.extend_from_slice(&x.to_le_bytes());
        }
    }
    if chips == 1 {
        b.extend_from_slice(&gicd.to_le_bytes());
        b.extend_from_slice(&0u32.to_le_bytes());
        b.extend_from_slice(&32u32.to_le_bytes());
        let mut bitmap = [0u32; 4];
        for &i in irqs {
            bitmap[((i - 32) / 32) as usize] |= 1 << ((i - 32) % 32);
        }
        for w in bitmap {
            b.extend_from_slice(&w.to_le_bytes());
        }
    }
    b
}

pub(crate) const RW: u64 = mem_flags::READ | mem_flags::WRITE;
pub(crate) const GICD: u64 = 0x0800_0000;

pub(crate) fn platform() -> Platform {
    Platform {
        hv: Span { start: 0x7fc0_0000, end: 0x8000_0000 },
        reserved_io: vec![Span { start: GICD, end: GICD + 0x1_0000 }, Span { start: 0x080a_0000, end: 0x080a_0000 + 4 * 0x2_0000 }],
        gicd_base: GICD,
        max_cpus: 4,
        pci: Some(syshyper_config::ivshmem::VirtualHost { mmconfig_base: 0x08e0_0000, end_bus: 0 }),
        phys_ecam: Some(Span { start: 0x40_1000_0000, end: 0x40_2000_0000 }),
        its: None,
    }
}

/// The root: RAM 0x4000_0000..0x7fc0_0000 and the UART page.
pub(crate) fn root() -> CellDesc {
    let bytes = cell_bytes(
        "root",
        0b1111,
        &[(0x4000_0000, 0x4000_0000, 0x3fc0_0000, RW | mem_flags::EXECUTE), (0x0900_0000, 0x0900_0000, 0x1000, RW | mem_flags::IO)],
        GICD,
        &[],
    );
    CellDesc::for_root(&CellView::parse(&bytes).unwrap(), &platform()).unwrap()
}

fn describe(regions: &[(u64, u64, u64, u64)], irqs: &[u32]) -> Result<CellDesc> {
    let bytes = cell_bytes("c", 0b10, regions, GICD, irqs);
    // The structural parser may already refuse some of these (wrap-around):
    // either way the configuration never becomes a description.
    let view = CellView::parse(&bytes).map_err(|_| Error::Invalid)?;
    CellDesc::for_cell(&view, &platform(), &root())
}

const COMM: u64 = mem_flags::COMM_REGION | RW;
const SHARED: u64 = mem_flags::ROOTSHARED | RW;

#[test]
fn regions_are_classified() {
    let d = describe(
        &[
            (0x7000_0000, 0, 0x10_0000, RW | mem_flags::LOADABLE),
            (0, 0x8000_0000, 0x1000, COMM),
            (0x0900_0000, 0x0900_0000, 0x1000, SHARED | mem_flags::IO),
            (0x0900_0040, 0x0a00_0040, 0x40, RW | mem_flags::IO | (4 << 16)),
        ],
        &[33, 140],
    )
    .unwrap();
    let kinds: Vec<Kind> = d.regions.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [Kind::Owned, Kind::Comm, Kind::Shared, Kind::SubPage]);
    assert_eq!(d.spis.iter().collect::<Vec<_>>(), [33, 140]);
    assert_eq!(d.name(), "c");
    assert!(d.owned().all(Region::loadable));
}

#[test]
fn a_second_comm_region_is_refused() {
    let two = [(0, 0x8000_0000, 0x1000, COMM), (0, 0x8000_1000, 0x1000, COMM)];
    assert_eq!(describe(&two, &[]).unwrap_err(), Error::Invalid);
}

#[test]
fn no_region_kind_may_reach_hypervisor_memory_or_the_gic() {
    for flags in [RW, SHARED, RW | mem_flags::IO, SHARED | mem_flags::IO] {
        for phys in [0x7fc0_0000, 0x7ff0_0000, GICD, 0x080a_0000, 0x080c_0000] {
            assert_eq!(describe(&[(phys, 0x1000_0000, 0x1000, flags)], &[]).unwrap_err(), Error::Invalid, "{phys:#x} {flags:#x}");
        }
        // Overlapping by one page from below.
        assert!(describe(&[(0x7fbf_f000, 0, 0x2000, flags)], &[]).is_err());
    }
    // Sub-page windows into the GIC too.
    assert!(describe(&[(GICD + 0x100, 0x1000, 0x40, RW | mem_flags::IO | (4 << 16))], &[]).is_err());
}

#[test]
fn rootshared_must_be_root_memory_owned_need_not() {
    assert!(describe(&[(0x9000_0000, 0, 0x1000, SHARED)], &[]).is_err(), "outside the root");
    assert!(describe(&[(0x7fb0_0000, 0, 0x20_0000, SHARED)], &[]).is_err(), "partly outside");
    assert!(describe(&[(0x9000_0000, 0, 0x1000, RW)], &[]).is_ok(), "owned memory the root never had");
    assert!(describe(&[(0x4000_0000, 0, 0x1000, SHARED)], &[]).is_ok());
}

#[test]
fn wrap_around_and_address_space_limits() {
    assert!(describe(&[(u64::MAX - 0xfff, 0, 0x2000, RW)], &[]).is_err());
    assert!(describe(&[(0x4000_0000, IPA_LIMIT - 0x1000, 0x2000, RW)], &[]).is_err());
    assert!(describe(&[(0x4000_0000, 0, 0, RW)], &[]).is_err());
    assert!(describe(&[(0x4000_0000, 0, 0x1000, RW | 1 << 40)], &[]).is_err(), "unknown flag");
}

#[test]
fn interrupts_are_the_distributors_spis() {
    // Another controller's entry grants nothing (skipped, as Jailhouse).
    let bytes = cell_bytes("c", 0b10, &[], 0x0900_0000, &[40]);
    let d = CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &root()).unwrap();
    assert_eq!(d.spis.iter().count(), 0, "foreign irqchip grants nothing");
    let d = describe(&[], &[159]).unwrap();
    assert_eq!(d.spis.iter().collect::<Vec<_>>(), [159]);
}

#[test]
fn irqchip_pin_base_must_be_a_whole_group_inside_1024() {
    let with_base = |base: u32| {
        let mut b = cell_bytes("c", 0b10, &[], GICD, &[40]);
        let at = b.len() - 16 - 4;
        b[at..at + 4].copy_from_slice(&base.to_le_bytes());
        // The structural parser may already refuse it: either way no
        // description comes out of it.
        CellView::parse(&b).map_err(|_| Error::Invalid).and_then(|v| CellDesc::for_cell(&v, &platform(), &root()))
    };
    assert!(with_base(16).is_err(), "not a multiple of 32");
    assert!(with_base(928).is_err(), "beyond 1024");
    assert_eq!(with_base(896).unwrap().spis.iter().collect::<Vec<_>>(), [904]);
    // Pin base 0: the SGI/PPI bits are ignored, SPIs granted.
    let d = with_base(0).unwrap();
    assert_eq!(d.spis.iter().count(), 0, "bit 8 of pin base 0 is PPI 8");
}

#[test]
fn cpus_must_exist() {
    let bytes = cell_bytes("c", 0b1_0000, &[], GICD, &[]);
    assert!(CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &root()).is_err());
}

#[test]
fn covers_walks_overlapping_and_adjacent_regions() {
    let mut r = root();
    r.regions.push(Region { phys: 0x7fc0_0000 - 0x1000, virt: 0, size: 0x1000, flags: RW, kind: Kind::Owned });
    assert!(r.covers(&Span { start: 0x4000_0000, end: 0x7fc0_0000 }));
    assert!(!r.covers(&Span { start: 0x3fff_f000, end: 0x4000_1000 }));
    assert!(r.covers(&Span { start: 0x0900_0000, end: 0x0900_0800 }));
}

#[test]
fn span_arithmetic() {
    let a = Span { start: 10, end: 20 };
    assert_eq!(a.intersect(&Span { start: 15, end: 30 }), Some(Span { start: 15, end: 20 }));
    assert_eq!(a.intersect(&Span { start: 20, end: 30 }), None);
    assert!(Span::sized(u64::MAX, 2).is_none());
}

#[test]
fn claims_conflict_only_where_one_side_holds_exclusively() {
    const IO: u64 = mem_flags::IO;
    const IO_32: u64 = 4 << 16;
    let ram = |phys| (phys, 0, 0x1_0000, RW);
    let a = describe(&[ram(0x7000_0000), (0x0900_0000, 0x0900_0000, 0x8, RW | IO | IO_32)], &[]).unwrap();
    // Same UART register, exclusively: conflict; another register: none.
    let b = describe(&[ram(0x7100_0000), (0x0900_0004, 0x0900_0004, 0x4, RW | IO | IO_32)], &[]).unwrap();
    assert_eq!(a.conflict_with(&b), Some(Span { start: 0x0900_0004, end: 0x0900_0008 }));
    let c = describe(&[ram(0x7100_0000), (0x0900_0018, 0x0900_0018, 0x8, RW | IO | IO_32)], &[]).unwrap();
    assert_eq!(a.conflict_with(&c), None);
    // Sharing the UART page with a cell that holds a register of it alone.
    let d = describe(&[ram(0x7100_0000), (0x0900_0000, 0x0900_0000, 0x1000, SHARED | IO)], &[]).unwrap();
    assert!(a.conflict_with(&d).is_some() && d.conflict_with(&a).is_some());
    // Two sharers of the page, and a ROOTSHARED sub-page region: no conflict.
    let e = describe(&[ram(0x7200_0000), (0x0900_0000, 0x0900_0000, 0x8, SHARED | IO | IO_32)], &[]).unwrap();
    assert_eq!(d.conflict_with(&e), None);
    // A sub-page or shared window onto another cell's RAM.
    let f = describe(&[ram(0x7300_0000), (0x7000_0100, 0x20_0000, 0x40, RW | IO | IO_32)], &[]).unwrap();
    assert!(f.conflict_with(&a).is_some());
    let g = describe(&[ram(0x7300_0000), (0x7000_0000, 0x20_0000, 0x1000, SHARED)], &[]).unwrap();
    assert!(g.conflict_with(&a).is_some());
}

/// A cell (CPU 1) with peer 1 of a two-peer link at 00:01.0, in the
/// TOML source format; `extra` is appended to the `[cell]` table.
pub(crate) fn link_cell(extra: &str) -> Vec<u8> {
    let text = format!(
        "[cell]\nname = \"l\"\ncpus = \"1\"\nvpci_irq_base = 96\n\
         [[cell.memory]]\nphys = \"0x7fb00000\"\nvirt = \"0x10000000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n\
         [[cell.memory]]\nphys = \"0\"\nsize = 0\n\
         [[cell.memory]]\nphys = \"0x7fb01000\"\nvirt = \"0x10001000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n\
         [[cell.memory]]\nphys = \"0x7fb02000\"\nvirt = \"0x10002000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"write\", \"rootshared\"]\n\
         [[cell.irqchip]]\naddress = \"0x08000000\"\npin_base = 128\nirqs = \"129\"\n\
         [[cell.pci_device]]\ntype = \"ivshmem\"\ndomain = 1\nbdf = \"00:01.0\"\nbar_mask = [\"0xfffff000\", \"0\", \"0\", \"0\", \"0\", \"0\"]\n\
         shmem_regions_start = 0\nshmem_dev_id = 1\nshmem_peers = 2\n{extra}"
    );
    syshyper_config::source::compile(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub(crate) fn describe_link(bytes: &[u8], p: &Platform) -> Result<CellDesc> {
    CellDesc::for_cell(&CellView::parse(bytes).unwrap(), p, &root())
}

#[test]
fn ivshmem_functions_are_described_and_checked() {
    let d = describe_link(&link_cell(""), &platform()).unwrap();
    assert!(d.has_pci());
    assert_eq!(d.ivshmem.len(), 1);
    assert_eq!((d.ivshmem[0].id, d.ivshmem[0].intid, d.ivshmem[0].state.virt), (1, 129, 0x1000_0000));
    assert_eq!(d.ecam(&platform()), Some(Span { start: 0x08e0_0000, end: 0x08f0_0000 }));
    // No virtual PCI host in the system: refused.
    let mut no_host = platform();
    no_host.pci = None;
    assert_eq!(describe_link(&link_cell(""), &no_host).unwrap_err(), Error::Invalid);
    // Each rule of the config crate refuses the create (one sample; the
    // rules are tested there).
    let clash = link_cell("[[cell.pci_device]]\ntype = \"device\"\ndomain = 1\nbdf = \"00:01.0\"\n");
    assert_eq!(describe_link(&clash, &platform()).unwrap_err(), Error::Invalid, "bdf clash");
    // A section the cell would take from the root.
    let text = syshyper_config::source::show(&link_cell("")).unwrap();
    let taken = syshyper_config::source::compile(&text.replacen("flags = [\"read\", \"write\", \"rootshared\"]", "flags = [\"read\", \"write\"]", 1)).unwrap();
    assert_eq!(describe_link(&taken, &platform()).unwrap_err(), Error::Invalid, "own output not rootshared");
    // A region over the ECAM would shadow it.
    let over = link_cell("[[cell.memory]]\nphys = \"0x7fb10000\"\nvirt = \"0x08e00000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n");
    assert_eq!(describe_link(&over, &platform()).unwrap_err(), Error::Invalid);
    // A cell without functions does not see the ECAM: a region there is fine.
    let plain = describe(&[(0x7000_0000, 0x08e0_0000, 0x1000, RW)], &[]).unwrap();
    assert!(!plain.has_pci() && plain.ecam(&platform()).is_none());
}

#[test]
fn a_root_with_a_malformed_ivshmem_function_is_refused() {
    // A root with one function (peer 0 of 2, identity mapped); its own
    // output read-only makes enable fail with -EINVAL.
    let text = |own: &str| {
        format!(
            "[cell]\nname = \"r\"\ncpus = \"0-1\"\nvpci_irq_base = 96\n\
             [[cell.memory]]\nphys = \"0x7fb00000\"\nsize = \"4 KiB\"\nflags = [\"read\"]\n\
             [[cell.memory]]\nphys = \"0\"\nsize = 0\n\
             [[cell.memory]]\nphys = \"0x7fb01000\"\nsize = \"4 KiB\"\nflags = [{own}]\n\
             [[cell.memory]]\nphys = \"0x7fb02000\"\nsize = \"4 KiB\"\nflags = [\"read\"]\n\
             [[cell.irqchip]]\naddress = \"0x08000000\"\npin_base = 96\nirqs = \"128\"\n\
             [[cell.pci_device]]\ntype = \"ivshmem\"\ndomain = 1\nbdf = \"00:00.0\"\nbar_mask = [\"0xfffff000\", \"0\", \"0\", \"0\", \"0\", \"0\"]\n\
             shmem_regions_start = 0\nshmem_dev_id = 0\nshmem_peers = 2\n"
        )
    };
    let ok = syshyper_config::source::compile(&text("\"read\", \"write\"")).unwrap();
    let d = CellDesc::for_root(&CellView::parse(&ok).unwrap(), &platform()).unwrap();
    assert_eq!((d.ivshmem.len(), d.ivshmem[0].intid), (1, 128));
    let bad = syshyper_config::source::compile(&text("\"read\"")).unwrap();
    assert_eq!(CellDesc::for_root(&CellView::parse(&bad).unwrap(), &platform()).unwrap_err(), Error::Invalid);
    assert_eq!(Error::Invalid.errno(), -22);
    // The same link with its sections over hypervisor memory or the GICD:
    // a root region there is only cut out of the root's map, but the
    // hypervisor would write the state table there: refused.
    for base in ["0x7fc10000", "0x08000000"] {
        let moved = text("\"read\", \"write\"")
            .replace("0x7fb00000", base)
            .replace("0x7fb01000", &format!("{:#x}", u64::from_str_radix(&base[2..], 16).unwrap() + 0x1000))
            .replace("0x7fb02000", &format!("{:#x}", u64::from_str_radix(&base[2..], 16).unwrap() + 0x2000));
        let bytes = syshyper_config::source::compile(&moved).unwrap();
        assert_eq!(CellDesc::for_root(&CellView::parse(&bytes).unwrap(), &platform()).unwrap_err(), Error::Invalid, "{base}");
    }
}

/// A cell (CPU 1) with `devices` (TOML `[[cell.pci_device]]` tables and
/// `[[cell.pci_cap]]`s) and nothing else on the virtual host.
pub(crate) fn device_cell(devices: &str) -> Vec<u8> {
    let text = format!(
        "[cell]\nname = \"d\"\ncpus = \"1\"\n\
         [[cell.memory]]\nphys = \"0x10000000\"\nsize = \"1 MiB\"\nflags = [\"read\", \"write\", \"io\"]\n{devices}"
    );
    syshyper_config::source::compile(&text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

pub(crate) const EDU: &str = "[[cell.pci_device]]\ntype = \"device\"\nbdf = \"00:05.0\"\nbar_mask = [\"0xfff00000\", \"0\", \"0\", \"0\", \"0\", \"0\"]\n";

/// The root, with the real host bridge's ECAM as an io region.
pub(crate) fn root_with_ecam() -> CellDesc {
    let mut r = root();
    r.regions.push(Region { phys: 0x40_1000_0000, virt: 0x40_1000_0000, size: 0x1000_0000, flags: RW | mem_flags::IO, kind: Kind::Owned });
    r
}

#[test]
fn passed_through_devices_are_described() {
    let bytes = device_cell(EDU);
    let d = CellDesc::for_cell(&CellView::parse(&bytes).unwrap(), &platform(), &root_with_ecam()).unwrap();
    assert!(d.has_pci(), "the cell sees the virtual host");
    assert_eq!(d.passthru.len(), 1);
    assert_eq!((d.passthru[0].bdf, d.passthru[0].bar_mask[0]), (0x28, 0xfff0_0000));
    assert_eq!(d.cfg_pages().collect::<Vec<_>>(), [Span { start: 0x40_1002_8000, end: 0x40_1002_9000 }], "00:05.0's page of the real ECAM");
    assert_eq!(d.ecam(&platform()), Some(Span { start: 0x08e0_0000, end: 0x08f0_0000 }));
}

#[test]
fn passed_through_devices_are_checked() {
    let refused = |devices: &str, root: &CellDesc, p: &Platform| {
        CellDesc::for_cell(&CellView::parse(&device_cell(devices)).unwrap(), p, root).unwrap_err()
    };
    let (r, p) = (root_with_ecam(), platform());
    assert_eq!(refused(EDU, &root(), &p), Error::Invalid, "config page not root memory");
    let mut no_host = platform();
    no_host.pci = None;
    assert_eq!(refused(EDU, &r, &no_host), Error::Invalid, "no virtual PCI host");
    let mut no_bridge = platform();
    no_bridge.phys_ecam = None;
    assert_eq!(refused(EDU, &r, &no_bridge), Error::Invalid, "no physical host bridge");
    let bus1 = EDU.replace("00:05.0", "01:00.0");
    assert_eq!(refused(&bus1, &r, &p), Error::Invalid, "bus beyond the virtual host's");
    let cap = format!("{}caps_start = 0\nnum_caps = 1\n[[cell.pci_cap]]\nid = 5\nstart = \"0x42\"\nlen = 8\n", EDU);
    assert_eq!(refused(&cap, &r, &p), Error::Invalid, "unaligned capability");
}

/// A listed MSI capability is shown only with an ITS; without it the
/// rest of the list stays.
#[test]
fn msi_caps_need_the_its() {
    let caps = format!(
        "{}caps_start = 0\nnum_caps = 2\n[[cell.pci_cap]]\nid = 5\nstart = \"0x40\"\nlen = 16\nflags = [\"write\"]\n[[cell.pci_cap]]\nid = 1\nstart = \"0x50\"\nlen = 8\n",
        EDU
    );
    let describe = |cfg: &str, p: &Platform| CellDesc::for_cell(&CellView::parse(&device_cell(cfg)).unwrap(), p, &root_with_ecam()).unwrap();
    let no_its = describe(&caps, &platform());
    assert!(!no_its.has_msi());
    assert_eq!(no_its.passthru[0].caps().len(), 1, "the other capability stays");
    let mut p = platform();
    p.its = Some(Span { start: 0x0808_0000, end: 0x080a_0000 });
    let with_its = describe(&caps, &p);
    assert!(with_its.has_msi());
    assert_eq!(with_its.passthru[0].caps().len(), 2);
}

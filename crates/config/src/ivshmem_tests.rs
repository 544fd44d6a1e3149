use super::*;
use crate::source::compile;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

const HOST: Option<VirtualHost> = Some(VirtualHost { mmconfig_base: 0x08e0_0000, end_bus: 0 });
const GICD: u64 = 0x0800_0000;

/// A cell with one two-peer link at 00:01.0 as peer `id`; `edit` changes
/// the TOML text first.
fn cell_text(id: u8) -> String {
    let (w0, w1) = if id == 0 { ("\"write\", ", "") } else { ("", "\"write\", ") };
    alloc::format!(
        "[cell]\nname = \"c\"\ncpus = \"1\"\nvpci_irq_base = 96\n\
         [[cell.memory]]\nphys = \"0x7fb00000\"\nvirt = \"0x10000000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n\
         [[cell.memory]]\nphys = \"0x7fb01000\"\nvirt = \"0x10001000\"\nsize = \"8 KiB\"\nflags = [\"read\", \"write\", \"rootshared\"]\n\
         [[cell.memory]]\nphys = \"0x7fb03000\"\nvirt = \"0x10003000\"\nsize = \"4 KiB\"\nflags = [\"read\", {w0}\"rootshared\"]\n\
         [[cell.memory]]\nphys = \"0x7fb04000\"\nvirt = \"0x10004000\"\nsize = \"4 KiB\"\nflags = [\"read\", {w1}\"rootshared\"]\n\
         [[cell.irqchip]]\naddress = \"0x08000000\"\npin_base = 128\nirqs = \"129\"\n\
         [[cell.pci_device]]\ntype = \"ivshmem\"\ndomain = 1\nbdf = \"00:01.0\"\nbar_mask = [\"0xfffff000\", \"0\", \"0\", \"0\", \"0\", \"0\"]\n\
         shmem_regions_start = 0\nshmem_dev_id = {id}\nshmem_peers = 2\nshmem_protocol = \"0x4000\"\n"
    )
}

fn run(text: &str) -> Result<Vec<Ivshmem>, IvshmemError> {
    let bytes = compile(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let cell = CellConfig::parse(&bytes).unwrap();
    let mut out = Vec::new();
    describe(&cell, HOST, GICD, |d| out.push(d)).map(|()| out)
}

#[test]
fn a_good_link_is_described() {
    let d = run(&cell_text(1)).unwrap();
    assert_eq!(d.len(), 1);
    let d = d[0];
    assert_eq!((d.domain, d.bdf, d.id, d.peers, d.protocol, d.bar_mask), (1, 0x08, 1, 2, 0x4000, 0xffff_f000));
    // 00:01.0: slot 1 -> pin 2 -> INTID 32 + 96 + 1.
    assert_eq!((d.pin(), d.intid), (2, 129));
    assert_eq!((d.state.virt, d.rw.size, d.output_size()), (0x1000_0000, 0x2000, 0x1000));
    assert_eq!(d.output_sections().len(), 2);
    assert_eq!(d.outputs[1].phys, 0x7fb0_4000);
    check_link(&d, &run(&cell_text(0)).unwrap()[0]).unwrap();
}

#[test]
fn each_rule_is_refused_with_its_reason() {
    let t = cell_text(1);
    let cases: &[(String, &str)] = &[
        // Shifted by one: the read/write section as the state table.
        (t.replace("shmem_regions_start = 0", "shmem_regions_start = 1").replace("[[cell.irqchip]]", "[[cell.memory]]\nphys = \"0x7fb05000\"\nsize = \"4 KiB\"\nflags = [\"read\"]\n[[cell.irqchip]]"), "state table"),
        (t.replace("shmem_peers = 2", "shmem_peers = 17").replace("[[cell.irqchip]]", &("[[cell.memory]]\nphys = \"0\"\nsize = 0\n".repeat(15) + "[[cell.irqchip]]")), "not in 2..=16"),
        (t.replace("shmem_peers = 2", "shmem_peers = 1").replace("shmem_dev_id = 1", "shmem_dev_id = 0"), "not in 2..=16"),
        (t.replace("shmem_dev_id = 1", "shmem_dev_id = 2"), "shmem_dev_id 2 is not below shmem_peers 2"),
        // The state table writable.
        (t.replacen("flags = [\"read\", \"rootshared\"]", "flags = [\"read\", \"write\", \"rootshared\"]", 1), "state table"),
        // Own output read-only (peer 1's region loses write).
        (t.replace("flags = [\"read\", \"write\", \"rootshared\"]\n[[cell.irqchip]]", "flags = [\"read\", \"rootshared\"]\n[[cell.irqchip]]"), "must be writable"),
        // The other peer's output writable.
        (t.replacen("size = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n[[cell.memory]]\nphys = \"0x7fb04000\"", "size = \"4 KiB\"\nflags = [\"read\", \"write\", \"rootshared\"]\n[[cell.memory]]\nphys = \"0x7fb04000\"", 1), "must be read-only"),
        (t.replace("virt = \"0x10004000\"", "virt = \"0x10005000\""), "does not follow"),
        (t.replace("pin_base = 128\nirqs = \"129\"", "pin_base = 128\nirqs = \"128\""), "INTID 129"),
        (t.replace("\"0xfffff000\", \"0\"", "\"0xfffff800\", \"0\""), "bar_mask[0] 0xfffff800"),
        (t.clone() + "[[cell.pci_device]]\ntype = \"device\"\ndomain = 1\nbdf = \"00:01.0\"\n", "also pci_devices[0]"),
        // One ECAM: the same bdf in another domain clashes too.
        (t.clone() + "[[cell.pci_device]]\ntype = \"device\"\ndomain = 2\nbdf = \"00:01.0\"\n", "also pci_devices[0]"),
        // A section that is a comm region, a device or loadable: the state
        // table, the read/write section, an output section.
        (t.replacen("flags = [\"read\", \"rootshared\"]", "flags = [\"read\", \"rootshared\", \"comm_region\"]", 1), "plain memory"),
        (t.replacen("flags = [\"read\", \"write\", \"rootshared\"]", "flags = [\"read\", \"write\", \"rootshared\", \"io\"]", 1), "plain memory"),
        (t.replace("flags = [\"read\", \"write\", \"rootshared\"]\n[[cell.irqchip]]", "flags = [\"read\", \"write\", \"rootshared\", \"loadable\"]\n[[cell.irqchip]]"), "plain memory"),
    ];
    for (text, why) in cases {
        let e = run(text).expect_err(why).to_string();
        assert!(e.contains(why), "{e} / {why}");
    }
    // Without a virtual host nothing may be described.
    let bytes = compile(&t).unwrap();
    let cell = CellConfig::parse(&bytes).unwrap();
    assert_eq!(describe(&cell, None, GICD, |_| ()), Err(IvshmemError::NoVirtualHost { index: 0 }));
    // Bus 1 with one bus.
    let e = run(&t.replace("bdf = \"00:01.0\"", "bdf = \"01:01.0\"")).unwrap_err();
    assert!(matches!(e, IvshmemError::BusBeyondEcam { .. }), "{e}");
}

#[test]
fn link_peers_must_agree() {
    let a = run(&cell_text(0)).unwrap()[0];
    let b = run(&cell_text(1)).unwrap()[0];
    assert_eq!(check_link(&a, &a).unwrap_err(), IvshmemError::LinkMismatch { index: 0, bdf: 8, what: LinkField::Id });
    let mut c = b;
    c.peers = 3;
    assert!(matches!(check_link(&c, &a), Err(IvshmemError::LinkMismatch { what: LinkField::Peers, .. })));
    let mut c = b;
    c.outputs[1].phys += 0x1000;
    assert!(matches!(check_link(&c, &a), Err(IvshmemError::LinkMismatch { what: LinkField::Output(1), .. })));
    let mut c = b;
    c.state.size = 0x2000;
    assert!(matches!(check_link(&c, &a), Err(IvshmemError::LinkMismatch { what: LinkField::StateTable, .. })));
    let mut c = b;
    c.rw.phys = 0;
    assert!(matches!(check_link(&c, &a), Err(IvshmemError::LinkMismatch { what: LinkField::RwSection, .. })));
    // Virtual addresses may differ between cells.
    let mut c = b;
    c.state.virt = 0x2000_0000;
    check_link(&c, &a).unwrap();
}

#[test]
fn non_root_sections_must_be_rootshared() {
    let d = run(&cell_text(1)).unwrap()[0];
    check_rootshared(&d).unwrap();
    let mut e = d;
    e.outputs[1].flags &= !mem::ROOTSHARED;
    let err = check_rootshared(&e).unwrap_err();
    assert_eq!(err, IvshmemError::NotRootShared { index: 0, section: LinkField::Output(1) });
    assert!(err.to_string().contains("output section of peer 1 must be flagged rootshared"), "{err}");
    let mut e = d;
    e.state.flags = mem::READ;
    assert!(matches!(check_rootshared(&e), Err(IvshmemError::NotRootShared { section: LinkField::StateTable, .. })));
    // An absent read/write section needs no flag.
    let mut e = d;
    e.rw = Section::default();
    check_rootshared(&e).unwrap();
}

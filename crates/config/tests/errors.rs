//! Every class of bad input is refused with its own named error.

use syshyper_config::flags::mem;
use syshyper_config::layout::MemoryRegion;
use syshyper_config::owned::{CellBuf, SystemBuf};
use syshyper_config::{source, Array, CellConfig, ConfigError, Space, SystemConfig};

fn shipped(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(name);
    source::compile(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn cell() -> CellBuf {
    CellBuf::from_config(&CellConfig::parse(&shipped("gic-demo.toml")).unwrap())
}

fn system() -> SystemBuf {
    SystemBuf::from_config(&SystemConfig::parse(&shipped("qemu-virt.toml")).unwrap())
}

fn parse_cell(c: &CellBuf) -> Result<(), ConfigError> {
    CellConfig::parse_exact(&c.to_bytes().unwrap()).map(|_| ())
}

fn parse_system(s: &SystemBuf) -> Result<(), ConfigError> {
    SystemConfig::parse_exact(&s.to_bytes().unwrap()).map(|_| ())
}

#[test]
fn wrong_signature_architecture_revision() {
    let mut b = shipped("gic-demo.toml");
    b[0..5].copy_from_slice(b"JHSYS");
    assert_eq!(
        CellConfig::parse(&b).unwrap_err(),
        ConfigError::Signature {
            found: *b"JHSYS",
            expected: *b"JHCLL"
        }
    );
    let mut b = shipped("gic-demo.toml");
    b[5] = 0;
    assert_eq!(
        CellConfig::parse(&b).unwrap_err(),
        ConfigError::Architecture { found: 0 }
    );
    let msg = CellConfig::parse(&b).unwrap_err().to_string();
    assert!(
        msg.contains("architecture 0 found") && msg.contains("arm64"),
        "{msg}"
    );
    let mut b = shipped("gic-demo.toml");
    b[6] = 12;
    let e = CellConfig::parse(&b).unwrap_err();
    assert_eq!(e, ConfigError::Revision { found: 12 });
    assert!(
        e.to_string()
            .contains("revision 12 found, only revision 14"),
        "{e}"
    );

    let mut b = shipped("qemu-virt.toml");
    b[6] = 13;
    assert_eq!(
        SystemConfig::parse(&b).unwrap_err(),
        ConfigError::Revision { found: 13 }
    );
    let mut b = shipped("qemu-virt.toml");
    b[0] = b'X';
    assert!(matches!(
        SystemConfig::parse(&b).unwrap_err(),
        ConfigError::Signature { .. }
    ));
}

#[test]
fn counts_overrunning_the_buffer() {
    let b = shipped("gic-demo.toml");
    for cut in [0, 10, 131, 132, 139, b.len() - 1] {
        assert!(
            matches!(
                CellConfig::parse(&b[..cut]).unwrap_err(),
                ConfigError::Truncated { .. }
            ),
            "cut at {cut}"
        );
    }
    let mut b = shipped("gic-demo.toml");
    b[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        CellConfig::parse(&b).unwrap_err(),
        ConfigError::Truncated {
            array: Array::MemoryRegions,
            needed: u64::from(u32::MAX) * 32,
            available: b.len() - 140
        }
    );
    let s = shipped("qemu-virt.toml");
    assert!(matches!(
        SystemConfig::parse(&s[..487]).unwrap_err(),
        ConfigError::Truncated {
            array: Array::Header,
            ..
        }
    ));
    // Trailing bytes are fine for a buffer, not for a file.
    let mut b = shipped("gic-demo.toml");
    b.push(0);
    assert!(CellConfig::parse(&b).is_ok());
    assert!(matches!(
        CellConfig::parse_exact(&b).unwrap_err(),
        ConfigError::TrailingBytes { .. }
    ));
}

#[test]
fn size_limit() {
    let b = shipped("gic-demo.toml");
    assert_eq!(
        CellConfig::size_from_header(&b[..132]).unwrap(),
        b.len() as u64
    );
    assert_eq!(
        CellConfig::parse_with_limit(&b, 100).unwrap_err(),
        ConfigError::TooLarge {
            size: b.len() as u64,
            limit: 100
        }
    );
    assert!(CellConfig::parse_with_limit(&b, syshyper_config::MAX_CELL_CONFIG_SIZE).is_ok());
}

#[test]
fn cpu_set_size_and_empty_set() {
    let mut b = shipped("gic-demo.toml");
    b[48..52].copy_from_slice(&4u32.to_le_bytes());
    assert_eq!(
        CellConfig::parse(&b).unwrap_err(),
        ConfigError::CpuSetSize { size: 4 }
    );
    let mut c = cell();
    c.cpu_set = vec![0; 8];
    assert_eq!(parse_cell(&c).unwrap_err(), ConfigError::EmptyCpuSet);
}

#[test]
fn bad_regions() {
    let rw = mem::READ | mem::WRITE;
    let cases = [
        (
            MemoryRegion::new(0x7fa0_0000, 0, 0, rw),
            ConfigError::ZeroSizedRegion {
                array: Array::MemoryRegions,
                index: 0,
                phys: 0x7fa0_0000,
                virt: 0,
            },
        ),
        (
            MemoryRegion::new(u64::MAX - 0xfff, 0, 0x2000, rw),
            ConfigError::RegionOverflow {
                array: Array::MemoryRegions,
                index: 0,
                space: Space::Phys,
                start: u64::MAX - 0xfff,
                size: 0x2000,
            },
        ),
        (
            MemoryRegion::new(0, u64::MAX - 0xfff, 0x2000, rw),
            ConfigError::RegionOverflow {
                array: Array::MemoryRegions,
                index: 0,
                space: Space::Virt,
                start: u64::MAX - 0xfff,
                size: 0x2000,
            },
        ),
        (
            MemoryRegion::new(0x7fa0_0800, 0, 0x1_0000, rw),
            ConfigError::UnalignedRegion {
                array: Array::MemoryRegions,
                index: 0,
                phys: 0x7fa0_0800,
                virt: 0,
                size: 0x1_0000,
            },
        ),
        (
            MemoryRegion::new(0x7fa0_0000, 0, 0x1_0000, rw | 0x200),
            ConfigError::UnknownFlags {
                array: Array::MemoryRegions,
                index: 0,
                bits: 0x200,
            },
        ),
    ];
    for (region, want) in cases {
        let mut c = cell();
        c.memory_regions[0] = region;
        assert_eq!(parse_cell(&c).unwrap_err(), want);
        assert!(!want.to_string().is_empty());
    }
    // Overlapping regions inside one config are legal (Jailhouse board
    // configs have them); `config check` reports them, parsing does not.
    let mut c = cell();
    c.memory_regions[0] = MemoryRegion::new(0x7fa0_0000, 0x7fff_f000, 0x2000, rw);
    parse_cell(&c).unwrap();
    // Sub-page regions may have any phys alignment; all-zero placeholders are skipped.
    let mut c = cell();
    c.memory_regions.push(MemoryRegion::new(
        0x0900_0804,
        0x0a00_0804,
        0x10,
        rw | mem::IO,
    ));
    c.memory_regions.push(MemoryRegion::default());
    assert_eq!(parse_cell(&c), Ok(()));
}

#[test]
fn unknown_flags() {
    let mut c = cell();
    c.desc.flags = (c.desc.flags.get() | 0x100).into();
    assert_eq!(
        parse_cell(&c).unwrap_err(),
        ConfigError::UnknownFlags {
            array: Array::Header,
            index: 0,
            bits: 0x100
        }
    );
    let mut c = cell();
    // Console flags are the inmate's business (TI K3 sets MDR_QUIRK, bits
    // Jailhouse may add later): never a parse error.
    c.desc.console.flags = 0xc030.into();
    parse_cell(&c).unwrap();
    let mut s = system();
    s.desc.flags = 0x3.into();
    assert_eq!(
        parse_system(&s).unwrap_err(),
        ConfigError::UnknownFlags {
            array: Array::Header,
            index: 0,
            bits: 0x2
        }
    );
    let mut s = system();
    s.root.pci_devices[0].msi_flags = 0x4;
    assert_eq!(
        parse_system(&s).unwrap_err(),
        ConfigError::UnknownFlags {
            array: Array::PciDevices,
            index: 0,
            bits: 0x4
        }
    );
}

#[test]
fn name_without_nul_or_not_utf8() {
    let mut c = cell();
    c.desc.name = [b'a'; 32];
    assert_eq!(parse_cell(&c).unwrap_err(), ConfigError::NameNotTerminated);
    c.desc.name[0] = 0xff;
    c.desc.name[1] = 0;
    assert_eq!(parse_cell(&c).unwrap_err(), ConfigError::NameNotUtf8);
}

#[test]
fn irqchips() {
    let mut s = system();
    s.root.irqchips[0].address = 0x0801_0000.into();
    // Parsing accepts it; the hypervisor and `config check` ask for it.
    let bytes = s.to_bytes().unwrap();
    let sys = SystemConfig::parse_exact(&bytes).unwrap();
    assert!(matches!(
        sys.root_cell().check_irqchips_against(sys.gicd_base()),
        Err(ConfigError::IrqchipUnknownChip { index: 0, address: 0x0801_0000, gicd_base: 0x0800_0000 })
    ));
    let bytes = shipped("gic-demo.toml");
    let c = CellConfig::parse(&bytes).unwrap();
    assert!(c.check_irqchips_against(0x0800_0000).is_ok());
    assert!(matches!(
        c.check_irqchips_against(0x2f00_0000),
        Err(ConfigError::IrqchipUnknownChip { .. })
    ));

    let mut c = cell();
    c.irqchips[0].pin_base = 33.into();
    assert_eq!(
        parse_cell(&c).unwrap_err(),
        ConfigError::IrqchipPinBase {
            index: 0,
            pin_base: 33
        }
    );
    // Pin base 0 (SGI/PPI bits) and the special INTIDs 1020-1023 are
    // accepted, as by Jailhouse; a bitmap past INTID 1023 is not.
    let mut c = cell();
    c.irqchips[0].pin_base = 0.into();
    c.irqchips[0].pin_bitmap[0] = 1.into();
    assert!(parse_cell(&c).is_ok());
    let mut c = cell();
    c.irqchips[0].pin_base = 896.into();
    c.irqchips[0].pin_bitmap[3] = 0xf000_0000.into(); // INTIDs 1020-1023
    assert!(parse_cell(&c).is_ok());
    let mut c = cell();
    c.irqchips[0].pin_base = 928.into();
    assert_eq!(
        parse_cell(&c).unwrap_err(),
        ConfigError::IrqchipPinBase {
            index: 0,
            pin_base: 928
        }
    );
}

#[test]
fn system_rules() {
    let mut s = system();
    s.desc.gic_version = 4;
    assert_eq!(
        parse_system(&s).unwrap_err(),
        ConfigError::GicVersion { found: 4 }
    );
    let mut s = system();
    s.desc.hypervisor_memory.size = 0.into();
    assert!(matches!(
        parse_system(&s).unwrap_err(),
        ConfigError::ZeroSizedRegion {
            array: Array::HypervisorMemory,
            ..
        }
    ));
    let mut s = system();
    s.desc.hypervisor_memory.size = 0x1800.into();
    assert!(matches!(
        parse_system(&s).unwrap_err(),
        ConfigError::UnalignedRegion {
            array: Array::HypervisorMemory,
            ..
        }
    ));
    let mut s = system();
    s.root.memory_regions.push(MemoryRegion::new(
        0x7fdf_f000,
        0x7fdf_f000,
        0x1000,
        mem::READ,
    ));
    // Policy (reported by `config check`), not structure.
    parse_system(&s).unwrap();
    let mut s = system();
    s.root.desc.signature = *b"JHXXX";
    assert_eq!(parse_system(&s).unwrap_err(), ConfigError::RootCellHeader);
}

#[test]
fn pci_rules() {
    let mut s = system();
    s.root.pci_devices[0].pci_type = 9;
    assert_eq!(
        parse_system(&s).unwrap_err(),
        ConfigError::PciType { index: 0, found: 9 }
    );
    let mut s = system();
    s.root.pci_devices[1].num_caps = 1.into();
    assert_eq!(
        parse_system(&s).unwrap_err(),
        ConfigError::PciCapsRange {
            index: 1,
            start: 0,
            count: 1,
            available: 0
        }
    );
    let mut s = system();
    // qemu-virt.toml has 13 memory regions: 10 + 4 is one too many.
    s.root.pci_devices[1].shmem_regions_start = 10.into();
    assert_eq!(
        parse_system(&s).unwrap_err(),
        ConfigError::ShmemRange {
            index: 1,
            start: 10,
            needed: 4,
            available: 13
        }
    );
    let mut s = system();
    s.root.pci_devices[1].shmem_dev_id = 2;
    // Jailhouse only bounds the id by its maximum of peers.
    parse_system(&s).unwrap();
}

#[test]
fn toml_source_errors_are_one_line() {
    let bad = [
        ("[cell]\nname = \"x\"\ncpus = \"1-\"\n", "cpus"),
        ("[cell]\nname = \"x\"\ncpus = \"1\"\nflags = [\"bogus\"]\n", "unknown flag \"bogus\""),
        ("[cell]\nname = \"x\"\ncpus = \"1\"\n[[cell.memory]]\nphys = \"0x1000\"\nsize = \"3 parsecs\"\n", "unknown unit"),
        ("[cell]\nname = \"x\"\ncpus = \"1\"\n[[cell.irqchip]]\naddress = 0\npin_base = 32\nirqs = \"20\"\n", "INTID 20 is outside"),
        ("[cell]\nname = \"this name is far too long for a cell\"\ncpus = \"1\"\n", "at most 31 bytes"),
        ("[cell]\nname = \"x\"\ncpus = \"\"\n", "no CPU assigned"),
        ("[cell]\nname = \"x\"\ncpus = \"1\"\nsurprise = 1\n", "surprise"),
    ];
    for (text, want) in bad {
        let e = source::compile(text).unwrap_err().to_string();
        assert!(e.contains(want), "{e:?} should mention {want:?}");
        assert!(!e.contains('\n'), "{e:?} spans lines");
    }
}

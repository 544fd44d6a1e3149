//! Rules across the system configuration and its cells.

use syshyper_config::cross::{check, NamedCell};
use syshyper_config::flags::mem;
use syshyper_config::layout::MemoryRegion;
use syshyper_config::owned::CellBuf;
use syshyper_config::{source, CellConfig, SystemConfig};

fn shipped(name: &str) -> Vec<u8> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../configs")
        .join(name);
    source::compile(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Runs the checks on the shipped system and the given cell images.
fn run(cells: &[(&str, Vec<u8>)]) -> Vec<String> {
    let sys_bytes = shipped("qemu-virt.toml");
    let sys = SystemConfig::parse(&sys_bytes).unwrap();
    let named: Vec<NamedCell<'_>> = cells
        .iter()
        .map(|(file, b)| NamedCell {
            file,
            config: CellConfig::parse(b).unwrap(),
        })
        .collect();
    check("system.cell", &sys, &named).iter().map(|e| e.to_string()).collect()
}

fn edit(name: &str, f: impl FnOnce(&mut CellBuf)) -> Vec<u8> {
    let bytes = shipped(name);
    let mut c = CellBuf::from_config(&CellConfig::parse(&bytes).unwrap());
    f(&mut c);
    c.to_bytes().unwrap()
}

#[test]
fn shipped_cells_fit_together() {
    let errors = run(&[
        ("gic-demo.cell", shipped("gic-demo.toml")),
        ("linux-demo.cell", shipped("linux-demo.toml")),
    ]);
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn conflicting_cells_are_named() {
    let errors = run(&[
        ("gic-demo.cell", shipped("gic-demo.toml")),
        ("uart-demo.cell", shipped("uart-demo.toml")),
    ]);
    assert_eq!(
        errors,
        vec![
            "uart-demo.cell: cpu_set[1]: CPU 1 is also assigned to gic-demo.cell",
            "uart-demo.cell: memory_regions[0]: phys 0x7fa00000-0x7fa10000 overlaps gic-demo.cell: \
             memory_regions[0] 0x7fa00000-0x7fa10000 (only regions both flagged rootshared may be shared)",
            "uart-demo.cell: irqchips[0]: INTID 144 is also granted to gic-demo.cell: irqchips[0]",
        ]
    );
}

#[test]
fn cpus_must_belong_to_root() {
    let cell = edit("gic-demo.toml", |c| c.cpu_set[0] = 0b1_0000);
    assert_eq!(
        run(&[("a.cell", cell)]),
        vec!["a.cell: cpu_set[4]: CPU 4 is not in the root cell's cpu_set"]
    );
}

#[test]
fn memory_must_be_root_memory_and_not_hypervisor() {
    let outside = edit("gic-demo.toml", |c| {
        c.memory_regions[0] = MemoryRegion::new(0x8000_0000, 0, 0x1_0000, mem::READ)
    });
    assert_eq!(
        run(&[("a.cell", outside)]),
        vec!["a.cell: memory_regions[0]: phys 0x80000000-0x80010000 is not inside the root cell's memory"]
    );
    let hv = edit("gic-demo.toml", |c| {
        c.memory_regions[0] = MemoryRegion::new(0x7fc0_0000, 0, 0x1_0000, mem::READ)
    });
    let errors = run(&[("a.cell", hv)]);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("overlaps the hypervisor memory 0x7fc00000-0x80000000")),
        "{errors:?}"
    );
    // Spanning two adjacent root regions is fine (ivshmem state + read/write section).
    let span = edit("gic-demo.toml", |c| {
        c.memory_regions[0] = MemoryRegion::new(0x7faf_0000, 0, 0x2000, mem::READ)
    });
    assert_eq!(run(&[("a.cell", span)]), Vec::<String>::new());
}

#[test]
fn rootshared_regions_may_be_shared() {
    // Both cells map the UART with rootshared: allowed. Drop the flag on one: refused.
    let a = shipped("gic-demo.toml");
    let b = edit("linux-demo.toml", |c| {
        c.memory_regions[3].flags = (mem::READ | mem::WRITE | mem::IO).into()
    });
    let errors = run(&[("a.cell", a), ("b.cell", b)]);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].starts_with("b.cell: memory_regions[3]: phys 0x9000000-0x9001000 overlaps a.cell: memory_regions[2]"), "{errors:?}");
}

#[test]
fn duplicate_names_and_foreign_irqchips() {
    let a = shipped("gic-demo.toml");
    let b = edit("linux-demo.toml", |c| c.desc.name = edit_name("gic-demo"));
    let errors = run(&[("a.cell", a), ("b.cell", b)]);
    assert_eq!(
        errors,
        vec!["b.cell: header: name \"gic-demo\" is also used by a.cell"]
    );
    let c = edit("gic-demo.toml", |c| {
        c.irqchips[0].address = 0x0900_0000.into()
    });
    let errors = run(&[("c.cell", c)]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].starts_with("c.cell: irqchips[0]: grants interrupts on chip 0x9000000"),
        "{errors:?}"
    );
}

fn edit_name(name: &str) -> [u8; 32] {
    let mut raw = [0u8; 32];
    raw[..name.len()].copy_from_slice(name.as_bytes());
    raw
}

/// A `gicv3_its` unit: the shipped SMMU system has one and passes; on a
/// GICv2 system, with a wrong size, or under a root region it is refused.
#[test]
fn gicv3_its_rules() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs/qemu-virt-smmu.toml"),
    )
    .unwrap();
    let errors = |t: &str| -> Vec<String> {
        let bytes = source::compile(t).unwrap();
        let sys = SystemConfig::parse(&bytes).unwrap();
        check("system.cell", &sys, &[]).iter().map(|e| e.to_string()).collect()
    };
    assert_eq!(errors(&text), Vec::<String>::new());
    let its = "type = \"gicv3_its\"\nbase = \"0x08080000\"\nsize = \"128 KiB\"";
    assert!(text.contains(its));
    let v2 = errors(&text.replace("gic_version = 3", "gic_version = 2"));
    assert!(v2.iter().any(|e| e.contains("iommu[1]: gicv3_its at 0x8080000: needs gic_version 3")), "{v2:?}");
    let small = errors(&text.replace(its, "type = \"gicv3_its\"\nbase = \"0x08080000\"\nsize = \"64 KiB\""));
    assert!(small.iter().any(|e| e.contains("must be 64 KiB aligned and 128 KiB")), "{small:?}");
    let mapped = errors(&text.replacen(
        "[[cell.memory]]",
        "[[cell.memory]]\nphys = \"0x08090000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"write\", \"io\"]\n\n[[cell.memory]]",
        1,
    ));
    assert!(mapped.iter().any(|e| e.contains("overlaps the GICv3 ITS 0x8080000-0x80a0000")), "{mapped:?}");
}

/// Runs the checks on the GICv2 machine with its SMMU and GICv2m frame.
fn run_v2m(cell: Vec<u8>) -> Vec<String> {
    let sys_bytes = shipped("qemu-virt-gicv2-smmu.toml");
    let sys = SystemConfig::parse(&sys_bytes).unwrap();
    let named = [NamedCell { file: "v2m.cell", config: CellConfig::parse(&cell).unwrap() }];
    check("system.cell", &sys, &named).iter().map(|e| e.to_string()).collect()
}

/// Index of the frame's region in test-passthru-v2m.toml.
const FRAME_REGION: usize = 6;

#[test]
fn gicv2m_frame_rule() {
    assert_eq!(run_v2m(shipped("test-passthru-v2m.toml")), Vec::<String>::new(), "frame with all 64 SPIs");
    // INTID 143 left out (bit 111 of the bitmap from pin_base 32).
    let missing = edit("test-passthru-v2m.toml", |c| {
        let w = &mut c.irqchips[0].pin_bitmap[3];
        *w = (w.get() & !(1 << 15)).into();
    });
    assert_eq!(
        run_v2m(missing),
        ["v2m.cell: maps the GICv2m MSI frame at 0x8020000 without all of its SPIs (lacks INTIDs 143): \
          whoever maps the frame can raise every SPI of 80-143"]
    );
    let shared = edit("test-passthru-v2m.toml", |c| {
        let f = c.memory_regions[FRAME_REGION].flags.get();
        c.memory_regions[FRAME_REGION].flags = (f | mem::ROOTSHARED).into();
    });
    assert!(run_v2m(shared)[0].contains("maps the GICv2m MSI frame at 0x8020000 rootshared"));
    let without = edit("test-passthru-v2m.toml", |c| {
        c.memory_regions[FRAME_REGION].phys_start = 0x7f00_0000.into();
    });
    assert_eq!(
        run_v2m(without),
        ["v2m.cell: takes INTIDs 80-143 of the GICv2m MSI frame at 0x8020000 without the frame, which the root maps: \
          the root's CPUs and devices could raise them"]
    );
}

/// Every shipped GICv2 system names the GICv2m frame, and no shipped cell
/// takes SPIs of its range without it (each cell alone on each system):
/// the test cells' SPIs and ivshmem INTx lie outside 80-143.
#[test]
fn shipped_cells_keep_out_of_the_gicv2m_range() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut cells: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".toml"))
        .map(|n| {
            let b = shipped(&n);
            (n, b)
        })
        .filter(|(_, b)| CellConfig::parse(b).is_ok())
        .collect();
    cells.sort();
    assert!(cells.len() > 20, "{} cell configs", cells.len());
    // Without the frame, the v2m cell's 64 SPIs are refused: the control
    // that the system names the frame at all.
    let without = edit("test-passthru-v2m.toml", |c| {
        c.memory_regions[FRAME_REGION].phys_start = 0x7f00_0000.into();
    });
    for sys_name in ["qemu-virt-gicv2.toml", "qemu-virt-gicv2-8cpu.toml", "qemu-virt-gicv2-subpage.toml", "qemu-virt-gicv2-smmu.toml"] {
        let sys_bytes = shipped(sys_name);
        let sys = SystemConfig::parse(&sys_bytes).unwrap();
        let v2m = |file: &str, b: &[u8]| -> Vec<String> {
            let named = [NamedCell { file, config: CellConfig::parse(b).unwrap() }];
            check("system.cell", &sys, &named).iter().map(|e| e.to_string()).filter(|e| e.contains("GICv2m")).collect()
        };
        assert_eq!(v2m("without.cell", &without).len(), 1, "{sys_name} names no GICv2m frame");
        for (file, b) in &cells {
            assert_eq!(v2m(file, b), Vec::<String>::new(), "{file} on {sys_name}");
        }
    }
}

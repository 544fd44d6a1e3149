//! Byte-exact layout tests: configurations assembled by hand from the
//! documented offsets (jailhouse-abi.md §4) must equal what the writer
//! produces, and the parser must read the same values back.

use syshyper_config::flags::{cell, console, mem};
use syshyper_config::{source, CellConfig, SystemConfig};

fn put(buf: &mut Vec<u8>, off: usize, bytes: &[u8]) {
    if buf.len() < off + bytes.len() {
        buf.resize(off + bytes.len(), 0);
    }
    buf[off..off + bytes.len()].copy_from_slice(bytes);
}
fn p16(b: &mut Vec<u8>, off: usize, v: u16) {
    put(b, off, &v.to_le_bytes())
}
fn p32(b: &mut Vec<u8>, off: usize, v: u32) {
    put(b, off, &v.to_le_bytes())
}
fn p64(b: &mut Vec<u8>, off: usize, v: u64) {
    put(b, off, &v.to_le_bytes())
}
fn region(b: &mut Vec<u8>, off: usize, phys: u64, virt: u64, size: u64, flags: u64) {
    p64(b, off, phys);
    p64(b, off + 8, virt);
    p64(b, off + 16, size);
    p64(b, off + 24, flags);
}

fn configs_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs")
}

fn compile_shipped(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(configs_dir().join(name)).unwrap();
    source::compile(&text).unwrap()
}

/// gic-demo.cell as described in the brief, byte by byte.
fn gic_demo_by_hand() -> Vec<u8> {
    let mut b = vec![0u8; 132];
    put(&mut b, 0, b"JHCLL");
    b[5] = 2;
    p16(&mut b, 6, 14);
    put(&mut b, 8, b"gic-demo");
    p32(&mut b, 44, cell::VCONSOLE_PERMITTED);
    p32(&mut b, 48, 8); // cpu_set_size
    p32(&mut b, 52, 3); // memory regions
    p32(&mut b, 60, 1); // irqchips
    // console: Jailhouse's qemu-arm64 inmate console, PL011 (type 3),
    // MMIO (0x1) | REGDIST_4 (0x2)
    p64(&mut b, 100, 0x0900_0000);
    p16(&mut b, 112, 3);
    p16(&mut b, 114, 0x3);
    // cpu_set: CPU 1
    put(&mut b, 132, &[0b10, 0, 0, 0, 0, 0, 0, 0]);
    let m = 140;
    region(
        &mut b,
        m,
        0x7fa0_0000,
        0,
        0x1_0000,
        mem::READ | mem::WRITE | mem::EXECUTE | mem::LOADABLE,
    );
    region(
        &mut b,
        m + 32,
        0,
        0x8000_0000,
        0x1000,
        mem::READ | mem::WRITE | mem::COMM_REGION,
    );
    region(
        &mut b,
        m + 64,
        0x0900_0000,
        0x0900_0000,
        0x1000,
        mem::READ | mem::WRITE | mem::IO | mem::ROOTSHARED,
    );
    let irq = m + 96;
    p64(&mut b, irq, 0x0800_0000);
    p32(&mut b, irq + 12, 32); // pin_base
                               // INTID 144 = pin_base 32 + 112 = word 3, bit 16
    p32(&mut b, irq + 16 + 12, 1 << 16);
    assert_eq!(b.len(), 132 + 8 + 3 * 32 + 32);
    b
}

#[test]
fn gic_demo_matches_hand_layout() {
    let expected = gic_demo_by_hand();
    assert_eq!(compile_shipped("gic-demo.toml"), expected);

    let c = CellConfig::parse_exact(&expected).unwrap();
    assert_eq!(c.name(), "gic-demo");
    assert_eq!(c.flags(), cell::VCONSOLE_PERMITTED);
    assert_eq!(c.cpus().collect::<Vec<_>>(), vec![1]);
    assert_eq!(c.total_size(), expected.len());
    assert_eq!(c.memory_regions().len(), 3);
    assert_eq!(c.memory_regions()[1].virt_start.get(), 0x8000_0000);
    assert_eq!(
        c.memory_regions()[1].flags.get(),
        mem::READ | mem::WRITE | mem::COMM_REGION
    );
    assert_eq!(c.irqchips()[0].granted().collect::<Vec<_>>(), vec![144]);
    assert_eq!(c.cpu_reset_address(), 0);
    assert_eq!(c.console().address.get(), 0x0900_0000);
    assert_eq!((c.console().console_type.get(), c.console().flags.get()), (3, 0x3));
}

/// A system configuration the way Jailhouse's own tools build one: the
/// root cell's signature, architecture and revision are left zero.
fn system_by_hand(name: &[u8], cpus: u8) -> Vec<u8> {
    let mut b = vec![0u8; 488];
    put(&mut b, 0, b"JHSYS");
    b[5] = 2;
    p16(&mut b, 6, 14);
    p32(&mut b, 8, 1); // VIRTUAL_DEBUG_CONSOLE
    region(&mut b, 12, 0x7fc0_0000, 0, 0x40_0000, 0);
    p64(&mut b, 44, 0x0900_0000);
    p32(&mut b, 44 + 8, 0x1000);
    p16(&mut b, 44 + 12, console::TYPE_PL011);
    p16(&mut b, 44 + 14, console::MMIO | console::REGDIST_4);
    p64(&mut b, 76, 0x08e0_0000);
    b[85] = 1; // pci_is_virtual
    p16(&mut b, 86, 1); // pci_domain
    b[312] = 25;
    b[313] = 3;
    p64(&mut b, 316, 0x0800_0000);
    p64(&mut b, 348, 0x080a_0000);
    let rc = 356;
    put(&mut b, rc + 8, name);
    p32(&mut b, rc + 44, cell::VCONSOLE_PERMITTED);
    p32(&mut b, rc + 48, 8);
    p32(&mut b, rc + 52, 13);
    p32(&mut b, rc + 60, 1);
    p32(&mut b, rc + 68, 2);
    p32(&mut b, rc + 80, 96);
    p64(&mut b, rc + 84, 0x4020_0000);
    let set: u64 = (1u64 << cpus) - 1;
    put(&mut b, 488, &set.to_le_bytes());
    let r = 496;
    let rw = mem::READ | mem::WRITE;
    let regions: [(u64, u64, u64); 13] = [
        (0x7faf_0000, 0x1000, mem::READ),
        (0x7faf_1000, 0x9000, rw),
        (0x7faf_a000, 0x2000, rw),
        (0x7faf_c000, 0x2000, mem::READ),
        (0x7faf_e000, 0x2000, mem::READ),
        (0x7fb0_0000, 0x1000, mem::READ | mem::ROOTSHARED),
        (0, 0, 0),
        (0x7fb0_1000, 0x7_f000, rw | mem::ROOTSHARED),
        (0x7fb8_0000, 0x7_f000, mem::READ | mem::ROOTSHARED),
        (0x0900_0000, 0x3700_0000, rw | mem::IO),
        (0x4000_0000, 0x3fa1_0000, rw | mem::EXECUTE),
        (0x40_1000_0000, 0x1000_0000, rw | mem::IO),
        (0x80_0000_0000, 0x80_0000_0000, rw | mem::IO),
    ];
    for (i, (phys, size, flags)) in regions.iter().enumerate() {
        let virt = *phys;
        region(&mut b, r + 32 * i, *phys, virt, *size, *flags);
    }
    let irq = r + 13 * 32;
    p64(&mut b, irq, 0x0800_0000);
    p32(&mut b, irq + 12, 32);
    for w in 0..4 {
        p32(&mut b, irq + 16 + 4 * w, u32::MAX);
    }
    let pci = irq + 32;
    for (i, (bdf, start, peers, proto)) in
        [(0u16, 0u32, 3u8, 0u16), (8, 5, 2, 1)].iter().enumerate()
    {
        let d = pci + 56 * i;
        b.resize(d + 56, 0);
        b[d] = 3; // ivshmem
        p16(&mut b, d + 2, 1);
        p16(&mut b, d + 4, *bdf);
        p32(&mut b, d + 6, 0xffff_f000);
        p32(&mut b, d + 48, *start);
        b[d + 53] = *peers;
        p16(&mut b, d + 54, *proto);
    }
    b
}

#[test]
fn qemu_virt_matches_hand_layout() {
    let expected = system_by_hand(b"QEMU-VIRT", 4);
    assert_eq!(compile_shipped("qemu-virt.toml"), expected);
    let expected16 = system_by_hand(b"QEMU-VIRT", 16);
    assert_eq!(compile_shipped("qemu-virt-16cpu.toml"), expected16);

    let s = SystemConfig::parse_exact(&expected).unwrap();
    assert_eq!(s.total_size(), expected.len());
    assert_eq!(s.hypervisor_memory().phys_start.get(), 0x7fc0_0000);
    assert_eq!(s.hypervisor_memory().size.get(), 4 << 20);
    assert_eq!(s.gicd_base(), 0x0800_0000);
    assert_eq!(s.gicr_base(), 0x080a_0000);
    assert_eq!(s.maintenance_irq(), 25);
    assert_eq!(s.gic_version(), 3);
    assert_eq!(s.debug_console().console_type.get(), console::TYPE_PL011);
    let root = s.root_cell();
    assert_eq!(root.name(), "QEMU-VIRT");
    assert_eq!(root.cpus().collect::<Vec<_>>(), vec![0, 1, 2, 3]);
    assert_eq!(root.cpu_reset_address(), 0x4020_0000);
    assert_eq!(root.memory_regions()[10].size.get(), 0x3fa1_0000);
    assert_eq!(root.irqchips()[0].granted().count(), 128);
    assert_eq!(root.pci_devices()[1].shmem_regions_start.get(), 5);
}

#[test]
fn jailhouse_built_file_round_trips() {
    // Jailhouse's qemu-arm64 root cell: unsigned root header, its own name.
    let bytes = system_by_hand(b"qemu-arm64", 16);
    let text = source::show(&bytes).unwrap();
    assert!(!text.contains("root_cell_signed"), "{text}");
    assert_eq!(source::compile(&text).unwrap(), bytes);
}

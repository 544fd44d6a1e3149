//! A corpus of configurations written for this project from the revision-14
//! format's definition (Jailhouse's `cell-config.h` and `console.h`): every
//! field, every flag and type value, overlapping and sub-page regions, every
//! console type and flag, ivshmem devices up to the maximum of peers, cells
//! outside the root's memory and every IOMMU type.
//!
//! For each file: the structural parse accepts it, `show` prints it,
//! `show` then `compile` gives the same bytes, and `config check` reports
//! exactly the expected findings with the severity Jailhouse's
//! `jailhouse-config-check` (errors) or hypervisor (refusals) gives.
//!
//! Numbers in this file are written out literally, as Jailhouse's headers
//! define them, and never taken from the crate's own tables, so that a wrong
//! table fails here.

use syshyper_config::cross::{check, NamedCell, Severity};
use syshyper_config::{source, CellConfig, SystemConfig};

// ---- building blocks ----

/// A GICv2 system with every system field set: debug console with every
/// field, PCI MMCONFIG, all eight IOMMU slots (one of each type, an unused
/// slot in the middle, a type Jailhouse does not define), GICD/GICC/GICH/GICV.
const SYSTEM_V2: &str = r#"
[system]
flags = ["virtual_debug_console"]
hypervisor_memory = { phys = "0x7fc00000", virt = "0x0", size = "4 MiB" }
debug_console = { address = "0x09000000", size = "4 KiB", type = "pl011", flags = ["mmio", "regdist_4"], divider = 13, gate_nr = 7, clock_reg = "0x09100000" }
pci_mmconfig_base = "0x30000000"
pci_mmconfig_end_bus = 1
pci_is_virtual = 1
pci_domain = 2
gic_version = 2
maintenance_irq = 25
gicd_base = "0x08000000"
gicc_base = "0x08010000"
gich_base = "0x08030000"
gicv_base = "0x08040000"

[[system.iommu]]
type = "amd"
base = "0x20000000"
size = "4 KiB"
amd_bdf = "00:02.0"
amd_base_cap = "0x40"
amd_msi_cap = "0x64"
amd_features = "0x80048824"

[[system.iommu]]
type = "intel"
base = "0x20010000"
size = "4 KiB"

[[system.iommu]]
type = "smmuv3"
base = "0x20100000"
size = "128 KiB"

[[system.iommu]]
type = "unused"
base = "0x0"
size = 0

[[system.iommu]]
type = "pvu"
base = "0x20200000"
size = "4 KiB"
tipvu_tlb_base = "0x20300000"
tipvu_tlb_size = "64 KiB"

[[system.iommu]]
type = "arm_mmu500"
base = "0x20400000"
size = "64 KiB"

[[system.iommu]]
type = 9
base = "0x20500000"
size = "4 KiB"
data = "0102030405060708090a0b0c"

[[system.iommu]]
type = "arm_mmu500"
base = "0x20600000"
size = "64 KiB"
"#;

/// A GICv3 system with only an MMU-500 and a signed root cell header.
const SYSTEM_V3: &str = r#"
[system]
hypervisor_memory = { phys = "0x7fc00000", size = "4 MiB" }
gic_version = 3
maintenance_irq = 25
gicd_base = "0x08000000"
gicr_base = "0x080a0000"
root_cell_signed = true

[[system.iommu]]
type = "arm_mmu500"
base = "0x20400000"
size = "64 KiB"
"#;

/// The root cell: CPUs 0-3, RAM, the UART, and every array in use.
const ROOT: &str = r#"
[cell]
name = "root"
flags = ["passive_commreg", "vconsole_permitted"]
cpus = "0-3"
cpu_reset_address = "0x40200000"
vpci_irq_base = 96
msg_reply_timeout = 100
stream_ids = [0x10, { id = "0x11", mask_out = "0x7f80" }, "0x12"]
console = { address = "0x09000000", size = "4 KiB", type = "pl011", flags = ["mmio", "regdist_4"] }

[[cell.memory]]
phys = "0x40000000"
size = "0x3fb00000"
flags = ["read", "write", "execute", "dma"]

[[cell.memory]]
phys = "0x09000000"
size = "4 KiB"
flags = ["read", "write", "io"]

[[cell.memory]]
phys = "0x7fb00000"
size = "1 MiB"
flags = ["read", "write", "rootshared"]

[[cell.cache]]
start = 0
size = 4
type = "l3_code"

[[cell.cache]]
start = 4
size = 4
type = "l3_data"
flags = ["rootshared"]

[[cell.cache]]
start = 8
size = 8
type = "l3"

[[cell.irqchip]]
address = "0x08000000"
pin_base = 32
irqs = "32-63,100,159"

[[cell.irqchip]]
address = "0x08000000"
pin_base = 160
irqs = "160-287"

[[cell.pio]]
base = "0x3f8"
length = 8

[[cell.pci_device]]
type = "device"
iommu = 1
domain = 2
bdf = "00:01.0"
bar_mask = ["0xfffff000", "0xffffffff", "0", "0", "0", "0"]
caps_start = 0
num_caps = 2
num_msi_vectors = 4
msi_64bits = true
msi_maskable = true
num_msix_vectors = 8
msix_region_size = 0x1000
msix_address = "0x30100000"

[[cell.pci_device]]
type = "bridge"
domain = 2
bdf = "00:02.0"
caps_start = 1
num_caps = 1

[[cell.pci_cap]]
id = "0x05"
start = "0x50"
len = 14
flags = ["write"]

[[cell.pci_cap]]
id = "0x8001"
start = "0x100"
len = 4
"#;

fn compile(text: &str) -> Vec<u8> {
    source::compile(text).unwrap_or_else(|e| panic!("compile: {e}\n{text}"))
}

/// A cell file from its `[cell]` body (without the header line).
fn cell(body: &str) -> Vec<u8> {
    compile(&format!("[cell]\n{body}"))
}

/// Structural parse, `show`, and `show` -> `compile` byte identity.
fn round_trip(name: &str, bytes: &[u8]) -> String {
    match syshyper_config::kind_of(bytes) {
        Some(syshyper_config::Kind::System) => {
            SystemConfig::parse_exact(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        _ => {
            CellConfig::parse_exact(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
    let shown = source::show(bytes).unwrap_or_else(|e| panic!("{name}: show: {e}"));
    let again = source::compile(&shown).unwrap_or_else(|e| panic!("{name}: {e}\n{shown}"));
    assert!(again == bytes, "{name}: show -> compile differs\n{shown}");
    shown
}

/// `config check` findings as (severity, text), in report order.
fn findings(system: &[u8], cells: &[(&str, Vec<u8>)]) -> Vec<(Severity, String)> {
    let sys = SystemConfig::parse_exact(system).unwrap();
    let named: Vec<NamedCell<'_>> = cells
        .iter()
        .map(|(file, b)| NamedCell {
            file,
            config: CellConfig::parse_exact(b).unwrap(),
        })
        .collect();
    check("system.cell", &sys, &named)
        .into_iter()
        .map(|e| (e.severity, e.to_string()))
        .collect()
}

fn system_v2() -> Vec<u8> {
    compile(&format!("{SYSTEM_V2}{ROOT}"))
}

const E: Severity = Severity::Error;
const W: Severity = Severity::Warning;

fn expect(got: Vec<(Severity, String)>, want: &[(Severity, &str)]) {
    let got_ref: Vec<(Severity, &str)> = got.iter().map(|(s, t)| (*s, t.as_str())).collect();
    assert_eq!(got_ref, want);
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().unwrap())
}

// Offsets of revision 14 (cell-config.h): cell descriptor 132 bytes with
// flags @44 and the console @100 (type @12, flags @14 inside it); a cpu_set
// of 8 bytes follows, then 32-byte memory regions (flags @24).
const CELL_FLAGS: usize = 44;
const CONSOLE_TYPE: usize = 100 + 12;
const CONSOLE_FLAGS: usize = 100 + 14;
const FIRST_REGION_FLAGS: usize = 132 + 8 + 24;

// ---- every flag and type value against Jailhouse's ----

#[test]
fn memory_flags_are_jailhouses() {
    let table: &[(&str, u64)] = &[
        ("read", 0x1),
        ("write", 0x2),
        ("execute", 0x4),
        ("dma", 0x8),
        ("io", 0x10),
        ("comm_region", 0x20),
        ("loadable", 0x40),
        ("rootshared", 0x80),
        ("no_hugepages", 0x100),
        ("io_unaligned", 0x8000),
        ("io_8", 0x10000),
        ("io_16", 0x20000),
        ("io_32", 0x40000),
        ("io_64", 0x80000),
    ];
    for &(name, value) in table {
        let b = cell(&format!(
            "name = \"m\"\ncpus = \"1\"\n[[cell.memory]]\nphys = \"0x7fa00000\"\nsize = \"4 KiB\"\nflags = [\"{name}\"]\n"
        ));
        assert_eq!(u64_at(&b, FIRST_REGION_FLAGS), value, "{name}");
        let shown = round_trip(name, &b);
        assert!(
            shown.contains(&format!("flags = [\"{name}\"]")),
            "{name}: {shown}"
        );
    }
}

#[test]
fn cell_and_system_flags_are_jailhouses() {
    for &(name, value) in &[
        ("passive_commreg", 0x1u32),
        ("test_device", 0x2),
        ("aarch32", 0x4),
        ("vconsole_permitted", 0x4000_0000),
        ("vconsole_active", 0x8000_0000),
    ] {
        let b = cell(&format!(
            "name = \"c\"\ncpus = \"1\"\nflags = [\"{name}\"]\n"
        ));
        assert_eq!(u32_at(&b, CELL_FLAGS), value, "{name}");
        round_trip(name, &b);
    }
    // sysHyper's extension bit (docs/config-compat.md): outside every bit
    // Jailhouse defines.
    let b = cell("name = \"c\"\ncpus = \"1\"\nflags = [\"direct_irqs\"]\n");
    assert_eq!(u32_at(&b, CELL_FLAGS), 0x0100_0000);
    round_trip("direct_irqs", &b);
    // JAILHOUSE_SYS_VIRTUAL_DEBUG_CONSOLE = 1, system flags @8.
    let sys = system_v2();
    assert_eq!(u32_at(&sys, 8), 1);
}

#[test]
fn console_types_and_flags_are_jailhouses() {
    let types: &[(&str, u16)] = &[
        ("none", 0),
        ("efifb", 1),
        ("8250", 2),
        ("pl011", 3),
        ("xuartps", 4),
        ("mvebu", 5),
        ("hscif", 6),
        ("scifa", 7),
        ("imx", 8),
        ("imx_lpuart", 9),
    ];
    let flags: &[(&str, u16)] = &[
        ("mmio", 0x1),
        ("regdist_4", 0x2),
        ("fb_1920x1080", 0x4),
        ("inverted_gate", 0x1000),
        ("mdr_quirk", 0x2000),
    ];
    for &(tname, tvalue) in types {
        for &(fname, fvalue) in flags {
            let b = cell(&format!(
                "name = \"con\"\ncpus = \"1\"\nconsole = {{ address = \"0x09000000\", size = \"4 KiB\", type = \"{tname}\", flags = [\"{fname}\"], divider = 1, gate_nr = 2, clock_reg = \"0x1000\" }}\n"
            ));
            assert_eq!(u16_at(&b, CONSOLE_TYPE), tvalue, "{tname}");
            assert_eq!(u16_at(&b, CONSOLE_FLAGS), fvalue, "{fname}");
            let shown = round_trip(tname, &b);
            assert!(shown.contains(&format!("type = \"{tname}\"")), "{shown}");
            assert!(shown.contains(&format!("\"{fname}\"")), "{shown}");
        }
    }
    // All flags at once: K3's UART with the MDR quirk and an inverted gate.
    let b = cell(
        "name = \"k3\"\ncpus = \"1\"\nconsole = { address = \"0x02800000\", size = \"4 KiB\", type = \"8250\", flags = [\"mmio\", \"regdist_4\", \"fb_1920x1080\", \"inverted_gate\", \"mdr_quirk\"] }\n",
    );
    assert_eq!(u16_at(&b, CONSOLE_FLAGS), 0x3007);
    round_trip("k3", &b);
}

#[test]
fn iommu_cache_pci_values_are_jailhouses() {
    let sys = system_v2();
    // iommu_units[8] of 28 bytes @88: type u32 @0, base u64 @4, size u32
    // @12, then the type's 12 bytes @16.
    let unit = |i: usize| 88 + 28 * i;
    let types: Vec<u32> = (0..8).map(|i| u32_at(&sys, unit(i))).collect();
    assert_eq!(types, [1, 2, 3, 0, 4, 5, 9, 5]);
    assert_eq!(u64_at(&sys, unit(0) + 4), 0x2000_0000);
    assert_eq!(u32_at(&sys, unit(0) + 12), 0x1000);
    // AMD: bdf u16, base_cap u8, msi_cap u8, features u32.
    assert_eq!(u16_at(&sys, unit(0) + 16), 0x10);
    assert_eq!(sys[unit(0) + 18], 0x40);
    assert_eq!(sys[unit(0) + 19], 0x64);
    assert_eq!(u32_at(&sys, unit(0) + 20), 0x8004_8824);
    // PVU: tlb_base u64, tlb_size u32.
    assert_eq!(u64_at(&sys, unit(4) + 16), 0x2030_0000);
    assert_eq!(u32_at(&sys, unit(4) + 24), 0x1_0000);
    // Unknown type: raw bytes.
    assert_eq!(
        &sys[unit(6) + 16..unit(6) + 28],
        &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    );
    // arm platform info @312.
    assert_eq!(sys[312], 25);
    assert_eq!(sys[313], 2);
    assert_eq!(u64_at(&sys, 316), 0x0800_0000);
    assert_eq!(u64_at(&sys, 324), 0x0801_0000);
    assert_eq!(u64_at(&sys, 332), 0x0803_0000);
    assert_eq!(u64_at(&sys, 340), 0x0804_0000);
    // PCI: mmconfig base @76, end bus @84, is_virtual @85, domain @86.
    assert_eq!(u64_at(&sys, 76), 0x3000_0000);
    assert_eq!((sys[84], sys[85], u16_at(&sys, 86)), (1, 1, 2));

    let root = SystemConfig::parse_exact(&sys).unwrap().root_cell();
    let cache: Vec<(u8, u16)> = root
        .cache_regions()
        .iter()
        .map(|c| (c.cache_type, c.flags.get()))
        .collect();
    // JAILHOUSE_CACHE_L3_CODE 1, L3_DATA 2, L3 3; CACHE_ROOTSHARED 1.
    assert_eq!(cache, [(1, 0), (2, 1), (3, 0)]);
    let pci: Vec<u8> = root.pci_devices().iter().map(|d| d.pci_type).collect();
    // JAILHOUSE_PCI_TYPE_DEVICE 1, BRIDGE 2.
    assert_eq!(pci, [1, 2]);
    // msi_64bits is bit 0, msi_maskable bit 1 of byte 35.
    assert_eq!(root.pci_devices()[0].msi_flags, 0x3);
    // JAILHOUSE_PCICAPS_WRITE 1; JAILHOUSE_PCI_EXT_CAP 0x8000 in the id.
    let caps: Vec<(u16, u16)> = root
        .pci_caps()
        .iter()
        .map(|c| (c.id.get(), c.flags.get()))
        .collect();
    assert_eq!(caps, [(0x05, 1), (0x8001, 0)]);
    // union jailhouse_stream_id: mmu500.id is the low half, mask_out the high.
    let sids: Vec<u32> = root.stream_ids().iter().map(|s| s.get()).collect();
    assert_eq!(sids, [0x10, 0x7f80_0011, 0x12]);
}

// ---- show names IOMMUs and stream ids as Jailhouse does ----

#[test]
fn show_names_iommus_and_stream_ids() {
    let shown = round_trip("system-v2", &system_v2());
    for needle in [
        "type = \"amd\"",
        "amd_bdf = \"00:02.0\"",
        "amd_base_cap = \"0x00000040\"",
        "amd_features = \"0x80048824\"",
        "type = \"intel\"",
        "type = \"smmuv3\"",
        "type = \"unused\"",
        "type = \"pvu\"",
        "tipvu_tlb_base = \"0x20300000\"",
        "tipvu_tlb_size = \"64 KiB\"",
        "type = \"arm_mmu500\"",
        "type = 9",
        "data = \"0102030405060708090a0b0c\"",
        "type = \"l3_code\"",
        "type = \"l3_data\"",
        "type = \"l3\"",
        // An MMU-500 is present: the id with a mask is split.
        "{ id = \"0x00000011\", mask_out = \"0x00007f80\" }",
    ] {
        assert!(shown.contains(needle), "missing {needle}:\n{shown}");
    }
    // Only an SMMUv3: ids are plain numbers whatever their value.
    let smmuv3 = compile(&format!(
        "{}\n[[system.iommu]]\ntype = \"smmuv3\"\nbase = \"0x20100000\"\nsize = \"128 KiB\"\n{}",
        SYSTEM_V3.replace(
            "[[system.iommu]]\ntype = \"arm_mmu500\"\nbase = \"0x20400000\"\nsize = \"64 KiB\"\n",
            ""
        ),
        ROOT
    ));
    let shown = round_trip("smmuv3", &smmuv3);
    assert!(
        shown.contains("stream_ids = [16, 2139095057, 18]"),
        "{shown}"
    );
    // Older spellings still compile to the same types.
    let old = compile(&format!(
        "{SYSTEM_V3}\n[[system.iommu]]\ntype = \"ti_pvu\"\nbase = \"0x1000\"\nsize = \"4 KiB\"\n\n[[system.iommu]]\ntype = \"arm_smmuv3\"\nbase = \"0x2000\"\nsize = \"4 KiB\"\n{ROOT}"
    ));
    let sys = SystemConfig::parse_exact(&old).unwrap();
    let types: Vec<u32> = sys.iommu_units()[..3]
        .iter()
        .map(|u| u.iommu_type.get())
        .collect();
    assert_eq!(types, [5, 4, 3]);
    // Named fields of the wrong type are refused.
    let bad = format!(
        "{SYSTEM_V3}\n[[system.iommu]]\ntype = \"intel\"\nbase = \"0x1000\"\nsize = \"4 KiB\"\ntipvu_tlb_base = \"0x1\"\n{ROOT}"
    );
    assert!(source::compile(&bad)
        .unwrap_err()
        .to_string()
        .contains("need type \"pvu\""));
}

// ---- the corpus: structure, show, round trip, check severity ----

#[test]
fn full_system_and_every_field_cell_pass() {
    let sys = system_v2();
    round_trip("system-v2", &sys);
    let v3 = compile(&format!("{SYSTEM_V3}{ROOT}"));
    round_trip("system-v3", &v3);
    // Every cell field, a 31-byte name, a cpu_set larger than needed, every
    // cell flag, a comm region, a placeholder region and a sub-page UART.
    let every = cell(
        r#"name = "abcdefghijklmnopqrstuvwxyz01234"
flags = ["passive_commreg", "test_device", "aarch32", "direct_irqs", "vconsole_permitted", "vconsole_active"]
cpus = "1,3"
cpu_set_size = 16
cpu_reset_address = "0x1000"
vpci_irq_base = 128
msg_reply_timeout = 5000
stream_ids = [0x20]
console = { address = "0xfe215040", size = "0x40", type = "8250", flags = ["mmio", "regdist_4"], divider = 0x1b, gate_nr = 3, clock_reg = "0xfe100000" }

[[cell.memory]]
phys = "0x7f000000"
virt = "0x0"
size = "1 MiB"
flags = ["read", "write", "execute", "loadable", "dma", "no_hugepages"]

[[cell.memory]]
phys = "0x0"
virt = "0x80000000"
size = "4 KiB"
flags = ["read", "write", "comm_region"]

[[cell.memory]]
phys = "0"
size = 0

[[cell.memory]]
phys = "0xfe215040"
size = "0x40"
flags = ["read", "write", "io", "io_8", "io_32", "io_unaligned"]

[[cell.memory]]
phys = "0x09000000"
virt = "0x09000800"
size = "0x800"
flags = ["read", "io", "io_16", "io_64", "rootshared"]

[[cell.irqchip]]
address = "0x08000000"
pin_base = 288
irqs = "300"
"#,
    );
    let shown = round_trip("every", &every);
    let c = CellConfig::parse_exact(&every).unwrap();
    assert_eq!(c.name().len(), 31);
    assert_eq!(c.cpu_set().len(), 16);
    let subpage: Vec<bool> = c.memory_regions().iter().map(|m| m.is_subpage()).collect();
    assert_eq!(subpage, [false, false, false, true, true]);
    assert!(shown.contains("cpu_set_size = 16"), "{shown}");
    // The sub-page UART lies outside the root's regions: Jailhouse runs
    // such cells, so only a warning.
    expect(
        findings(&sys, &[("every.cell", every)]),
        &[(W, "every.cell: memory_regions[3]: phys 0xfe215040-0xfe215080 is not inside the root cell's memory")],
    );
}

#[test]
fn overlapping_regions_parse_and_are_errors_in_check() {
    // Two RAM regions covering each other, as some board configs have them.
    let root = ROOT.replace(
        "[[cell.memory]]\nphys = \"0x09000000\"",
        "[[cell.memory]]\nphys = \"0x40000000\"\nsize = \"1 GiB\"\nflags = [\"read\", \"write\"]\n\n[[cell.memory]]\nphys = \"0x09000000\"",
    );
    let sys = compile(&format!("{SYSTEM_V2}{root}"));
    round_trip("overlap", &sys);
    expect(
        findings(&sys, &[]),
        &[
            (E, "system.cell: memory_regions[0]: physically and virtually overlaps memory_regions[1]"),
            (E, "system.cell: memory_regions[1]: physically and virtually overlaps memory_regions[3]"),
            (E, "system.cell: memory_regions[1]: phys 0x40000000-0x80000000 overlaps the hypervisor memory 0x7fc00000-0x80000000"),
        ],
    );
    // Virtual-only overlap inside a cell.
    let c = cell(
        "name = \"v\"\ncpus = \"1\"\n[[cell.memory]]\nphys = \"0x7fb00000\"\nvirt = \"0\"\nsize = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n[[cell.memory]]\nphys = \"0x7fb01000\"\nvirt = \"0\"\nsize = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n",
    );
    round_trip("virt-overlap", &c);
    expect(
        findings(&system_v2(), &[("v.cell", c)]),
        &[(
            E,
            "v.cell: memory_regions[0]: virtually overlaps memory_regions[1]",
        )],
    );
}

#[test]
fn regions_over_platform_resources_are_errors() {
    // One region each over the hypervisor, PCI MMCONFIG, an IOMMU and each
    // GICv2 frame: jailhouse-config-check fails on every one.
    let mut body = String::from("name = \"r\"\ncpus = \"1\"\n");
    for (phys, size) in [
        ("0x7fc00000", "4 KiB"),
        ("0x30100000", "4 KiB"),
        ("0x20400000", "4 KiB"),
        ("0x08000000", "4 KiB"),
        ("0x08011000", "4 KiB"),
        ("0x08030000", "4 KiB"),
        ("0x08041000", "4 KiB"),
    ] {
        body += &format!(
            "[[cell.memory]]\nphys = \"{phys}\"\nsize = \"{size}\"\nflags = [\"read\", \"io\"]\n"
        );
    }
    let c = cell(&body);
    round_trip("resources", &c);
    let got = findings(&system_v2(), &[("r.cell", c)]);
    let errors: Vec<&str> = got
        .iter()
        .filter(|(s, _)| *s == E)
        .map(|(_, t)| t.as_str())
        .collect();
    for (i, what) in [
        "the hypervisor memory",
        "PCI MMCONFIG",
        "an IOMMU",
        "GICD",
        "GICC",
        "GICH",
        "GICV",
    ]
    .iter()
    .enumerate()
    {
        assert!(
            errors.iter().any(
                |e| e.starts_with(&format!("r.cell: memory_regions[{i}]:")) && e.contains(what)
            ),
            "region {i} over {what}: {errors:?}"
        );
    }
}

#[test]
fn ivshmem_peers_up_to_jailhouses_maximum() {
    // A device per case, each with 2 + 12 regions (placeholders do).
    let mut body = String::from("name = \"shm\"\ncpus = \"1\"\n");
    for _ in 0..14 {
        body += "[[cell.memory]]\nphys = \"0\"\nsize = 0\n";
    }
    for (i, (dev_id, peers)) in [(0u8, 2u8), (11, 12), (1, 12), (5, 2), (12, 12), (255, 12)]
        .iter()
        .enumerate()
    {
        body += &format!(
            "[[cell.pci_device]]\ntype = \"ivshmem\"\nbdf = \"00:{i:02x}.0\"\nbar_mask = [\"0xfffff000\", \"0xfffffe00\"]\nnum_msix_vectors = 2\nshmem_regions_start = 0\nshmem_dev_id = {dev_id}\nshmem_peers = {peers}\nshmem_protocol = \"0x0001\"\n"
        );
    }
    let c = cell(&body);
    let shown = round_trip("ivshmem", &c);
    assert!(shown.contains("type = \"ivshmem\""), "{shown}");
    let parsed = CellConfig::parse_exact(&c).unwrap();
    // JAILHOUSE_PCI_TYPE_IVSHMEM 3, JAILHOUSE_SHMEM_PROTO_VETH 1.
    assert!(parsed
        .pci_devices()
        .iter()
        .all(|d| d.pci_type == 3 && d.shmem_protocol.get() == 1));
    // The structural parse takes Jailhouse's format as it is; the ivshmem
    // rules (docs/ivshmem.md) refuse placeholders as state tables.
    expect(
        findings(&system_v2(), &[("shm.cell", c)]),
        &[(
            E,
            "shm.cell: pci_devices[0]: state table memory_regions[0] must be read-only and hold 4 bytes per peer",
        )],
    );
    // Regions beyond the array stay a structural error (the hypervisor
    // would index past them).
    let short = body.replacen("[[cell.memory]]\nphys = \"0\"\nsize = 0\n", "", 1);
    let err = source::compile(&format!("[cell]\n{short}"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("exceed the 13 memory_regions"), "{err}");
}

/// Peer `id` of a two-peer link at 00:01.0 (sections at 0x7fb00000 of the
/// root's shared megabyte), with INTx INTID 32 + `vpci` + 1 granted.
fn link_cell(name: &str, cpu: u8, id: u8, vpci: u32) -> Vec<u8> {
    let w = |p: u8| if p == id { "\"read\", \"write\", \"rootshared\"" } else { "\"read\", \"rootshared\"" };
    let intid = 32 + vpci + 1;
    let base = intid / 32 * 32;
    cell(&format!(
        "name = \"{name}\"\ncpus = \"{cpu}\"\nvpci_irq_base = {vpci}\n\
         [[cell.memory]]\nphys = \"0x7fb00000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"rootshared\"]\n\
         [[cell.memory]]\nphys = \"0\"\nsize = 0\n\
         [[cell.memory]]\nphys = \"0x7fb01000\"\nsize = \"4 KiB\"\nflags = [{}]\n\
         [[cell.memory]]\nphys = \"0x7fb02000\"\nsize = \"4 KiB\"\nflags = [{}]\n\
         [[cell.irqchip]]\naddress = \"0x08000000\"\npin_base = {base}\nirqs = \"{intid}\"\n\
         [[cell.pci_device]]\ntype = \"ivshmem\"\ndomain = 2\nbdf = \"00:01.0\"\nbar_mask = [\"0xfffff000\", \"0\", \"0\", \"0\", \"0\", \"0\"]\n\
         shmem_regions_start = 0\nshmem_dev_id = {id}\nshmem_peers = 2\n",
        w(0),
        w(1)
    ))
}

#[test]
fn ivshmem_links_across_files() {
    let sys = system_v2();
    let a = link_cell("a", 1, 0, 200);
    let b = link_cell("b", 2, 1, 210);
    expect(findings(&sys, &[("a.cell", a.clone()), ("b.cell", b)]), &[]);
    // Both claim peer 0.
    let b0 = link_cell("b", 2, 0, 210);
    expect(
        findings(&sys, &[("a.cell", a.clone()), ("b.cell", b0)]),
        &[(
            E,
            "b.cell: pci_devices[0]: link 0x8 disagrees with another peer: both peers have the same shmem_dev_id (a.cell)",
        )],
    );
    // A cell granted a's INTx (32 + 200 + 1): also a plain clash of grants.
    let grab = cell("name = \"g\"\ncpus = \"3\"\n[[cell.irqchip]]\naddress = \"0x08000000\"\npin_base = 224\nirqs = \"233\"\n");
    expect(
        findings(&sys, &[("a.cell", a.clone()), ("g.cell", grab)]),
        &[
            (E, "g.cell: irqchips: INTID 233 is the ivshmem INTx of a.cell"),
            (E, "g.cell: irqchips[0]: INTID 233 is also granted to a.cell: irqchips[0]"),
        ],
    );
    // An output section elsewhere.
    let b_moved = cell(
        &source::show(&link_cell("b", 2, 1, 210))
            .unwrap()
            .replace("[cell]\n", "")
            .replace("phys = \"0x7fb02000\"", "phys = \"0x7fb03000\"\nvirt = \"0x7fb02000\""),
    );
    let got = findings(&sys, &[("a.cell", a), ("b.cell", b_moved)]);
    assert!(
        got.iter().any(|(s, t)| *s == E && t.contains("output section of peer 1 differs")),
        "{got:?}"
    );
}

#[test]
fn console_flags_unknown_bits_warn_and_unknown_types_pass() {
    let c = cell(
        "name = \"odd\"\ncpus = \"1\"\nconsole = { address = \"0x09000000\", size = \"4 KiB\", type = 12, flags = [\"mmio\", \"0x100\"] }\n",
    );
    let shown = round_trip("odd-console", &c);
    assert!(shown.contains("type = 12"), "{shown}");
    assert!(shown.contains("flags = [\"mmio\", \"0x100\"]"), "{shown}");
    let sys = compile(&format!(
        "{}{ROOT}",
        SYSTEM_V2.replace(
            "flags = [\"mmio\", \"regdist_4\"], divider",
            "flags = [\"mmio\", \"0x4000\"], divider"
        )
    ));
    round_trip("odd-debug-console", &sys);
    expect(
        findings(&sys, &[("odd.cell", c)]),
        &[
            (W, "odd.cell: console: unknown flag bits 0x100"),
            (W, "system.cell: debug_console: unknown flag bits 0x4000"),
        ],
    );
}

#[test]
fn cpu_rules_match_jailhouse() {
    let sys = system_v2();
    let a = cell("name = \"a\"\ncpus = \"1-2\"\n");
    let b = cell("name = \"b\"\ncpus = \"2-3\"\n");
    let c = cell("name = \"c\"\ncpus = \"0\"\n");
    let d = cell("name = \"d\"\ncpus = \"3-4\"\n");
    expect(
        findings(&sys, &[("a.cell", a.clone()), ("b.cell", b)]),
        &[(E, "b.cell: cpu_set[2]: CPU 2 is also assigned to a.cell")],
    );
    // All root CPUs given away: Jailhouse's checker reports starvation.
    expect(
        findings(&sys, &[("a.cell", a), ("c.cell", c), ("d.cell", d)]),
        &[
            (E, "d.cell: cpu_set[4]: CPU 4 is not in the root cell's cpu_set"),
            (E, "system.cell: cpu_set: no root cell CPU is left when all non-root cells are started"),
        ],
    );
}

#[test]
fn every_corpus_file_is_printed() {
    // Each structurally valid file prints, whatever check says of it; the
    // ones with policy problems above included.
    let files = [
        system_v2(),
        compile(&format!("{SYSTEM_V3}{ROOT}")),
        cell("name = \"x\"\ncpus = \"1\"\n[[cell.memory]]\nphys = \"0x100000000\"\nsize = \"1 GiB\"\nflags = [\"read\", \"write\"]\n[[cell.memory]]\nphys = \"0x100000000\"\nsize = \"4 KiB\"\nflags = [\"read\"]\n"),
    ];
    for (i, f) in files.iter().enumerate() {
        let shown = round_trip(&format!("file {i}"), f);
        assert!(shown.starts_with("# sysHyper"), "{shown}");
    }
}

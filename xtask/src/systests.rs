//! The system tests that run on QEMU, as a table. To add one, append a
//! `SysTest` to `SYSTEM_TESTS`; `cargo xtask test <part of its name>` runs it.
//!
//! Paths in `bundle` and `Boot::First` are relative to target/images and
//! name files `cargo xtask build` produces (inmates/<name>.bin, configs/<name>.cell).

use crate::harness::Ctx;
use crate::runner::Running;
use anyhow::Result;
use std::time::Instant;

/// How QEMU is started.
#[derive(Clone, Copy)]
pub enum Boot {
    /// The hypervisor boots first with `config`; `root` is loaded at the root
    /// cell's cpu_reset_address.
    First {
        root: &'static str,
        config: &'static str,
    },
    /// Any other start (e.g. Linux from xtask/src/guest): returns the QEMU
    /// arguments; the harness adds nothing.
    Custom(fn(&Ctx) -> Result<Vec<String>>),
    /// As `Custom`, run by the private QEMU >= 8.1 from bookworm-backports
    /// (`qemu_bpo`, fetched on first use), whose SMMUv3 has stage 2.
    Backports(fn(&Ctx) -> Result<Vec<String>>),
}

/// A file placed in the bundle at 0x4800_0000 under `name`.
#[derive(Clone, Copy)]
pub struct BundleFile {
    pub name: &'static str,
    pub path: &'static str,
}

/// Judges the capture groups of an expected line (0 = the whole match).
pub type CapsCheck = fn(&[String]) -> Result<(), String>;

/// A console line to wait for, in order; `check` judges its capture groups.
#[derive(Clone, Copy)]
pub struct Expect {
    pub regex: &'static str,
    pub check: Option<CapsCheck>,
}

#[derive(Clone, Copy)]
pub struct SysTest {
    pub name: &'static str,
    pub boot: Boot,
    pub bundle: &'static [BundleFile],
    /// Write the bundle address into the image header so the hypervisor itself
    /// creates and starts the bundle's `cell:<name>` entries at boot.
    pub start_bundle_cells: bool,
    /// Steps that type into the console (Linux shell tests); runs before `expect`.
    pub interact: Option<fn(&mut Running, Instant) -> Result<()>>,
    pub expect: &'static [Expect],
    /// Text that must not appear anywhere in the console.
    pub forbid: &'static [&'static str],
    /// Required QEMU exit status.
    pub exit_status: i32,
    pub timeout_s: u64,
}

/// Lines every test forbids in addition to its own list.
pub const ALWAYS_FORBIDDEN: &[&str] = &["[FAIL]", "PANIC"];

fn some_passed(caps: &[String]) -> Result<(), String> {
    match caps.get(1).map(|n| n.parse::<u32>()) {
        Some(Ok(n)) if n > 0 => Ok(()),
        _ => Err(format!(
            "expected at least one passed check, got {:?}",
            caps.first()
        )),
    }
}

pub const SYSTEM_TESTS: &[SysTest] = &[
    SysTest {
        name: "boot-first-root",
        boot: Boot::First {
            root: "inmates/root-test.bin",
            config: "configs/qemu-virt.cell",
        },
        bundle: &[],
        start_bundle_cells: false,
        interact: None,
        expect: &[Expect {
            regex: r"root-test: (\d+) passed, 0 failed",
            check: Some(some_passed),
        }],
        forbid: &[],
        exit_status: 0,
        timeout_s: 60,
    },
    // Cell lifecycle and interrupt virtualisation, driven by root-test
    // (inmates/src/bin/root-test/{cells,gic_suite}.rs).
    CELLS_TEST,
    CELLS_TEST_GICV2,
    GIC_TEST,
    GIC_TEST_GICV2,
    REGIONS_TEST,
    VPCI_TEST,
    HVMEM_TEST,
    SMMU_TEST,
    REGS_TEST,
    EXHAUST_TEST,
    SUBPAGE_TEST,
    ROOT_SUBPAGE_TEST,
    CPU_RACE_TEST,
    DESTROY_RACE_TEST,
    // ivshmem between root-test and the ivshmem-demo cell (systests_ivshmem.rs).
    crate::systests_ivshmem::ROOT_IVSHMEM,
    // PCI passthrough of QEMU's edu to the dma-test cell (systests_passthru.rs).
    crate::systests_passthru::ROOT_PASSTHRU,
    crate::systests_passthru::ROOT_PASSTHRU_SMMU,
    crate::systests_passthru::ROOT_PASSTHRU_V2M,
    // Both SMMU suites in one boot of QEMU 10, whose SMMU has stage 2
    // (systests_smmu_s2.rs).
    crate::systests_smmu_s2::ROOT_SMMU_S2,
    // Linux booted by the hypervisor (xtask/src/bootfirst_linux.rs).
    crate::bootfirst_linux::TEST_LINUX,
    crate::bootfirst_linux::TEST_LINUX_CELLS,
    crate::bootfirst_linux::TEST_LINUX_CELL_TOOL,
    // Isolation suite (inmates/src/bin/isolation-root, hostile-cell).
    ISOLATION_TEST,
    ISOLATION_ACCOUNTING_TEST,
    // Late launch from Debian Linux (xtask/src/systests_linux.rs, guest/tests/).
    crate::systests_linux::LINUX_DEMO,
    crate::systests_linux::LINUX_CYCLES,
    crate::systests_linux::LINUX_REFUSE,
    crate::systests_linux::LINUX_SMP16,
    crate::systests_linux::LINUX_UNRESERVED,
    crate::systests_linux::LINUX_ADOPT,
    crate::systests_linux::LINUX_ISOLATION,
    crate::systests_linux::LINUX_CELL_TEST,
    // The second platform: late launch on QEMU's ZCU102 model, cells,
    // config create (xtask/src/systests_zcu102.rs; its own list with
    // `--platform zcu102`).
    crate::systests_zcu102::ZCU102_LINUX,
];

const fn expect(regex: &'static str) -> Expect {
    Expect { regex, check: None }
}

pub const ROOT_TEST_PASSED: Expect = Expect {
    regex: r"root-test: (\d+) passed, 0 failed",
    check: Some(some_passed),
};

/// uart-demo's greeting after its first start, or the root's check of
/// that cell's exits, whichever the console shows first.
const HELLO_OR_EXITS: Expect =
    expect(r"uart-demo: hello from cell|\[PASS\] cells: cell CPU's own exits grow, then grow again");

/// Suite "cells": lifecycle of uart-demo (greets on each start), a two-CPU
/// cell, refused creates, 200 cycles of ping-demo and a crashing cell.
const CELLS_TEST: SysTest = SysTest {
    name: "root-cells",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "cells/uart-demo.cell", path: "configs/uart-demo.cell" },
        BundleFile { name: "cells/uart-demo.bin", path: "inmates/uart-demo.bin" },
        BundleFile { name: "cells/test-smp.cell", path: "configs/test-smp.cell" },
        BundleFile { name: "cells/smp-demo.bin", path: "inmates/smp-demo.bin" },
        BundleFile { name: "cells/test-ping.cell", path: "configs/test-ping.cell" },
        BundleFile { name: "cells/ping-demo.bin", path: "inmates/ping-demo.bin" },
        BundleFile { name: "cells/test-crash.cell", path: "configs/test-crash.cell" },
        BundleFile { name: "cells/crash-demo.bin", path: "inmates/crash-demo.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] cells: duplicate name is EEXIST"),
        expect(r"\[PASS\] cells: set_loadable root is EINVAL"),
        // The cell's greeting and the root's line after its start come
        // from two CPUs on one console, in either order: each of these
        // two matches the first of them it sees, so both must appear
        // before the second start's greeting.
        HELLO_OR_EXITS,
        HELLO_OR_EXITS,
        expect(r"uart-demo: hello from cell"),
        expect(r"\[PASS\] cells: destroy gives back every pool page"),
        expect(r"smp-demo: CPU 2 online"),
        expect(r"smp-demo: CPU 3 online"),
        expect(r"\[PASS\] cells: smp cell runs CPU 2 and starts CPU 3"),
        expect(r"\[PASS\] cells: 200 create/load/start/destroy cycles"),
        expect(r"crash-demo: reading unmapped"),
        expect(r"\[PASS\] cells: crashed cell is FAILED"),
        expect(r"\[PASS\] cells: failed cell can be destroyed"),
        ROOT_TEST_PASSED,
    ],
    forbid: &["crash-demo: survived"],
    exit_status: 0,
    timeout_s: 40,
};

/// The "cells" suite on QEMU virt with `gic-version=2` (the GICv2
/// representative in CI; `--gic 2` runs any test there): the GICv2 driver,
/// GICV at each cell's GICC address, SPI hand-over by ITARGETSR and the
/// management SGI through GICD_SGIR, under 200 create/destroy cycles.
const CELLS_TEST_GICV2: SysTest = SysTest {
    name: "root-cells-gicv2",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt-gicv2.cell",
    },
    // On QEMU's GICv2 model each injected interrupt takes a second exit
    // (irqchip/gicv2/phys.rs, eoi_quirk): 36-42 s on a loaded host.
    timeout_s: 60,
    ..CELLS_TEST
};

/// The "gic" suite on QEMU virt with `gic-version=2` (CI's GICv2
/// representative of interrupt virtualisation, ~6 s): the root's own
/// timer, gic-demo, SGIs in a cell, the hostile and leftover cells.
const GIC_TEST_GICV2: SysTest = SysTest {
    name: "root-gic-gicv2",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt-gicv2.cell",
    },
    ..GIC_TEST
};

const GIC_DEMO_LINE: Expect =
    expect(r"Timer fired, jitter: +-?\d+ ns, min: +-?\d+ ns, max: +-?\d+ ns");

/// Suite "gic": gic-demo on CPU 1 (20 timer lines) while the root takes its
/// own timer interrupts, SGIs inside a two-CPU cell, a hostile cell.
const GIC_TEST: SysTest = SysTest {
    name: "root-gic",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "gic/gic-demo.cell", path: "configs/gic-demo.cell" },
        BundleFile { name: "gic/gic-demo.bin", path: "inmates/gic-demo.bin" },
        BundleFile { name: "gic/test-sgi.cell", path: "configs/test-sgi.cell" },
        BundleFile { name: "gic/sgi-demo.bin", path: "inmates/sgi-demo.bin" },
        BundleFile { name: "gic/test-hostile.cell", path: "configs/test-hostile.cell" },
        BundleFile { name: "gic/gic-hostile.bin", path: "inmates/gic-hostile.bin" },
        BundleFile { name: "gic/test-leftover.cell", path: "configs/test-leftover.cell" },
        BundleFile { name: "gic/gic-leftover.bin", path: "inmates/gic-leftover.bin" },
        BundleFile { name: "gic/test-timer-bare.cell", path: "configs/test-timer-bare.cell" },
        BundleFile { name: "gic/timer-bare.bin", path: "inmates/timer-bare.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] gic: root receives its own timer interrupts"),
        expect(r"Initializing the GIC\.\.\."),
        expect(r"Initializing the timer\.\.\."),
        GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE,
        GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE,
        GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE,
        GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE, GIC_DEMO_LINE,
        expect(r"\[PASS\] gic: root timer keeps firing while gic-demo runs"),
        expect(r"sgi-demo: CPU 3 got SGI 3 \(#10\)"),
        expect(r"sgi-demo: CPU 2 sent 10 SGIs, CPU 3 received 10"),
        expect(r"\[PASS\] gic: sgi-demo's second CPU received all 10"),
        expect(r"gic-hostile: done, foreign reads not zero: 0x0\b"),
        expect(r"\[PASS\] gic: root GIC state unchanged by the hostile cell"),
        expect(r"\[PASS\] gic: no SGI from the hostile cell reached the root"),
        // GICv3: the cell wrote group 1 and reads it back; GICv2: the
        // hypervisor keeps every interrupt's group (IGROUPR RAZ/WI).
        expect(r"gic-leftover: done, groups read back (0xffffffff 0x40000|0x0 0x0)\b"),
        expect(r"\[PASS\] gic: leftover cell destroyed despite its group-0 state"),
        expect(r"\[PASS\] gic: SPI 146 back in the root's configuration"),
        expect(r"timer-bare: 5 timer interrupts"),
        expect(r"\[PASS\] gic: timer-bare gets its timer interrupts after gic-leftover"),
        ROOT_TEST_PASSED,
    ],
    forbid: &[],
    exit_status: 0,
    timeout_s: 40,
};

/// Suite "regions" (root-test/region_checks.rs): a second comm region and
/// regions over the hypervisor, GICD, GICR or outside the root are -EINVAL
/// with nothing changed; a harmless owned region outside the root is
/// accepted.
const REGIONS_TEST: SysTest = SysTest {
    name: "root-regions",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "regions/uart-demo.cell", path: "configs/uart-demo.cell" },
        BundleFile { name: "regions/test-vpci-peer.cell", path: "configs/test-vpci-peer.cell" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] regions: control \(rootshared root RAM\) accepted"),
        expect(r"\[PASS\] regions: second comm region is EINVAL"),
        expect(r"\[PASS\] regions: rootshared over the GICD is EINVAL"),
        expect(r"\[PASS\] regions: rootshared outside the root is EINVAL"),
        expect(r"\[PASS\] regions: owned over a GICR frame is EINVAL"),
        expect(r"\[PASS\] regions: owned region outside the root accepted"),
        expect(r"\[PASS\] vpci-regions: valid link peer accepted"),
        expect(r"\[PASS\] vpci-regions: shmem_regions_start on the comm region is EINVAL"),
        expect(r"\[PASS\] vpci-regions: 17 peers is EINVAL"),
        expect(r"\[PASS\] vpci-regions: bdf clash is EINVAL"),
        expect(r"\[PASS\] vpci-regions: peer 0's output writable by peer 1 is EINVAL"),
        expect(r"\[PASS\] vpci-regions: the root's peer ID again is EINVAL"),
        expect(r"\[PASS\] vpci-regions: the root's INTx 129 \(157 on a GICv2\) granted to the cell is EINVAL"),
        expect(r"\[PASS\] vpci-regions: a comm-region state table is EINVAL"),
        expect(r"\[PASS\] vpci-regions: an io output section is EINVAL"),
        expect(r"\[PASS\] vpci-regions: owning the root's state table is EBUSY"),
        ROOT_TEST_PASSED,
    ],
    forbid: &[],
    exit_status: 0,
    timeout_s: 60,
};

/// Suite "vpci" (root-test/vpci.rs): the root's ivshmem functions on the
/// virtual PCI host: config space, BAR0 registers, state table, INTx.
const VPCI_TEST: SysTest = SysTest {
    name: "root-vpci",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "mode:vpci", path: "configs/uart-demo.cell" },
        BundleFile { name: "vpci/test-vpci-peer.cell", path: "configs/test-vpci-peer.cell" },
        BundleFile { name: "vpci/uart-demo.bin", path: "inmates/uart-demo.bin" },
        BundleFile { name: "vpci/crash-demo.bin", path: "inmates/crash-demo.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] vpci: 00:00.0 vendor/device"),
        expect(r"\[PASS\] vpci: BAR0 sizing reads the 4 KiB mask"),
        expect(r"\[PASS\] vpci: writes outside the emulated registers are ignored"),
        expect(r"\[PASS\] vpci: state lands in the state table"),
        expect(r"\[PASS\] vpci: doorbell to self raises the root's INTx \(INTID 128; 156 on a GICv2\)"),
        expect(r"\[PASS\] vpci: no INTx with interrupt control 0"),
        expect(r"\[PASS\] vpci: a doorbell rung on CPU 0 reaches CPU 3, where the root's INTx is routed"),
        expect(r"\[PASS\] vpci: doorbell to an absent peer raises nothing"),
        expect(r"\[PASS\] vpci: a destroyed peer raises the root's INTx"),
        expect(r"\[PASS\] vpci: a failed peer raises the root's INTx"),
        expect(r"\[PASS\] vpci: pool usage and cell count unchanged after 100 cycles"),
        ROOT_TEST_PASSED,
    ],
    forbid: &[],
    exit_status: 0,
    timeout_s: 60,
};

/// Suite "hvmem" (root-test/hv_memory.rs): while a cell runs, the root's
/// reads of hypervisor memory fault back to its own handler as external
/// aborts, except the header and console pages.
const HVMEM_TEST: SysTest = SysTest {
    name: "root-hvmem",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "hvmem/uart-demo.cell", path: "configs/uart-demo.cell" },
        BundleFile { name: "hvmem/uart-demo.bin", path: "inmates/uart-demo.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] hvmem: probe handler records an EL1 data abort"),
        expect(r"uart-demo: hello from cell"),
        expect(r"\[PASS\] hvmem: root read of CPU 1's trap frame faults \(SEA\)"),
        expect(r"\[PASS\] hvmem: root read of the system config copy faults \(SEA\)"),
        expect(r"\[PASS\] hvmem: root read of the page pool faults \(SEA\)"),
        expect(r"\[PASS\] hvmem: root reads the console page"),
        expect(r"\[PASS\] hvmem: uart-demo destroyed"),
        ROOT_TEST_PASSED,
    ],
    forbid: &[],
    exit_status: 0,
    timeout_s: 60,
};

/// Suite "smmu" (root-test/smmu.rs): QEMU virt with an SMMUv3 and two
/// edu DMA devices; the root's devices are confined to root memory, a
/// stream handed to a cell is confined to the cell's, and comes back.
const SMMU_TEST: SysTest = SysTest {
    name: "root-smmu",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt-smmu.cell",
    },
    bundle: &[
        BundleFile { name: "smmu/smmu-cell.cell", path: "configs/smmu-cell.cell" },
        BundleFile { name: "smmu/smmu-holder.cell", path: "configs/smmu-holder.cell" },
        BundleFile { name: "smmu/smmu-refused.cell", path: "configs/smmu-refused.cell" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"SMMUv3 at 0x9050000: stage [12]"),
        expect(r"SMMU: root streams \[8, 10, 28\] translate through"),
        expect(r"\[PASS\] smmu: root edu copies within root memory \(checksum\)"),
        expect(r"SMMU: F_(TRANSLATION|PERMISSION) stream 0x8 \(00:01\.0\) write address 0x7fc00000, owner cell 0"),
        expect(r"\[PASS\] smmu: DMA write into hypervisor memory blocked \(header intact\)"),
        expect(r"SMMU: F_(TRANSLATION|PERMISSION) stream 0x8 \(00:01\.0\) read address 0x7fc02000, owner cell 0"),
        expect(r"\[PASS\] smmu: DMA read of hypervisor memory returns no hypervisor bytes"),
        expect(r"\[PASS\] smmu: edu 00:02.0 copies for the root"),
        expect(r"SMMU: F_TRANSLATION stream 0x10 \(00:02\.0\) write address 0x[0-9a-f]+, owner cell 1"),
        expect(r"\[PASS\] smmu: a cell's device cannot write root memory"),
        expect(r"\[PASS\] smmu: the fault is recorded for the cell"),
        expect(r"\[PASS\] smmu: edu 00:02.0 copies for the root again"),
        expect(r"\[PASS\] smmu: 100 stream hand-over cycles keep the pool constant"),
        expect(r"\[PASS\] smmu: refused creates keep the pool constant"),
        expect(r"\[PASS\] smmu: the pool is back where it was before the holder"),
        ROOT_TEST_PASSED,
    ],
    forbid: &["command queue stuck", "not confirmed", "C_BAD_STE", "C_BAD_CD"],
    exit_status: 0,
    timeout_s: 60,
};

/// Suite "regs" (root-test/reg_leaks.rs): registers planted by one owner
/// of CPU 3 (root or reg-plant cell) are not seen by the next (reg-probe
/// cell or the root), in all four directions of a hand-over, and by
/// PSCI CPU_ON inside a non-root cell (reg-smp).
const REGS_TEST: SysTest = SysTest {
    name: "root-regs",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "regs/test-reg-plant.cell", path: "configs/test-reg-plant.cell" },
        BundleFile { name: "regs/reg-plant.bin", path: "inmates/reg-plant.bin" },
        BundleFile { name: "regs/test-reg-probe.cell", path: "configs/test-reg-probe.cell" },
        BundleFile { name: "regs/reg-probe.bin", path: "inmates/reg-probe.bin" },
        BundleFile { name: "regs/test-reg-smp.cell", path: "configs/test-reg-smp.cell" },
        BundleFile { name: "regs/reg-smp.bin", path: "inmates/reg-smp.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] regs: root plant's registers read back as planted"),
        expect(r"reg-probe: 0 leaks"),
        expect(r"\[PASS\] regs: root -> cell: probe cell sees 0 leaks"),
        expect(r"reg-plant: \d+ system registers planted"),
        expect(r"\[PASS\] regs: plant cell's registers read back as planted"),
        expect(r"reg-probe: 0 leaks"),
        expect(r"\[PASS\] regs: cell -> cell: probe cell sees 0 leaks"),
        expect(r"\[PASS\] regs: cell -> root: root CPU 3 sees 0 leaks"),
        expect(r"\[PASS\] regs: root -> root: root CPU 3 sees 0 leaks"),
        expect(r"reg-smp: 0 leaks"),
        expect(r"\[PASS\] regs: CPU_ON inside a cell: reg-smp sees 0 leaks"),
        ROOT_TEST_PASSED,
    ],
    forbid: &[": leak "],
    exit_status: 0,
    timeout_s: 90,
};

/// Suite "subpage" (root-test/subpage.rs): subpage-demo prints through a
/// PL011 its cell has only as two sub-page regions; a forbidden offset,
/// width, unaligned access and a write to the read-only region each fail
/// the cell (with the hypervisor's reason), the root goes on; create and
/// destroy give the EL2 windows back.
const SUBPAGE_TEST: SysTest = SysTest {
    name: "root-subpage",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "subpage/subpage-uart.cell", path: "configs/subpage-uart.cell" },
        BundleFile { name: "subpage/subpage-demo.bin", path: "inmates/subpage-demo.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"subpage-demo: hello through sub-page regions"),
        expect(r"subpage-demo: FR byte 0x[0-9a-f]+ word 0x[0-9a-f]+, low bytes agree: true"),
        expect(r"subpage-demo: allowed accesses done"),
        expect(r"\[PASS\] subpage: allowed accesses, cell powers itself off"),
        expect(r"subpage-demo: mode offset"),
        expect(r"unhandled read of 4 bytes at IPA 0x9000030\b"),
        expect(r"\[PASS\] subpage: offset outside the regions fails the cell"),
        expect(r"subpage-demo: mode width"),
        expect(r"2-byte read at offset 0x0 of sub-page region 0x9000018\+0x8 .*refused: access width not permitted"),
        expect(r"\[PASS\] subpage: 16-bit access without IO_16 fails the cell"),
        expect(r"subpage-demo: mode unaligned"),
        expect(r"4-byte read at offset 0x1 of sub-page region 0x9000018\+0x8 .*refused: unaligned access not permitted"),
        expect(r"\[PASS\] subpage: unaligned access fails the cell"),
        expect(r"subpage-demo: mode readonly"),
        expect(r"4-byte write at offset 0x0 of sub-page region 0x9000018\+0x8 .*refused: direction not permitted"),
        expect(r"\[PASS\] subpage: write to the read-only region fails the cell"),
        expect(r"refused \(resource busy\): memory 0x9000000-0x9000008 belongs to cell \d+"),
        expect(r"\[PASS\] subpage: second cell on the same registers is EBUSY"),
        expect(r"\[PASS\] subpage: second cell accepted once the first is gone"),
        expect(r"\[PASS\] subpage: create/destroy cycles give the EL2 windows back"),
        expect(r"\[PASS\] subpage: pool and cell count as before after the cycles"),
        ROOT_TEST_PASSED,
    ],
    forbid: &["subpage-demo: survived"],
    exit_status: 0,
    timeout_s: 90,
};

/// Suite "rootsub" (root-test/root_subpage.rs) on qemu-virt-subpage.cell,
/// where the root has its PL011 only as two sub-page regions: every line
/// root-test prints is trapped and forwarded; what the regions do not
/// allow comes back to the root as an external abort.
const ROOT_SUBPAGE_TEST: SysTest = SysTest {
    name: "root-subpage-root",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt-subpage.cell",
    },
    bundle: &[BundleFile { name: "mode:rootsub", path: "configs/uart-demo.cell" }],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"rootsub: this line goes through the hypervisor"),
        expect(r"\[PASS\] rootsub: root prints through its sub-page UART"),
        expect(r"root cell: read at IPA 0x9000030 .*reflected as an external abort"),
        expect(r"\[PASS\] rootsub: root read outside its sub-page regions aborts"),
        expect(r"8-byte read at offset 0x0 of sub-page region 0x9000018\+0x8 .*refused: access width not permitted"),
        expect(r"\[PASS\] rootsub: root 64-bit read of the flag register aborts"),
        expect(r"rootsub: root still prints after the refused accesses"),
        ROOT_TEST_PASSED,
    ],
    forbid: &[],
    exit_status: 0,
    timeout_s: 60,
};

/// Both counts of a line (captures 1 and 2) above zero.
fn both_positive(caps: &[String]) -> Result<(), String> {
    let n = |i: usize| caps.get(i).and_then(|c| c.parse::<u64>().ok()).unwrap_or(0);
    if n(1) > 0 && n(2) > 0 {
        Ok(())
    } else {
        Err(format!("both outcomes must occur: {:?}", caps.first()))
    }
}

/// Suite "race" (root-test/cpu_race.rs, issue 12 finding 9): CPU 0
/// creates and destroys a cell on CPU 2 while CPU 1 calls PSCI CPU_ON of
/// CPU 2 in a loop; CPU 2 never runs root code while the cell exists,
/// CPU_ON fails then, a lost create is -EBUSY, and both outcomes occur.
const CPU_RACE_TEST: SysTest = SysTest {
    name: "root-cpu-race",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[BundleFile { name: "race/test-crash.cell", path: "configs/test-crash.cell" }],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        Expect {
            regex: r"race: \d+ iterations in \d+ ms: (\d+) created, (\d+) EBUSY, 0 other",
            check: Some(both_positive),
        },
        Expect {
            regex: r"race: CPU_ON of CPU 2: (\d+) started, \d+ already on/pending, \d+ denied \(claimed\), (\d+) invalid, 0 other",
            check: Some(both_positive),
        },
        expect(r"\[PASS\] race: CPU 2 ran no root code while its cell existed"),
        expect(r"\[PASS\] race: root CPU_ON of CPU 2 while its cell existed is INVALID_PARAMETERS"),
        expect(r"\[PASS\] race: both outcomes occurred \(create won and lost\)"),
        expect(r"\[PASS\] race: pool and cell count as at the start"),
        expect(r"\[PASS\] race: root starts CPU 2 after the race"),
        ROOT_TEST_PASSED,
    ],
    // A CPU started in the created (never started) cell would fail there.
    forbid: &["CPU 2 of cell", "reflected as an external abort"],
    exit_status: 0,
    timeout_s: 60,
};

/// Suite "race", destroy part (root-test/destroy_race.rs): cpu-on-loop
/// (CPUs 2-3) keeps its CPU 3 calling PSCI CPU_ON of its CPU 2 while the
/// root destroys it at random moments: no cell CPU may run after destroy
/// (cell code, or anything in the root's context), and the root gets
/// both CPUs back working.
const DESTROY_RACE_TEST: SysTest = SysTest {
    name: "root-destroy-race",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "race/test-smp.cell", path: "configs/test-smp.cell" },
        BundleFile { name: "race/cpu-on-loop.bin", path: "inmates/cpu-on-loop.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"cpu-on-loop: CPU 3 loops CPU_ON of CPU 2: 0"),
        expect(r"\[PASS\] race: destroy: the cell's CPU_ON loop ran before each destroy"),
        expect(r"\[PASS\] race: destroy: no cell CPU runs after its cell's destroy"),
        expect(r"\[PASS\] race: destroy: pool and cell count as at the start"),
        expect(r"\[PASS\] race: destroy: root starts CPUs 2 and 3 afterwards"),
        ROOT_TEST_PASSED,
    ],
    // A cell CPU that escaped the destroy faults in the root's context or
    // in the next cell.
    forbid: &["CPU 2 of cell", "CPU 3 of cell", "reflected as an external abort"],
    exit_status: 0,
    timeout_s: 60,
};

/// Suite "exhaust" (root-test/exhaustion.rs) on the machine with the most
/// CPUs its GIC allows: cells (one per CPU) until the page pool, then the
/// heap, runs out; -ENOMEM each time, all given back. GICv3: 16 CPUs
/// (qemu-virt-16cpu.cell). GICv2 (`--gic 2`): 8 CPUs
/// (qemu-virt-gicv2-8cpu.cell), since a GICv2 addresses CPU interfaces
/// 0-7 only and QEMU refuses more; 7 cells instead of 15 can be created,
/// and each resource must still run out before the CPUs do.
const EXHAUST_TEST: SysTest = SysTest {
    name: "root-exhaust-16cpu",
    boot: Boot::Custom(exhaust_args),
    bundle: &[],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] exhaust: pool exhaustion is ENOMEM"),
        expect(r"\[PASS\] exhaust: pool given back after pool exhaustion"),
        expect(r"\[PASS\] exhaust: heap exhaustion is ENOMEM"),
        expect(r"\[PASS\] exhaust: everything given back after heap exhaustion"),
        expect(r"\[PASS\] exhaust: create works after exhaustion"),
        ROOT_TEST_PASSED,
    ],
    forbid: &[],
    exit_status: 0,
    timeout_s: 120,
};

/// Boot-first root-test on `-smp 16` with qemu-virt-16cpu.cell (GICv2:
/// `-smp 8` with qemu-virt-gicv2-8cpu.cell) and the suite's bundle
/// (Boot::First always uses 4 CPUs).
fn exhaust_args(ctx: &Ctx) -> Result<Vec<String>> {
    let images = ctx.paths.images();
    let (config, smp) = if crate::qemu::gic() == 2 {
        ("configs/qemu-virt-gicv2-8cpu.cell", "8")
    } else {
        ("configs/qemu-virt-16cpu.cell", "16")
    };
    let boot = crate::qemu::BootFirst {
        hv_image: images.join("syshyper.bin"),
        system_config: images.join(config),
        root_program: Some(images.join("inmates/root-test.bin")),
        bundle: vec![
            ("exhaust/uart-demo.cell".into(), images.join("configs/uart-demo.cell")),
            ("mode:exhaust".into(), images.join("configs/uart-demo.cell")),
        ],
        ..Default::default()
    };
    let mut args = crate::qemu::machine_args();
    if let Some(i) = args.iter().position(|a| a == "-smp") {
        args[i + 1] = smp.into();
    }
    args.extend(boot.qemu_args(&ctx.workdir)?);
    Ok(args)
}

/// Files of the isolation suite: the hostile/victim program and configs.
const ISOLATION_FILES: &[BundleFile] = &[
    BundleFile { name: "hostile-cell.bin", path: "inmates/hostile-cell.bin" },
    BundleFile { name: "hostile.cell", path: "configs/hostile-cell.cell" },
    BundleFile { name: "victim.cell", path: "configs/victim-cell.cell" },
    // Every attack again with direct interrupt delivery.
    BundleFile { name: "hostile-direct.cell", path: "configs/hostile-cell-direct.cell" },
];

/// Attacks of hostile cells next to a victim cell, bad management calls,
/// a config rewritten during CELL_CREATE; ends with the attack table.
const ISOLATION_TEST: SysTest = SysTest {
    name: "isolation",
    boot: Boot::First {
        root: "inmates/isolation-root.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: ISOLATION_FILES,
    start_bundle_cells: false,
    interact: None,
    expect: &[
        // The victim and the root share the UART, so one line of the victim
        // can come out interleaved with the root's; its repeated tick lines
        // (and the root's checksum checks through shared memory) show it.
        expect(r"victim: tick \d+ memory intact"),
        expect(r"\| attack \| expected \| observed \|"),
        ROOT_TEST_PASSED,
    ],
    forbid: &["CORRUPTED"],
    exit_status: 0,
    timeout_s: 120,
};

/// 1000 create/load/start/destroy cycles; any hypervisor line above info
/// level fails the test. The `mode:accounting` entry selects the mode (its
/// content is not read).
const ISOLATION_ACCOUNTING_TEST: SysTest = SysTest {
    name: "isolation-accounting",
    boot: Boot::First {
        root: "inmates/isolation-root.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "hostile-cell.bin", path: "inmates/hostile-cell.bin" },
        BundleFile { name: "hostile.cell", path: "configs/hostile-cell.cell" },
        BundleFile { name: "victim.cell", path: "configs/victim-cell.cell" },
        BundleFile { name: "mode:accounting", path: "configs/victim-cell.cell" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[expect(r"accounting: 1000 cycles, pool used \d+"), ROOT_TEST_PASSED],
    forbid: &["[WARN", "[ERROR"],
    exit_status: 0,
    timeout_s: 120,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_regexes_compile() {
        let mut names: Vec<_> = SYSTEM_TESTS.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SYSTEM_TESTS.len());
        for t in SYSTEM_TESTS {
            for e in t.expect {
                regex::Regex::new(e.regex).unwrap();
            }
        }
    }

    #[test]
    fn some_passed_wants_a_positive_count() {
        assert!(some_passed(&["x".into(), "3".into()]).is_ok());
        assert!(some_passed(&["x".into(), "0".into()]).is_err());
        assert!(some_passed(&["x".into()]).is_err());
    }

    #[test]
    fn both_positive_wants_two_positive_counts() {
        assert!(both_positive(&["x".into(), "3".into(), "1".into()]).is_ok());
        assert!(both_positive(&["x".into(), "3".into(), "0".into()]).is_err());
        assert!(both_positive(&["x".into(), "0".into(), "5".into()]).is_err());
        assert!(both_positive(&["x".into(), "4".into()]).is_err());
    }
}

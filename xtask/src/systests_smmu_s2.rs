//! The SMMUv3 tests once more, on a QEMU whose SMMU has stage 2
//! (`qemu_bpo`: QEMU 10 from bookworm-backports; Debian's 7.2, which
//! `root-smmu` and `root-passthru-smmu` run on, has stage 1 only, and
//! there the driver translates DMA through a stage-1 copy of each
//! cell's stage 2). Here the driver must pick stage 2 (it says so) and
//! every stream's STE points at its owner's own stage-2 table with the
//! owner's VMID; the same attacks are blocked by stage-2 faults, named
//! per cell from the event queue.
//!
//! One boot runs both suites of root-test: "passthru" with its SMMU
//! attacks (edu at 00:05.0 handed to the dma-test cell, DMA at root data,
//! another cell's RAM and the hypervisor's header), then "smmu" (the
//! root's edu 00:01.0 confined to root memory, 00:02.0 handed to
//! smmu-cell and back, 100 hand-overs).

use crate::harness::Ctx;
use crate::qemu::{self, BootFirst};
use crate::systests::{Boot, BundleFile, Expect, SysTest, ROOT_TEST_PASSED};
use anyhow::Result;

const fn expect(regex: &'static str) -> Expect {
    Expect { regex, check: None }
}

const BUNDLE: &[BundleFile] = &[
    BundleFile { name: "mode:passthru", path: "configs/test-passthru.cell" },
    BundleFile { name: "mode:passthru-smmu", path: "configs/test-passthru.cell" },
    BundleFile { name: "passthru/test-passthru.cell", path: "configs/test-passthru.cell" },
    BundleFile { name: "passthru/dma-test.bin", path: "inmates/dma-test.bin" },
    BundleFile { name: "passthru/uart-demo.cell", path: "configs/uart-demo.cell" },
    BundleFile { name: "passthru/uart-demo.bin", path: "inmates/uart-demo.bin" },
    BundleFile { name: "smmu/smmu-cell.cell", path: "configs/smmu-cell.cell" },
    BundleFile { name: "smmu/smmu-holder.cell", path: "configs/smmu-holder.cell" },
    BundleFile { name: "smmu/smmu-refused.cell", path: "configs/smmu-refused.cell" },
];

/// QEMU virt with the SMMU and all three edu devices: 00:01.0 and
/// 00:02.0 of `root-smmu` (`qemu::with_smmu`), 00:05.0 of
/// `root-passthru-smmu`.
fn args(ctx: &Ctx) -> Result<Vec<String>> {
    let images = ctx.paths.images();
    let boot = BootFirst {
        hv_image: images.join("syshyper.bin"),
        system_config: images.join("configs/qemu-virt-smmu.cell"),
        root_program: Some(images.join("inmates/root-test.bin")),
        bundle: BUNDLE.iter().map(|f| (f.name.to_string(), images.join(f.path))).collect(),
        ..BootFirst::default()
    };
    let mut args = qemu::machine_args_for(3);
    qemu::with_smmu(&mut args);
    args.extend(["-device".to_string(), "edu,addr=05.0,dma_mask=0xffffffffffffffff".to_string()]);
    args.extend(boot.qemu_args(&ctx.workdir)?);
    Ok(args)
}

pub const ROOT_SMMU_S2: SysTest = SysTest {
    name: "root-smmu-s2",
    boot: Boot::Backports(args),
    bundle: BUNDLE,
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"SMMUv3 at 0x9050000: stage 2 \(shared with the CPUs\)"),
        expect(r"SMMU: root streams \[8, 10, 28\] translate through"),
        // Suite "passthru" with its attacks.
        expect(r"\[PASS\] passthru: the root sees edu at 00:05\.0"),
        expect(r"PCI device 00:05\.0 passed through, its DMA confined to the cell's memory by the SMMU \(stream 0x28\)"),
        expect(r"\[PASS\] dma-test: the copy's checksum is the original's"),
        // uart-demo, running, prints on the same UART and may split one
        // of the hypervisor's lines: each attack prints two events (the
        // first two words), either may be the one matched.
        expect(r"SMMU: F_TRANSLATION stream 0x28 \(00:05\.0\) write address 0x4[0-9a-f]{7}, owner cell \d+, stage 2"),
        expect(r"SMMU: F_TRANSLATION stream 0x28 \(00:05\.0\) write address 0x7fa0000[04], owner cell \d+, stage 2"),
        expect(r"SMMU: F_TRANSLATION stream 0x28 \(00:05\.0\) write address 0x7fc0000[04], owner cell \d+, stage 2"),
        expect(r"dma-test: still running after the stray DMA"),
        expect(r"dma-test: \d+ passed, 0 failed"),
        expect(r"\[PASS\] passthru: DMA into root memory blocked: the root's data is intact"),
        expect(r"\[PASS\] passthru: DMA into hypervisor memory blocked: its header is intact"),
        expect(r"\[PASS\] passthru: the cell kept running through its blocked DMA"),
        expect(r"\[PASS\] passthru: DMA into another cell's memory blocked: its RAM still holds its image"),
        expect(r"\[PASS\] passthru: pool usage and cell count unchanged after 100 assign/unassign cycles"),
        // Suite "smmu".
        expect(r"\[PASS\] smmu: root edu copies within root memory \(checksum\)"),
        // The root may read the header page: its stage 2 maps it
        // read-only, so the write is a stage-2 permission fault.
        expect(r"SMMU: F_PERMISSION stream 0x8 \(00:01\.0\) write address 0x7fc00000, owner cell 0, stage 2"),
        expect(r"\[PASS\] smmu: DMA write into hypervisor memory blocked \(header intact\)"),
        expect(r"SMMU: F_TRANSLATION stream 0x8 \(00:01\.0\) read address 0x7fc02000, owner cell 0, stage 2"),
        expect(r"\[PASS\] smmu: DMA read of hypervisor memory returns no hypervisor bytes"),
        expect(r"\[PASS\] smmu: edu 00:02.0 copies for the root"),
        expect(r"SMMU: F_TRANSLATION stream 0x10 \(00:02\.0\) write address 0x[0-9a-f]+, owner cell [1-9]\d*, stage 2"),
        expect(r"\[PASS\] smmu: a cell's device cannot write root memory"),
        expect(r"\[PASS\] smmu: the fault is recorded for the cell"),
        expect(r"\[PASS\] smmu: edu 00:02.0 copies for the root again"),
        expect(r"\[PASS\] smmu: 100 stream hand-over cycles keep the pool constant"),
        expect(r"\[PASS\] smmu: refused creates keep the pool constant"),
        expect(r"\[PASS\] smmu: the pool is back where it was before the holder"),
        ROOT_TEST_PASSED,
    ],
    forbid: &["command queue stuck", "not confirmed", "C_BAD_STE", "C_BAD_CD", "stage 1 (DMA mirror", ", stage 1", "WITHOUT an SMMU"],
    exit_status: 0,
    timeout_s: 90,
};

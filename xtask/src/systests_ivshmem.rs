//! System test of ivshmem in boot-first mode: root-test (peer 0 of link
//! 0001:00:00.0) against the ivshmem-demo cell (peer 1), suite
//! inmates/src/bin/root-test/ivshmem.rs.

use crate::systests::{Boot, BundleFile, Expect, SysTest};

const fn expect(regex: &'static str) -> Expect {
    Expect { regex, check: None }
}

/// Arrival, hello both ways, 1000 checked round trips, departure, 100
/// create/destroy cycles, doorbells to absent peers, hostile writes.
pub const ROOT_IVSHMEM: SysTest = SysTest {
    name: "root-ivshmem",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[
        BundleFile { name: "ivshmem/ivshmem-demo.cell", path: "configs/ivshmem-demo.cell" },
        BundleFile { name: "ivshmem/ivshmem-demo.bin", path: "inmates/ivshmem-demo.bin" },
    ],
    start_bundle_cells: false,
    interact: None,
    expect: &[
        expect(r"\[PASS\] ivshmem: root's 00:00\.0 is ID 0 of 3 with the configured sections"),
        expect(r"\[PASS\] ivshmem: root's INTx is INTID 128 \(156 on a GICv2\)"),
        expect(r"IVSHMEM: found device 00:00\.0 \(protocol 0x0000\), bar0 at 0x8f00000"),
        expect(r"IVSHMEM: ID is 1, max\. peers is 3"),
        expect(r"IVSHMEM: state table 0x7faf0000 \(4096 bytes\), R/W section 0x7faf1000 \(36864 bytes\), output sections 8192 bytes, own at 0x7fafc000"),
        expect(r"IVSHMEM: INTx is INTID 144"),
        expect(r"IVSHMEM: peer 0 state 0 -> 1"),
        expect(r"\[PASS\] ivshmem: cell's state table entry becomes ID \+ 1"),
        expect(r"\[PASS\] ivshmem: root gets its INTx for the cell's state change"),
        expect(r"\[PASS\] ivshmem: cell's hello text in its output section"),
        expect(r"IVSHMEM: peer 0: Hello from peer 0, message 1"),
        expect(r"\[PASS\] ivshmem: cell answers the root's hello"),
        expect(r"IVSHMEM: pong 100\b"),
        expect(r"IVSHMEM: pong 1000\b"),
        expect(r"ivshmem-demo: 1000 round trips, 0 errors"),
        expect(r"\[PASS\] ivshmem: 1000 round trips, every PONG's sum matches"),
        expect(r"\[PASS\] ivshmem: root took an INTx for every PONG"),
        expect(r"\[PASS\] ivshmem: destroy sets the cell's state table entry to 0"),
        expect(r"\[PASS\] ivshmem: root gets its INTx when the cell goes away"),
        expect(r"\[PASS\] ivshmem: 100 create/destroy cycles"),
        expect(r"\[PASS\] ivshmem: cycles keep pool use and cell count"),
        expect(r"IVSHMEM: bad-doorbell: rang 6 doorbells nobody may get"),
        expect(r"IVSHMEM: bad-doorbell: ringing peer 0 \(control\)"),
        expect(r"\[PASS\] ivshmem: doorbells to absent peers and vector 1 reach nobody, the control does"),
        expect(r"\[PASS\] ivshmem: bad doorbells leave the cell running"),
        expect(r"IVSHMEM: writing peer 0's output section at 0x7fafa000"),
        expect(r"ivshmem: hostile-out: cell state 3\b"),
        expect(r"\[PASS\] ivshmem: hostile cell fails"),
        expect(r"\[PASS\] ivshmem: root's output section unchanged"),
        expect(r"\[PASS\] ivshmem: failed cell's state table entry is 0"),
        expect(r"IVSHMEM: writing the state table at 0x7faf0000"),
        expect(r"ivshmem: hostile-state: cell state 3\b"),
        expect(r"\[PASS\] ivshmem: hostile cell fails"),
        expect(r"\[PASS\] ivshmem: root's state table entry unchanged"),
        expect(r"\[PASS\] ivshmem: failed cell's state table entry is 0"),
        expect(r"\[PASS\] ivshmem: hostile cell leaves usage unchanged"),
        expect(r"root-test: (\d+) passed, 0 failed"),
    ],
    forbid: &["IVSHMEM: survived", "IVSHMEM: bad ping", "reflected as an external abort"],
    exit_status: 0,
    timeout_s: 180,
};

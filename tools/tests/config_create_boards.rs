//! `config create` on device trees of real boards, compared with reviewed
//! expected files (tools/tests/boards/). The .dtb files are Debian's (the
//! arm64 kernel package ships them) and are not in this repository:
//! `cargo xtask test config-create-boards` unpacks that package and runs
//! this test with SYSHYPER_DTB_DIR pointing at its dtbs folder
//! (usr/lib/linux-image-<abi>/). SYSHYPER_BLESS=1 rewrites the expected
//! files (review the diff!).

use std::path::{Path, PathBuf};
use std::process::Command;

struct Case {
    /// Expected file in tools/tests/boards/.
    name: &'static str,
    dtb: &'static str,
    /// Firmware fills in some nodes at boot; the same edits, by fdtput.
    fdtput: &'static [&'static str],
    args: &'static [&'static str],
}

const CASES: &[Case] = &[
    // GICv2 (GIC-400 with 64 KiB-aliased CPU interface), xuartps console,
    // two RAM banks.
    Case { name: "zcu102", dtb: "xilinx/zynqmp-zcu102-rev1.0.dtb", fdtput: &[], args: &["--mem-reserve", "256M"] },
    // A cell on the same board: UART1 (alias serial1) and its SPI.
    Case {
        name: "zcu102-cell",
        dtb: "xilinx/zynqmp-zcu102-rev1.0.dtb",
        fdtput: &[],
        args: &["--mem-reserve", "256M", "--cell", "uart1-demo", "--cpus", "2-3", "--mem", "64M", "--device", "serial1"],
    },
    // GICv2 behind a bus with `ranges` (0x7e... -> 0xfe...), 8250 mini UART
    // console. The firmware writes /memory@0's reg (here: a 4 GiB board).
    Case {
        name: "rpi4",
        dtb: "broadcom/bcm2711-rpi-4-b.dtb",
        fdtput: &["-t", "x", "/memory@0", "reg", "0", "0", "0x3b400000", "0", "0x40000000", "0xbc000000", "1", "0", "0x40000000"],
        args: &["--mem-reserve", "256M"],
    },
    // GICv3, i.MX UART console, no-map reserved memory, a kernel told mem=.
    Case { name: "imx8mp-evk", dtb: "freescale/imx8mp-evk.dtb", fdtput: &[], args: &["--cmdline", "console=ttymxc1 mem=5888M"] },
    Case {
        name: "imx8mp-evk-cell",
        dtb: "freescale/imx8mp-evk.dtb",
        fdtput: &[],
        args: &["--cmdline", "mem=5888M", "--cell", "uart4-demo", "--cpus", "3", "--mem", "128M@0x1b0000000", "--device", "serial3"],
    },
];

fn expected_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/boards")
}

#[test]
#[ignore = "needs Debian's dtbs: cargo xtask test config-create-boards"]
fn config_create_matches_reviewed_files_for_real_boards() {
    let dir = PathBuf::from(std::env::var_os("SYSHYPER_DTB_DIR").expect("SYSHYPER_DTB_DIR: the dtbs folder of Debian's arm64 kernel package"));
    let scratch = std::env::temp_dir().join(format!("syshyper-boards-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let bless = std::env::var_os("SYSHYPER_BLESS").is_some();
    let mut failures = Vec::new();
    for case in CASES {
        let src = dir.join(case.dtb);
        assert!(src.is_file(), "{} is missing", src.display());
        let dtb = scratch.join(format!("{}.dtb", case.name));
        std::fs::copy(&src, &dtb).unwrap();
        if !case.fdtput.is_empty() {
            let st = Command::new("fdtput").arg(&dtb).args(case.fdtput).status().expect("fdtput (device-tree-compiler) runs");
            assert!(st.success(), "fdtput {:?}", case.fdtput);
        }
        let out = Command::new(env!("CARGO_BIN_EXE_syshyper"))
            .args(["config", "create", "--dtb"])
            .arg(&dtb)
            .args(case.args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}: {}", case.name, String::from_utf8_lossy(&out.stderr));
        let got = String::from_utf8(out.stdout).unwrap();
        // What the tool wrote must pass `config check`: a cell together with
        // the system configuration of its board (the case before it).
        let toml = scratch.join(format!("{}.toml", case.name));
        std::fs::write(&toml, &got).unwrap();
        let cell = scratch.join(format!("{}.cell", case.name));
        let st = Command::new(env!("CARGO_BIN_EXE_syshyper")).args(["config", "compile"]).arg(&toml).arg("-o").arg(&cell).status().unwrap();
        assert!(st.success(), "{}: config compile", case.name);
        let system = if case.args.contains(&"--cell") {
            let board = case.name.trim_end_matches("-cell");
            vec![scratch.join(format!("{board}.cell")), cell.clone()]
        } else {
            vec![cell.clone()]
        };
        let check = Command::new(env!("CARGO_BIN_EXE_syshyper")).args(["config", "check"]).args(&system).output().unwrap();
        assert!(check.status.success(), "{}: config check: {}", case.name, String::from_utf8_lossy(&check.stderr));
        let want_path = expected_dir().join(format!("{}.toml", case.name));
        if bless {
            std::fs::write(&want_path, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&want_path).unwrap_or_default();
        if got != want {
            let got_path = scratch.join(format!("{}.toml", case.name));
            std::fs::write(&got_path, &got).unwrap();
            failures.push(format!("{}: output differs, diff {} {}", case.name, want_path.display(), got_path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! `syshyper config compile|show|check` as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_syshyper"))
}

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("syshyper-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("syshyper runs")
}

fn compile(toml: &Path, out: &Path) {
    let o = run(bin()
        .args(["config", "compile"])
        .arg(toml)
        .arg("-o")
        .arg(out));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn compile_show_compile_is_byte_exact() {
    let dir = scratch("roundtrip");
    for name in [
        "qemu-virt",
        "qemu-virt-16cpu",
        "gic-demo",
        "uart-demo",
        "linux-demo",
    ] {
        let cell = dir.join(format!("{name}.cell"));
        compile(&configs().join(format!("{name}.toml")), &cell);
        let shown = dir.join(format!("{name}.shown.toml"));
        let o = run(bin()
            .args(["config", "show"])
            .arg(&cell)
            .arg("-o")
            .arg(&shown));
        assert!(o.status.success());
        let again = dir.join(format!("{name}.again.cell"));
        compile(&shown, &again);
        assert_eq!(
            std::fs::read(&cell).unwrap(),
            std::fs::read(&again).unwrap(),
            "{name}"
        );
        // show to stdout prints the same text.
        let o = run(bin().args(["config", "show"]).arg(&cell));
        assert_eq!(o.stdout, std::fs::read(&shown).unwrap());
    }
}

#[test]
fn check_accepts_compatible_and_rejects_conflicting_cells() {
    let dir = scratch("check");
    for name in ["qemu-virt", "gic-demo", "uart-demo", "linux-demo"] {
        compile(
            &configs().join(format!("{name}.toml")),
            &dir.join(format!("{name}.cell")),
        );
    }
    let o = run(bin()
        .args(["config", "check"])
        .arg(dir.join("qemu-virt.cell"))
        .arg(dir.join("gic-demo.cell"))
        .arg(dir.join("linux-demo.cell")));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));

    let o = run(bin()
        .args(["config", "check"])
        .arg(dir.join("qemu-virt.cell"))
        .arg(dir.join("gic-demo.cell"))
        .arg(dir.join("uart-demo.cell")));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 4, "{err}");
    assert!(
        lines[0].contains("uart-demo.cell: cpu_set[1]: CPU 1 is also assigned to"),
        "{err}"
    );
    assert!(
        lines[1].contains("memory_regions[0]: phys 0x7fa00000-0x7fa10000 overlaps"),
        "{err}"
    );
    assert!(
        lines[2].contains("irqchips[0]: INTID 144 is also granted to"),
        "{err}"
    );
    assert!(lines[3].contains("3 error(s), 0 warning(s)"), "{err}");
}

#[test]
fn bad_files_give_one_line_and_failure() {
    let dir = scratch("bad");
    let cell = dir.join("gic-demo.cell");
    compile(&configs().join("gic-demo.toml"), &cell);
    let mut bytes = std::fs::read(&cell).unwrap();
    bytes[6] = 13; // revision
    let bad = dir.join("bad.cell");
    std::fs::write(&bad, &bytes).unwrap();
    // As a system file it is the wrong kind; as a cell its revision is wrong.
    let o = run(bin().args(["config", "check"]).arg(&bad));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.cell: header: signature JHCLL found, JHSYS expected"),
        "{err}"
    );
    let sys = dir.join("qemu-virt.cell");
    compile(&configs().join("qemu-virt.toml"), &sys);
    let o = run(bin().args(["config", "check"]).arg(&sys).arg(&bad));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.cell: header: revision 13 found, only revision 14 is supported"),
        "{err}"
    );
    let o = run(bin().args(["config", "show"]).arg(&bad));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("bad.cell: header: revision 13 found"), "{err}");

    let toml = dir.join("bad.toml");
    std::fs::write(&toml, "[cell]\nname = \"x\"\ncpus = \"1\"\n[[cell.memory]]\nphys = \"0x1000\"\nsize = 0\nflags = [\"read\"]\n").unwrap();
    let o = run(bin()
        .args(["config", "compile"])
        .arg(&toml)
        .arg("-o")
        .arg(dir.join("x.cell")));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("memory_regions[0]: zero-sized region (phys 0x1000, virt 0x1000)"),
        "{err}"
    );
    assert!(!dir.join("x.cell").exists());

    let o = run(bin().args(["config", "show"]).arg(dir.join("missing.cell")));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn warnings_pass_policy_errors_fail_and_show_prints_both() {
    let dir = scratch("severity");
    let sys = dir.join("qemu-virt.cell");
    compile(&configs().join("qemu-virt.toml"), &sys);
    // Memory outside every root region: Jailhouse runs it, so a warning
    // and exit 0.
    let warn_toml = dir.join("warn.toml");
    let warn_text = "[cell]\nname = \"warn\"\ncpus = \"1\"\n\
         [[cell.memory]]\nphys = \"0x100000000\"\nsize = \"4 KiB\"\nflags = [\"read\"]\n\
         [[cell.memory]]\nphys = \"0\"\nsize = 0\n\
         [[cell.memory]]\nphys = \"0\"\nsize = 0\n\
         [[cell.memory]]\nphys = \"0\"\nsize = 0\n";
    std::fs::write(&warn_toml, warn_text).unwrap();
    let warn = dir.join("warn.cell");
    compile(&warn_toml, &warn);
    let o = run(bin().args(["config", "check"]).arg(&sys).arg(&warn));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("warning: ")).count(),
        1,
        "{err}"
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("1 warning(s)"));

    // An ivshmem device with one peer (docs/ivshmem.md: 2..=16): the
    // hypervisor refuses the cell, so check fails and names the reason.
    let shm_toml = dir.join("shm.toml");
    std::fs::write(
        &shm_toml,
        format!(
            "{}[[cell.pci_device]]\ntype = \"ivshmem\"\nbdf = \"00:05.0\"\nbar_mask = [\"0xfffff000\", \"0\", \"0\", \"0\", \"0\", \"0\"]\nshmem_regions_start = 1\nshmem_dev_id = 0\nshmem_peers = 1\n",
            warn_text.replace("\"warn\"", "\"shm\"")
        ),
    )
    .unwrap();
    let shm = dir.join("shm.cell");
    compile(&shm_toml, &shm);
    let o = run(bin().args(["config", "check"]).arg(&sys).arg(&shm));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("shm.cell: pci_devices[0]: shmem_peers 1 is not in 2..=16"), "{err}");

    // Two overlapping regions in one cell: Jailhouse's checker fails, yet
    // the file is structurally valid and shown.
    let overlap_toml = dir.join("overlap.toml");
    std::fs::write(
        &overlap_toml,
        "[cell]\nname = \"overlap\"\ncpus = \"1\"\n\
         [[cell.memory]]\nphys = \"0x7fa00000\"\nsize = \"64 KiB\"\nflags = [\"read\"]\n\
         [[cell.memory]]\nphys = \"0x7fa08000\"\nsize = \"4 KiB\"\nflags = [\"read\", \"write\"]\n",
    )
    .unwrap();
    let overlap = dir.join("overlap.cell");
    compile(&overlap_toml, &overlap);
    let o = run(bin().args(["config", "show"]).arg(&overlap));
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("phys = \"0x7fa08000\""));
    let o = run(bin().args(["config", "check"]).arg(&sys).arg(&overlap));
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("error: ") && err.contains("overlap.cell: memory_regions[0]: physically and virtually overlaps memory_regions[1]"),
        "{err}"
    );
}

/// The board configurations (issue 16): the ZCU102 (tested on QEMU's model)
/// and the Raspberry Pi 4 (untested on hardware) pass `config check`, each
/// system config with its gic-demo cell and, separately, its uart-demo
/// cell (the two demos share CPU and RAM, as on virt, so together they are
/// refused: the check does look at the cells).
#[test]
fn rpi4_and_zcu102_configs_pass_check() {
    let dir = scratch("boards");
    for board in ["zcu102", "rpi4"] {
        let names = [board.to_string(), format!("{board}-gic-demo"), format!("{board}-uart-demo")];
        for name in &names {
            compile(&configs().join(format!("{name}.toml")), &dir.join(format!("{name}.cell")));
        }
        let cell = |n: &String| dir.join(format!("{n}.cell"));
        for demo in &names[1..] {
            let o = run(bin().args(["config", "check"]).arg(cell(&names[0])).arg(cell(demo)));
            assert!(o.status.success(), "{board} with {demo}: {}", String::from_utf8_lossy(&o.stderr));
        }
        let o = run(bin().args(["config", "check"]).arg(cell(&names[0])).arg(cell(&names[1])).arg(cell(&names[2])));
        assert_eq!(o.status.code(), Some(1), "{board}: both demos on one CPU must be refused");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("is also assigned to"), "{err}");
    }
}

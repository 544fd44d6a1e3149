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

/// A system config from `base` with `iommu` (TOML array-of-tables text
/// under [system]) and root `stream_ids`, compiled; returns `config show`.
fn show_with_iommu(name: &str, iommu: &str, stream_ids: &str) -> (String, PathBuf) {
    let dir = scratch(name);
    let base = std::fs::read_to_string(configs().join("qemu-virt.toml")).unwrap();
    let toml = base
        .replacen("[cell]\n", &format!("{iommu}\n[cell]\nstream_ids = {stream_ids}\n"), 1);
    let src = dir.join("in.toml");
    std::fs::write(&src, toml).unwrap();
    let cell = dir.join("in.cell");
    compile(&src, &cell);
    let o = run(bin().args(["config", "show"]).arg(&cell));
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (String::from_utf8(o.stdout).unwrap(), cell)
}

/// Shown text compiles back to the same bytes.
fn assert_round_trip(shown: &str, cell: &Path) {
    let dir = cell.parent().unwrap();
    let again_src = dir.join("again.toml");
    std::fs::write(&again_src, shown).unwrap();
    let again = dir.join("again.cell");
    compile(&again_src, &again);
    assert_eq!(std::fs::read(cell).unwrap(), std::fs::read(&again).unwrap());
}

#[test]
fn show_names_iommu_types_and_mmu500_stream_ids_as_jailhouse() {
    // Old names are still read; show prints Jailhouse's.
    let (shown, cell) = show_with_iommu(
        "iommu-mmu500",
        "[[system.iommu]]\ntype = \"arm_smmuv3\"\nbase = \"0x09050000\"\nsize = \"128 KiB\"\n\
         [[system.iommu]]\ntype = \"arm_mmu500\"\nbase = \"0x09060000\"\nsize = \"64 KiB\"\n\
         [[system.iommu]]\ntype = \"ti_pvu\"\nbase = \"0x09070000\"\nsize = \"4 KiB\"\n",
        "[{ id = \"0x1a\", mask_out = \"0x7f00\" }, 20]",
    );
    let golden = "[[system.iommu]]\ntype = \"smmuv3\"\nbase = \"0x09050000\"\nsize = \"128 KiB\"\n\n\
                  [[system.iommu]]\ntype = \"arm_mmu500\"\nbase = \"0x09060000\"\nsize = \"64 KiB\"\n\n\
                  [[system.iommu]]\ntype = \"pvu\"\nbase = \"0x09070000\"\nsize = \"4 KiB\"\n";
    assert!(shown.contains(golden), "{shown}");
    assert!(
        shown.contains(
            "[[cell.stream_ids]]\nid = \"0x0000001a\"\nmask_out = \"0x00007f00\"\n\n\
             [[cell.stream_ids]]\nid = \"0x00000014\"\nmask_out = \"0x00000000\"\n"
        ),
        "{shown}"
    );
    assert_round_trip(&shown, &cell);
}

#[test]
fn show_prints_plain_stream_ids_in_hex_without_mmu500() {
    let (shown, cell) = show_with_iommu(
        "iommu-smmuv3",
        "[[system.iommu]]\ntype = \"smmuv3\"\nbase = \"0x09050000\"\nsize = \"128 KiB\"\n\
         [[system.iommu]]\ntype = 7\nbase = \"0x09060000\"\nsize = \"4 KiB\"\n",
        "[\"0x1a\", 0x7f0014]",
    );
    assert!(shown.contains("type = \"smmuv3\""), "{shown}");
    // An unknown type stays a number.
    assert!(shown.contains("type = 7\n"), "{shown}");
    assert!(
        shown.contains("stream_ids = [\n    \"0x0000001a\",\n    \"0x007f0014\",\n]")
            || shown.contains("stream_ids = [\"0x0000001a\", \"0x007f0014\"]"),
        "{shown}"
    );
    assert_round_trip(&shown, &cell);
}

#[test]
fn mmu500_stream_id_halves_are_16_bits() {
    let dir = scratch("iommu-wide");
    let base = std::fs::read_to_string(configs().join("qemu-virt.toml")).unwrap();
    let toml = base.replacen("[cell]\n", "[cell]\nstream_ids = [{ id = \"0x10000\", mask_out = 0 }]\n", 1);
    let src = dir.join("in.toml");
    std::fs::write(&src, toml).unwrap();
    let o = run(bin().args(["config", "compile"]).arg(&src).arg("-o").arg(dir.join("x.cell")));
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("stream_ids[0].id"), "{}", String::from_utf8_lossy(&o.stderr));
}

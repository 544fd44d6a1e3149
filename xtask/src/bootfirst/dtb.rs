//! The device tree Linux gets in boot-first mode: QEMU's own tree (dumped
//! with `-machine dumpdtb=`) with a `/chosen` node that names the kernel
//! command line and the initramfs, since without `-kernel` QEMU adds neither.

use anyhow::{bail, Context, Result};
use std::path::Path;
use std::process::Command;

/// What `/chosen` must tell Linux.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chosen {
    pub bootargs: String,
    pub initrd_start: u64,
    pub initrd_end: u64,
}

/// A device tree property value of two 32-bit cells (64-bit address).
fn cells64(v: u64) -> String {
    format!("<{:#x} {:#x}>", v >> 32, v & 0xffff_ffff)
}

/// The properties added to `/chosen`, one per line, tab-indented for depth 2.
fn chosen_properties(c: &Chosen) -> Result<String> {
    if c.bootargs.contains(['"', '\\', '\n']) {
        bail!(
            "kernel command line {:?} must not contain quotes, backslashes or newlines",
            c.bootargs
        );
    }
    if c.initrd_end <= c.initrd_start {
        bail!(
            "empty initramfs range {:#x}..{:#x}",
            c.initrd_start,
            c.initrd_end
        );
    }
    Ok(format!(
        "\t\tbootargs = \"{}\";\n\t\tlinux,initrd-start = {};\n\t\tlinux,initrd-end = {};\n",
        c.bootargs,
        cells64(c.initrd_start),
        cells64(c.initrd_end)
    ))
}

/// Adds the `/chosen` properties to `dts` (dtc's source output of QEMU's
/// tree), creating the node when the tree has none. Refuses a tree that
/// already names a command line or an initramfs: two would be ambiguous.
pub fn patch_chosen(dts: &str, c: &Chosen) -> Result<String> {
    let props = chosen_properties(c)?;
    // dtc prints top-level nodes with one tab of indentation.
    let Some(node) = dts.find("\n\tchosen {\n") else {
        let end = dts
            .rfind("};")
            .context("device tree source has no closing `};` of the root node")?;
        return Ok(format!(
            "{}\tchosen {{\n{props}\t}};\n{}",
            &dts[..end],
            &dts[end..]
        ));
    };
    let body_start = node + "\n\tchosen {\n".len();
    let body_end = dts[body_start..]
        .find("\n\t};")
        .map(|e| body_start + e)
        .context("/chosen node is not closed")?;
    for taken in ["bootargs", "linux,initrd-start", "linux,initrd-end"] {
        if dts[body_start..body_end].contains(&format!("\t{taken} = ")) {
            bail!("QEMU's device tree already has /chosen/{taken}");
        }
    }
    Ok(format!(
        "{}{props}{}",
        &dts[..body_start],
        &dts[body_start..]
    ))
}

fn dtc(args: &[&str], input: &Path, output: &Path) -> Result<()> {
    let out = Command::new("dtc")
        .args(args)
        .arg("-o")
        .arg(output)
        .arg(input)
        .output()
        .context("cannot run dtc (`cargo xtask setup` installs device-tree-compiler)")?;
    if !out.status.success() {
        bail!(
            "dtc {} {} failed: {}",
            args.join(" "),
            input.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Asks QEMU for the device tree it builds for `machine` (the -M/-cpu/-smp/-m
/// arguments of the real run), writing it to `out`.
pub fn dump_qemu_dtb(machine: &[String], out: &Path) -> Result<()> {
    let mut args = machine.to_vec();
    let m = args
        .iter()
        .position(|a| a == "-M" || a == "-machine")
        .and_then(|i| args.get_mut(i + 1))
        .context("QEMU arguments have no -M")?;
    m.push_str(&format!(",dumpdtb={}", out.display()));
    let _ = std::fs::remove_file(out);
    let res = crate::qemu::command(&args)
        .output()
        .context("cannot run qemu-system-aarch64")?;
    if !res.status.success() || !out.is_file() {
        bail!(
            "QEMU did not dump its device tree: {}",
            String::from_utf8_lossy(&res.stderr).trim()
        );
    }
    Ok(())
}

/// Builds `workdir/linux.dtb`: QEMU's tree for `machine` with `chosen` added.
pub fn build(machine: &[String], chosen: &Chosen, workdir: &Path) -> Result<std::path::PathBuf> {
    let qemu_dtb = workdir.join("qemu.dtb");
    let dts = workdir.join("linux.dts");
    let out = workdir.join("linux.dtb");
    dump_qemu_dtb(machine, &qemu_dtb)?;
    dtc(&["-q", "-I", "dtb", "-O", "dts"], &qemu_dtb, &dts)?;
    let text =
        std::fs::read_to_string(&dts).with_context(|| format!("cannot read {}", dts.display()))?;
    std::fs::write(&dts, patch_chosen(&text, chosen)?)
        .with_context(|| format!("cannot write {}", dts.display()))?;
    dtc(&["-q", "-I", "dts", "-O", "dtb"], &dts, &out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = "/dts-v1/;\n\n/ {\n\tmemory@40000000 {\n\t\treg = <0x00 0x40000000 0x00 0x40000000>;\n\t};\n\n\tchosen {\n\t\tstdout-path = \"/pl011@9000000\";\n\t};\n};\n";

    fn chosen() -> Chosen {
        Chosen {
            bootargs: "console=ttyAMA0 mem=768M".into(),
            initrd_start: 0x4c00_0000,
            initrd_end: 0x4c12_3456,
        }
    }

    #[test]
    fn adds_command_line_and_initrd_inside_the_existing_chosen_node() {
        let out = patch_chosen(TREE, &chosen()).unwrap();
        let node = &out[out.find("\tchosen {").unwrap()..];
        let node = &node[..node.find("\t};").unwrap()];
        assert!(
            node.contains("bootargs = \"console=ttyAMA0 mem=768M\";"),
            "{out}"
        );
        assert!(
            node.contains("linux,initrd-start = <0x0 0x4c000000>;"),
            "{out}"
        );
        assert!(
            node.contains("linux,initrd-end = <0x0 0x4c123456>;"),
            "{out}"
        );
        assert!(node.contains("stdout-path"), "{out}");
        assert!(
            out.contains("memory@40000000 {\n\t\treg = <0x00 0x40000000 0x00 0x40000000>;\n\t};")
        );
    }

    #[test]
    fn creates_chosen_when_missing_and_splits_high_addresses() {
        let tree = "/ {\n\tmemory@40000000 {\n\t};\n};\n";
        let c = Chosen {
            initrd_start: 0x1_2000_0000,
            initrd_end: 0x1_2000_1000,
            ..chosen()
        };
        let out = patch_chosen(tree, &c).unwrap();
        assert!(out.ends_with("\tchosen {\n\t\tbootargs = \"console=ttyAMA0 mem=768M\";\n\t\tlinux,initrd-start = <0x1 0x20000000>;\n\t\tlinux,initrd-end = <0x1 0x20001000>;\n\t};\n};\n"), "{out}");
    }

    #[test]
    fn refuses_ambiguous_or_malformed_input() {
        let taken = TREE.replace("\t\tstdout-path", "\t\tbootargs = \"x\";\n\t\tstdout-path");
        assert!(patch_chosen(&taken, &chosen()).is_err());
        assert!(patch_chosen(
            TREE,
            &Chosen {
                bootargs: "a\"b".into(),
                ..chosen()
            }
        )
        .is_err());
        assert!(patch_chosen(
            TREE,
            &Chosen {
                initrd_end: 0x4c00_0000,
                ..chosen()
            }
        )
        .is_err());
        assert!(patch_chosen("no tree", &chosen()).is_err());
        assert!(patch_chosen("/ {\n\tchosen {\n\t\tx;\n", &chosen()).is_err());
    }
}

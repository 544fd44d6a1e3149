//! `cargo xtask dist`: Debian packages of sysHyper for an arm64 board.
//!
//! - `syshyper` (arm64): the static tool `/usr/sbin/syshyper`, the
//!   `jailhouse` link to it, man pages and bash/zsh/fish completions
//!   generated from the tool's command-line definition;
//! - `syshyper-hypervisor` (arm64): the EL2 image at
//!   `/lib/firmware/syshyper.bin`, where the driver's request_firmware()
//!   finds it (its `firmware` parameter names the file), and the
//!   configurations (`.cell` and their `.toml` sources) and inmates under
//!   `/usr/lib/syshyper/{configs,inmates}`;
//! - `syshyper-dkms` (all): the driver's sources in
//!   `/usr/src/syshyper-VERSION` with a `dkms.conf`, built by DKMS for
//!   every kernel the board runs.
//!
//! Every package is checked after the build (`check`); `linux-demo` runs
//! the demo from the unpacked packages (`install_tree`).

pub mod check;
pub mod dkms;
pub mod docs;
pub mod package;

use crate::paths::Paths;
use anyhow::{bail, Context, Result};
use package::{Item, Package};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The packages' version: the workspace's.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Where configurations and inmates are installed.
pub const DATA_DIR: &str = "usr/lib/syshyper";
/// Where the driver looks for the image (request_firmware).
pub const FIRMWARE: &str = "lib/firmware/syshyper.bin";

/// What the packages are made of (built beforehand by `images::build_all`
/// and the musl build of the tool).
#[derive(Debug, Clone)]
pub struct Inputs {
    /// The static aarch64 tool (with debug info; stripped here).
    pub tool: PathBuf,
    pub hv_image: PathBuf,
    /// configs/ (the .toml sources).
    pub config_sources: PathBuf,
    /// target/images/configs (the .cell files).
    pub cells: PathBuf,
    /// target/images/inmates (the .bin files).
    pub inmates: PathBuf,
    /// driver/ (the kernel module's sources).
    pub driver: PathBuf,
}

impl Inputs {
    pub fn of(p: &Paths) -> Inputs {
        Inputs {
            tool: p.release_dir(Some(crate::images::MUSL_TARGET)).join("syshyper"),
            hv_image: p.images().join("syshyper.bin"),
            config_sources: p.root.join("configs"),
            cells: p.config_images(),
            inmates: p.inmate_images(),
            driver: p.root.join("driver"),
        }
    }
}

/// Files of `dir` whose name ends in `ext`, sorted.
fn files_with(dir: &Path, ext: &str) -> Result<Vec<PathBuf>> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n.to_string_lossy().ends_with(ext)))
        .collect();
    v.sort();
    Ok(v)
}

fn file_item(src: &Path, dest: String, exec: bool) -> Result<Item> {
    let data = std::fs::read(src).with_context(|| format!("cannot read {}", src.display()))?;
    Ok(Item::File { dest, data, exec })
}

fn name_of(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// `/usr/share/doc/<package>/copyright` (machine-readable format).
fn with_doc(pkg: &mut Package, what: &str, license: &str) {
    let text = format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: sysHyper\n\n\
         Files: *\n\
         Copyright: the sysHyper developers\n\
         License: {license}\n \
         {what}. The license texts are in /usr/share/common-licenses\n \
         (Apache-2.0, GPL-2) and at https://opensource.org/license/mit.\n"
    );
    pkg.items.push(Item::File { dest: format!("usr/share/doc/{}/copyright", pkg.name), data: text.into_bytes(), exec: false });
}

fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut child = Command::new("gzip")
        .args(["-9", "-n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("cannot run gzip (install gzip)")?;
    child.stdin.take().context("gzip stdin")?.write_all(data)?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("gzip failed with {}", out.status);
    }
    Ok(out.stdout)
}

/// The tool, stripped of its debug info (24 MB -> about 2 MB).
fn stripped_tool(tool: &Path, scratch: &Path) -> Result<Vec<u8>> {
    std::fs::create_dir_all(scratch)?;
    let out = scratch.join("syshyper.stripped");
    crate::cmd::run_quiet(
        Command::new("llvm-objcopy").arg("--strip-all").arg(tool).arg(&out),
        "strip the tool",
    )?;
    Ok(std::fs::read(&out)?)
}

/// The three packages, in memory.
pub fn packages(inp: &Inputs, scratch: &Path) -> Result<Vec<Package>> {
    let version = VERSION.to_string();

    let mut tool = Package {
        name: "syshyper".into(),
        arch: "arm64",
        version: version.clone(),
        depends: vec![],
        recommends: vec!["syshyper-hypervisor".into(), "syshyper-dkms".into()],
        section: "admin",
        summary: "sysHyper partitioning hypervisor: the syshyper/jailhouse tool".into(),
        description: "Enables the sysHyper hypervisor under the running Linux and manages\n\
                      its cells; answers as jailhouse too. Also compiles, shows and checks\n\
                      Jailhouse .cell configurations. Statically linked."
            .into(),
        items: vec![
            Item::File { dest: "usr/sbin/syshyper".into(), data: stripped_tool(&inp.tool, scratch)?, exec: true },
            Item::Link { dest: "usr/sbin/jailhouse".into(), target: "syshyper".into() },
        ],
        scripts: vec![],
    };
    let man_dir = scratch.join("man");
    if man_dir.exists() {
        std::fs::remove_dir_all(&man_dir)?;
    }
    for page in docs::man_pages(&man_dir, VERSION)? {
        let name = name_of(&page);
        tool.items.push(Item::File {
            dest: format!("usr/share/man/man{}/{name}.gz", docs::MAN_SECTION),
            data: gzip(&std::fs::read(&page)?)?,
            exec: false,
        });
    }
    tool.items.push(Item::Link {
        dest: format!("usr/share/man/man{0}/jailhouse.{0}.gz", docs::MAN_SECTION),
        target: format!("syshyper.{}.gz", docs::MAN_SECTION),
    });
    for name in ["syshyper", "jailhouse"] {
        for (dir, file, text) in docs::completions(name) {
            tool.items.push(Item::File { dest: format!("{dir}/{file}"), data: text, exec: false });
        }
    }
    with_doc(&mut tool, "The tool", "Apache-2.0 or MIT");

    let mut hv = Package {
        name: "syshyper-hypervisor".into(),
        arch: "arm64",
        version: version.clone(),
        depends: vec![],
        recommends: vec!["syshyper".into(), "syshyper-dkms".into()],
        section: "kernel",
        summary: "sysHyper partitioning hypervisor: EL2 image, configurations, inmates".into(),
        description: "The hypervisor image the syshyper driver loads from /lib/firmware,\n\
                      the system and cell configurations (compiled .cell and their TOML\n\
                      sources) and the demo inmates, in /usr/lib/syshyper."
            .into(),
        items: vec![file_item(&inp.hv_image, FIRMWARE.into(), false)?],
        scripts: vec![],
    };
    for (dir, ext, sub) in [(&inp.cells, ".cell", "configs"), (&inp.config_sources, ".toml", "configs"), (&inp.inmates, ".bin", "inmates")] {
        for f in files_with(dir, ext)? {
            hv.items.push(file_item(&f, format!("{DATA_DIR}/{sub}/{}", name_of(&f)), false)?);
        }
    }
    with_doc(&mut hv, "The hypervisor, configurations and inmates", "Apache-2.0 or MIT");

    let src = format!("usr/src/{}-{version}", dkms::MODULE);
    let mut dk = Package {
        name: "syshyper-dkms".into(),
        arch: "all",
        version: version.clone(),
        depends: vec!["dkms".into()],
        recommends: vec!["syshyper".into(), "syshyper-hypervisor".into()],
        section: "kernel",
        summary: "sysHyper partitioning hypervisor: kernel module (DKMS source)".into(),
        description: "The syshyper kernel module (/dev/jailhouse) as source, built by DKMS\n\
                      for each installed kernel that has its headers (linux-headers-...)."
            .into(),
        items: vec![Item::File { dest: format!("{src}/dkms.conf"), data: dkms::conf(&version).into_bytes(), exec: false }],
        scripts: vec![("postinst", dkms::postinst(&version)), ("prerm", dkms::prerm(&version))],
    };
    let mut sources: Vec<PathBuf> = std::fs::read_dir(&inp.driver)
        .with_context(|| format!("cannot list {}", inp.driver.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| dkms::is_source(&name_of(p)))
        .collect();
    sources.sort();
    for f in sources {
        dk.items.push(file_item(&f, format!("{src}/{}", name_of(&f)), false)?);
    }
    with_doc(&mut dk, "The kernel module", "GPL-2");
    Ok(vec![tool, hv, dk])
}

/// What `check` requires of each package (beyond the common rules).
fn expectations<'a>(pkgs: &'a [Package]) -> Vec<check::Expect<'a>> {
    pkgs.iter()
        .map(|p| {
            let mut e = check::Expect {
                name: &p.name,
                version: &p.version,
                arch: p.arch,
                paths: vec![],
                links: vec![],
                depends_on: p.depends.iter().map(String::as_str).collect(),
            };
            match p.name.as_str() {
                "syshyper" => {
                    e.paths = vec![
                        "usr/sbin/syshyper".into(),
                        "usr/share/man/man8/syshyper.8.gz".into(),
                        "usr/share/man/man8/syshyper-enable.8.gz".into(),
                        "usr/share/bash-completion/completions/syshyper".into(),
                        "usr/share/bash-completion/completions/jailhouse".into(),
                        "usr/share/zsh/vendor-completions/_syshyper".into(),
                        "usr/share/fish/vendor_completions.d/syshyper.fish".into(),
                    ];
                    e.links = vec![
                        ("usr/sbin/jailhouse".into(), "syshyper".into()),
                        ("usr/share/man/man8/jailhouse.8.gz".into(), "syshyper.8.gz".into()),
                    ];
                }
                "syshyper-hypervisor" => {
                    e.paths = vec![
                        FIRMWARE.into(),
                        format!("{DATA_DIR}/configs/qemu-virt.cell"),
                        format!("{DATA_DIR}/configs/qemu-virt.toml"),
                        format!("{DATA_DIR}/inmates/gic-demo.bin"),
                    ];
                }
                _ => {
                    let src = format!("usr/src/{}-{}", dkms::MODULE, p.version);
                    e.paths = vec![format!("{src}/dkms.conf"), format!("{src}/Kbuild"), format!("{src}/Makefile")];
                }
            }
            e
        })
        .collect()
}

/// Builds the packages into `out` (staging under `scratch`) and checks each
/// built file; returns their paths.
pub fn build(inp: &Inputs, scratch: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let pkgs = packages(inp, scratch)?;
    let mut debs = Vec::new();
    for p in &pkgs {
        debs.push(p.build(&scratch.join("stage").join(&p.name), out)?);
    }
    for (deb, want) in debs.iter().zip(expectations(&pkgs)) {
        let n = check::check_deb(deb, &want)?;
        println!("[dist] {} ({} entries, {} KiB) checked", name_of(deb), n, std::fs::metadata(deb).map(|m| m.len() / 1024).unwrap_or(0));
    }
    Ok(debs)
}

/// Unpacks `debs` into `root` (dpkg-deb -x, as dpkg would lay them out),
/// checks the DKMS tree, and builds the module from it as DKMS would for
/// the kernel whose headers are `headers`, installing it where DKMS does:
/// `lib/modules/<kernel>/updates/dkms/syshyper.ko` (returned, relative).
pub fn install_tree(debs: &[PathBuf], root: &Path, headers: &Path, kernel_release: &str, scratch: &Path) -> Result<String> {
    if root.exists() {
        std::fs::remove_dir_all(root).with_context(|| format!("cannot clear {}", root.display()))?;
    }
    std::fs::create_dir_all(root)?;
    for deb in debs {
        crate::cmd::run_quiet(Command::new("dpkg-deb").arg("-x").arg(deb).arg(root), &format!("unpack {}", name_of(deb)))?;
    }
    let tree = root.join(format!("usr/src/{}-{VERSION}", dkms::MODULE));
    let problems = check::dkms_problems(&tree, VERSION)?;
    if !problems.is_empty() {
        bail!("the DKMS tree {} fails its checks:\n  {}", tree.display(), problems.join("\n  "));
    }
    let ko = dkms::build_like_dkms(&tree, headers, &scratch.join("dkms-build"))?;
    let rel = format!("lib/modules/{kernel_release}/updates/dkms/{}.ko", dkms::MODULE);
    let dest = root.join(&rel);
    std::fs::create_dir_all(dest.parent().context("module folder")?)?;
    std::fs::copy(&ko, &dest)?;
    Ok(rel)
}

/// `cargo xtask dist`: packages into target/dist.
pub fn run(p: &Paths) -> Result<Vec<PathBuf>> {
    crate::images::build_musl_tool(p)?;
    let out = p.out.join("dist");
    let debs = build(&Inputs::of(p), &p.out.join("dist-work"), &out)?;
    println!("[dist] packages in {}:", out.display());
    for d in &debs {
        println!("[dist]   {}", name_of(d));
    }
    println!("[dist] on the board: apt install ./syshyper_*.deb ./syshyper-hypervisor_*.deb ./syshyper-dkms_*.deb");
    Ok(debs)
}

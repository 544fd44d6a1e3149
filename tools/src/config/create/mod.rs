//! `syshyper config create`: a system configuration (or with `--cell`, a
//! cell configuration) from the machine it runs on: the live device tree,
//! /proc/iomem, /proc/cmdline; or from a .dtb file (`--dtb`), e.g. on
//! another machine or in the host tests.

pub mod audit;
mod board;
mod cell;
mod dt;
mod emit;
pub mod ranges;
mod system;

use anyhow::{bail, Context};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Write the configuration here (TOML; compile it with `config compile`)
    /// instead of standard output.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// CPUs of the root cell (default: all), or with --cell the cell's CPUs.
    #[arg(long, value_name = "LIST")]
    cpus: Option<String>,
    /// Size of the area kept from Linux at the top of RAM for the hypervisor
    /// and the cells, when Linux does not leave one out already (mem=):
    /// the output then says which mem= to boot Linux with.
    #[arg(long, value_name = "SIZE")]
    mem_reserve: Option<String>,
    /// Hypervisor memory, at the top of the reserved area.
    #[arg(long, value_name = "SIZE", default_value = "4M")]
    mem_hv: String,
    /// Root cell name (default: the device tree's model).
    #[arg(long)]
    name: Option<String>,
    /// Write a cell configuration with this name instead.
    #[arg(long, value_name = "NAME", requires_all = ["cpus", "mem"])]
    cell: Option<String>,
    /// The cell's RAM: SIZE, or SIZE@ADDR (default: right below the
    /// hypervisor memory).
    #[arg(long, value_name = "SIZE[@ADDR]", requires = "cell")]
    mem: Option<String>,
    /// A device for the cell by device-tree path or alias: its registers
    /// and interrupts (repeatable).
    #[arg(long, value_name = "DT-PATH", requires = "cell")]
    device: Vec<String>,
    /// Read this device-tree blob instead of the live tree (then /proc is
    /// not read unless --iomem or --cmdline say so).
    #[arg(long, value_name = "FILE")]
    dtb: Option<PathBuf>,
    /// A copy of /proc/iomem to read the RAM Linux uses from.
    #[arg(long, value_name = "FILE")]
    iomem: Option<PathBuf>,
    /// A kernel command line to take mem= from.
    #[arg(long, value_name = "TEXT")]
    cmdline: Option<String>,
}

/// Where Linux shows its device tree.
pub fn live_dt_dir() -> Option<PathBuf> {
    ["/sys/firmware/devicetree/base", "/proc/device-tree"].iter().map(PathBuf::from).find(|p| p.is_dir())
}

/// A size as Linux (`256M`, `0x1000`) or the TOML format (`256 MiB`) writes it.
pub fn parse_size(text: &str) -> anyhow::Result<u64> {
    ranges::memparse(text)
        .or_else(|| syshyper_config::source::units::parse_number(text).ok())
        .with_context(|| format!("\"{text}\" is not a size (256M, 0x10000000, 256 MiB)"))
}

fn read_text(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))
}

pub fn run(a: Args) -> anyhow::Result<()> {
    let (tree, live, cpu_ids) = match &a.dtb {
        Some(path) => {
            let bytes = std::fs::read(path).with_context(|| format!("{}", path.display()))?;
            let tree = dt::Tree::from_dtb(&bytes).with_context(|| format!("{}", path.display()))?;
            let iomem = a.iomem.as_deref().map(read_text).transpose()?;
            let live = system::Live {
                system_ram: iomem.as_deref().map(ranges::system_ram),
                claimed: iomem.as_deref().map(ranges::claimed).unwrap_or_default(),
                cmdline: a.cmdline.clone(),
            };
            (tree, live, None)
        }
        None => {
            let Some(dir) = live_dt_dir() else {
                bail!("no device tree at /sys/firmware/devicetree/base or /proc/device-tree: run this on the board's root Linux, or give --dtb FILE");
            };
            let mut tree = dt::Tree::from_dir(&dir)?;
            // Only the blob has /memreserve/; firmware's spin tables live there.
            if let Ok(blob) = std::fs::read("/sys/firmware/fdt") {
                if let Ok(t) = dt::Tree::from_dtb(&blob) {
                    tree.memreserve = t.memreserve;
                }
            }
            let iomem = read_text(a.iomem.as_deref().unwrap_or(Path::new("/proc/iomem")))?;
            let ram = ranges::system_ram(&iomem);
            if ranges::addresses_hidden(&ram) {
                bail!("/proc/iomem shows no addresses: run as root");
            }
            let cmdline = match &a.cmdline {
                Some(c) => c.clone(),
                None => read_text(Path::new("/proc/cmdline"))?,
            };
            // Without of_node links, Linux numbered the CPUs in tree order.
            let ids = live_cpu_ids();
            let live = system::Live { system_ram: Some(ram), claimed: ranges::claimed(&iomem), cmdline: Some(cmdline) };
            (tree, live, (!ids.is_empty()).then_some(ids))
        }
    };
    let board = board::Board::read(&tree, cpu_ids.as_deref())?;
    let cpus = a
        .cpus
        .as_deref()
        .map(|c| syshyper_config::source::units::parse_list(c, "--cpus"))
        .transpose()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let sys = system::SystemOpts {
        name: a.name.clone(),
        cpus: cpus.clone(),
        mem_reserve: a.mem_reserve.as_deref().map(parse_size).transpose()?,
        mem_hv: parse_size(&a.mem_hv)?,
    };
    let text = match &a.cell {
        Some(name) => {
            let mem = a.mem.as_deref().context("--cell needs --mem")?;
            let (size, at) = match mem.split_once('@') {
                Some((s, at)) => (parse_size(s)?, Some(parse_size(at)?)),
                None => (parse_size(mem)?, None),
            };
            let opts = cell::CellOpts { name: name.clone(), cpus: cpus.unwrap_or_default(), mem: size, mem_at: at, devices: a.device.clone(), sys };
            cell::generate(&tree, &board, &live, &opts)?
        }
        None => {
            let (text, advice) = system::generate(&board, &live, &sys)?;
            if let Some(advice) = advice {
                eprintln!("note: {advice}");
            }
            text
        }
    };
    match &a.output {
        Some(path) => std::fs::write(path, text).with_context(|| format!("{}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Linux's CPU numbers by device-tree path, from each CPU's of_node link.
fn live_cpu_ids() -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu") else { return out };
    for e in dir.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_prefix("cpu").and_then(|n| n.parse::<u32>().ok()) else { continue };
        if let Ok(target) = std::fs::read_link(e.path().join("of_node")) {
            let t = target.to_string_lossy();
            if let Some((_, path)) = t.split_once("devicetree/base") {
                out.push((id, path.to_string()));
            }
        }
    }
    out
}

/// The live state `config check --live` compares with.
pub fn live_state() -> anyhow::Result<audit::State> {
    let iomem = read_text(Path::new("/proc/iomem"))?;
    let system_ram = ranges::system_ram(&iomem);
    if ranges::addresses_hidden(&system_ram) {
        bail!("/proc/iomem shows no addresses: run as root");
    }
    let irqs = audit::parse_interrupts(&read_text(Path::new("/proc/interrupts"))?);
    let online = read_text(Path::new("/sys/devices/system/cpu/online"))?;
    let online = syshyper_config::source::units::parse_list(online.trim(), "online CPUs").map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(audit::State { system_ram, irqs, online })
}

//! Commands that talk to the driver (/dev/jailhouse and
//! /sys/devices/jailhouse), with Jailhouse's command-line forms. Every
//! configuration is validated here before any ioctl.

mod args;
mod console;
mod ioctl;
mod sysfs;

use anyhow::{bail, Context, Result};
pub use ioctl::CellRef;
use ioctl::{Device, Image};
use rustix::io::Errno;
use std::path::{Path, PathBuf};
use syshyper_config::{CellConfig, Kind, SystemConfig, MAX_CELL_CONFIG_SIZE};

/// Top-level commands handled through the kernel driver.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Enable the hypervisor with a system configuration (.cell).
    Enable {
        /// System configuration.
        sysconfig: PathBuf,
        /// Hand the file to the driver unchecked, as Jailhouse's tool does
        /// (the driver and the hypervisor still refuse what they must).
        #[arg(long)]
        no_check: bool,
    },
    /// Disable the hypervisor (destroys the remaining cells first).
    Disable,
    /// Print the hypervisor console.
    Console {
        /// Keep printing new output.
        #[arg(short, long)]
        follow: bool,
    },
    /// Manage cells.
    #[command(subcommand)]
    Cell(CellCommand),
}

#[derive(Debug, clap::Subcommand)]
pub enum CellCommand {
    /// Create a cell from its configuration (.cell); its CPUs leave Linux.
    Create {
        /// Cell configuration.
        config: PathBuf,
    },
    /// Load images into a cell: {ID | [--name] NAME} {IMAGE | -s STRING} [-a ADDRESS] ...
    Load {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Start a cell: {ID | [--name] NAME}
    Start {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "CELL")]
        cell: Vec<String>,
    },
    /// Stop a cell (it can be loaded and started again): {ID | [--name] NAME}
    Shutdown {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "CELL")]
        cell: Vec<String>,
    },
    /// Destroy a cell; its CPUs return to Linux: {ID | [--name] NAME}
    Destroy {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "CELL")]
        cell: Vec<String>,
    },
    /// Boot Linux in a new cell: CELLCONFIG KERNEL [-d DTB] [-i INITRD] [-c CMDLINE] [--dump-dtb FILE]
    Linux(crate::linux::Args),
    /// List the cells.
    List,
    /// VM exits by reason, per CPU: [ID | [--name] NAME] (all cells without one)
    Stats {
        #[arg(allow_hyphen_values = true, value_name = "CELL")]
        cell: Vec<String>,
    },
}

/// Runs one driver command.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Enable { sysconfig, no_check } => enable(&sysconfig, no_check),
        Command::Disable => call("disable", ioctl::DISABLE, None),
        Command::Console { follow } => console::run(follow),
        Command::Cell(cmd) => cell(cmd),
    }
}

fn cell(cmd: CellCommand) -> Result<()> {
    match cmd {
        CellCommand::Create { config } => create(&config),
        CellCommand::Load { args } => {
            let (cell, rest) = args::cell_ref(&args)?;
            load(&cell, &args::load_items(rest)?)
        }
        CellCommand::Start { cell } => start(&args::only_cell_ref(&cell)?),
        CellCommand::Linux(a) => crate::linux::run(a),
        CellCommand::Shutdown { cell } => load(&args::only_cell_ref(&cell)?, &[]),
        CellCommand::Destroy { cell } => {
            let id = ioctl::cell_id(&args::only_cell_ref(&cell)?)?;
            call("cell destroy", ioctl::CELL_DESTROY, Some(&id))
        }
        CellCommand::List => {
            let root = sysfs::root()?;
            print!("{}", sysfs::list_table(&sysfs::cells(&root)?));
            Ok(())
        }
        CellCommand::Stats { cell } => stats(&cell),
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

/// What an errno from the driver means for `what`, in one line.
fn explain(what: &str, e: Errno) -> String {
    let hint = match (what, e) {
        (_, Errno::NOENT) if what == "enable" => "hypervisor image missing (/lib/firmware/syshyper.bin)",
        (_, Errno::NOMEM) if what == "enable" => "hypervisor memory not reserved for it, or too small",
        (_, Errno::BUSY) if what == "enable" => "already enabled, or EL2 is not available (KVM or VHE owns it)",
        (_, Errno::EXIST) if what == "enable" => "a hypervisor is already running",
        (_, Errno::INVAL) if what == "enable" => "configuration or image refused",
        (_, Errno::NODEV) if what == "enable" => "the hypervisor does not support this platform or configuration (e.g. its GIC version)",
        (_, Errno::INVAL) if what == "disable" => "the hypervisor is not enabled",
        (_, Errno::PERM) if what == "disable" => "sysHyper was started before Linux (boot-first mode) and cannot be disabled",
        (_, Errno::NOENT) => "no such cell",
        (_, Errno::EXIST) => "a cell with this name exists",
        (_, Errno::BUSY) => "CPUs or memory are in use",
        (_, Errno::INVAL) => "refused (hypervisor not enabled, root cell, or invalid request)",
        (_, Errno::PERM) => "not permitted",
        _ => "",
    };
    let sep = if hint.is_empty() { "" } else { ": " };
    format!("{what} failed: {e}{sep}{hint} (details in dmesg)")
}

fn call(what: &str, opcode: rustix::ioctl::Opcode, arg: Option<&[u8]>) -> Result<()> {
    let dev = Device::open()?;
    dev.call(opcode, arg).map_err(|e| anyhow::anyhow!(explain(what, e)))
}

fn enable(path: &Path, no_check: bool) -> Result<()> {
    let bytes = read(path)?;
    if !no_check {
        if syshyper_config::kind_of(&bytes) == Some(Kind::Cell) {
            bail!("{}: this is a cell configuration; enable needs the system configuration", path.display());
        }
        SystemConfig::parse(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: invalid system configuration: {e}", path.display()))?;
    }
    if sysfs::enabled(&sysfs::root()?)? {
        bail!("the hypervisor is already enabled");
    }
    // The driver reads the config from this pointer (the ioctl carries no size).
    let dev = Device::open()?;
    dev.call(ioctl::ENABLE, Some(&bytes)).map_err(|e| anyhow::anyhow!(explain("enable", e)))
}

/// Starts a loaded cell.
pub fn start(cell: &CellRef) -> Result<()> {
    let id = ioctl::cell_id(cell)?;
    call("cell start", ioctl::CELL_START, Some(&id))
}

/// Loads `images` (data, guest address) into a cell.
pub fn load_data(cell: &CellRef, images: &[(Vec<u8>, u64)]) -> Result<()> {
    let list: Vec<Image<'_>> = images.iter().map(|(d, a)| Image { data: d, target: *a }).collect();
    let arg = ioctl::cell_load(cell, &list)?;
    call("cell load", ioctl::CELL_LOAD, Some(&arg))
}

/// Creates a cell from the configuration at `path`.
pub fn create(path: &Path) -> Result<()> {
    let bytes = read(path)?;
    if syshyper_config::kind_of(&bytes) == Some(Kind::System) {
        bail!("{}: this is a system configuration; cell create needs a cell configuration", path.display());
    }
    let cell = CellConfig::parse_with_limit(&bytes, MAX_CELL_CONFIG_SIZE)
        .map_err(|e| anyhow::anyhow!("{}: invalid cell configuration: {e}", path.display()))?;
    let config = &bytes[..cell.total_size()];
    let arg = ioctl::cell_create(config);
    call("cell create", ioctl::CELL_CREATE, Some(&arg))
}

fn load(cell: &CellRef, items: &[args::LoadItem]) -> Result<()> {
    let mut data = Vec::with_capacity(items.len());
    for item in items {
        data.push(match &item.source {
            args::Source::File(p) => read(p)?,
            args::Source::String(s) => {
                let mut b = s.clone().into_bytes();
                b.push(0);
                b
            }
        });
    }
    let images: Vec<Image<'_>> = data.iter().zip(items).map(|(d, i)| Image { data: d, target: i.address }).collect();
    let arg = ioctl::cell_load(cell, &images)?;
    let what = if items.is_empty() { "cell shutdown" } else { "cell load" };
    call(what, ioctl::CELL_LOAD, Some(&arg))
}

fn stats(cell: &[String]) -> Result<()> {
    let root = sysfs::root()?;
    if !sysfs::enabled(&root)? {
        bail!("the hypervisor is not enabled");
    }
    let cells = sysfs::cells(&root)?;
    let wanted = if cell.is_empty() { None } else { Some(args::only_cell_ref(cell)?) };
    let mut found = false;
    for c in &cells {
        let matches = match &wanted {
            None => true,
            Some(CellRef::Id(id)) => c.id == *id,
            Some(CellRef::Name(n)) => &c.name == n,
        };
        if matches {
            found = true;
            print!("{}", sysfs::stats_table(c, &sysfs::stats_columns(c)?));
        }
    }
    if !found {
        bail!("no such cell");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_one_line_with_a_hint() {
        let m = explain("enable", Errno::NOMEM);
        assert!(m.contains("not reserved") && !m.contains('\n'), "{m}");
        assert!(explain("cell start", Errno::NOENT).contains("no such cell"));
        assert!(explain("cell start", Errno::NOSYS).starts_with("cell start failed:"));
        assert!(explain("disable", Errno::PERM).contains("boot-first"));
        assert!(!explain("cell start", Errno::PERM).contains("boot-first"));
    }
}

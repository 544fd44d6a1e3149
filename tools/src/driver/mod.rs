//! Commands that talk to the driver (/dev/jailhouse and
//! /sys/devices/jailhouse), with Jailhouse's command-line forms. Every
//! configuration is validated here before any ioctl.

mod args;
mod console;
mod ioctl;
mod lifecycle;
mod passthru;
mod sysfs;
mod trace;
mod watch;

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
    /// Disable the hypervisor (destroys the remaining cells first, each
    /// asked first as by `cell destroy`).
    Disable {
        /// sysHyper extension: destroy the cells without asking them.
        #[arg(long)]
        force: bool,
    },
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
        /// sysHyper extension: even while a cell is RUNNING_LOCKED.
        #[arg(long)]
        force: bool,
    },
    /// Load images into a cell: {ID | [--name] NAME} {IMAGE | -s STRING} [-a ADDRESS] ... [--force]
    /// (a running cell is asked to shut down first; --force does not ask)
    Load {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Start a cell: {ID | [--name] NAME} [--force] (a running one is asked first)
    Start {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "CELL")]
        cell: Vec<String>,
    },
    /// Stop a cell (it can be loaded and started again): {ID | [--name] NAME} [--force]
    /// (the cell is asked first and may deny; --force does not ask)
    Shutdown {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "CELL")]
        cell: Vec<String>,
    },
    /// Destroy a cell; its CPUs return to Linux: {ID | [--name] NAME} [--force]
    /// (the cell is asked first and may deny; --force does not ask)
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
        /// Latency at EL2 instead: interrupt injection delay and time per
        /// exit reason, log2 histograms per CPU.
        #[arg(long)]
        latency: bool,
        /// With --latency: JSON instead of a table.
        #[arg(long, requires = "latency")]
        json: bool,
        /// Print again every second, until interrupted (or --count times).
        #[arg(long)]
        watch: bool,
        /// With --watch: stop after this many refreshes.
        #[arg(long, requires = "watch", value_name = "N")]
        count: Option<u64>,
        #[arg(value_name = "CELL")]
        cell: Vec<String>,
    },
    /// Post-mortem of a failed cell, per failed CPU: the fault in words,
    /// syndrome, registers and the last traps: {ID | [--name] NAME}
    Dump {
        #[arg(allow_hyphen_values = true, num_args = 1.., value_name = "CELL")]
        cell: Vec<String>,
    },
}

/// Runs one driver command.
pub fn run(cmd: Command) -> Result<()> {
    match cmd {
        Command::Enable { sysconfig, no_check } => enable(&sysconfig, no_check),
        Command::Disable { force } => {
            lifecycle::call("disable", ioctl::DISABLE, None, force, None)?;
            // Best effort: a stale copy would only be a default.
            let _ = std::fs::remove_file(ENABLED_SYSCONFIG);
            Ok(())
        }
        Command::Console { follow } => console::run(follow),
        Command::Cell(cmd) => cell(cmd),
    }
}

fn cell(cmd: CellCommand) -> Result<()> {
    match cmd {
        CellCommand::Create { config, force } => create(&config, force),
        CellCommand::Load { args } => {
            let (force, args) = lifecycle::take_force(&args);
            let (cell, rest) = args::cell_ref(&args)?;
            load(&cell, &args::load_items(rest)?, force)
        }
        CellCommand::Start { cell } => {
            let (force, cell) = lifecycle::take_force(&cell);
            let cell = args::only_cell_ref(&cell)?;
            lifecycle::call("cell start", ioctl::CELL_START, Some(&ioctl::cell_id(&cell)?), force, Some(&cell))
        }
        CellCommand::Linux(a) => crate::linux::run(a),
        CellCommand::Shutdown { cell } => {
            let (force, cell) = lifecycle::take_force(&cell);
            load(&args::only_cell_ref(&cell)?, &[], force)
        }
        CellCommand::Destroy { cell } => {
            let (force, cell) = lifecycle::take_force(&cell);
            let cell = args::only_cell_ref(&cell)?;
            lifecycle::call("cell destroy", ioctl::CELL_DESTROY, Some(&ioctl::cell_id(&cell)?), force, Some(&cell))
        }
        CellCommand::List => {
            let root = sysfs::root()?;
            print!("{}", sysfs::list_table(&sysfs::cells(&root)?));
            Ok(())
        }
        CellCommand::Stats { latency, json, watch, count, cell } => {
            let once = || if latency { trace_stats(&cell, json) } else { stats(&cell) };
            if watch {
                watch::every_second(count, once)
            } else {
                once()
            }
        }
        CellCommand::Dump { cell } => dump(&args::only_cell_ref(&cell)?),
    }
}

/// Where the packages install the configurations and inmates.
const INSTALLED_DATA: &str = "/usr/lib/syshyper";

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        let hint = if e.kind() == std::io::ErrorKind::NotFound {
            format!(" (the packaged configurations and inmates are in {INSTALLED_DATA}/configs and {INSTALLED_DATA}/inmates)")
        } else {
            String::new()
        };
        anyhow::anyhow!("cannot read {}: {e}{hint}", path.display())
    })
}

/// What an errno from the driver means for `what`, in one line.
fn explain(what: &str, e: Errno) -> String {
    let hint = match (what, e) {
        (_, Errno::NOENT) if what == "enable" => "hypervisor image missing (/lib/firmware/syshyper.bin, package syshyper-hypervisor)",
        (_, Errno::NOMEM) if what == "enable" => "hypervisor memory not reserved for it, or too small",
        (_, Errno::BUSY) if what == "enable" => "already enabled, or EL2 is not available (KVM or VHE owns it)",
        (_, Errno::EXIST) if what == "enable" => "a hypervisor is already running",
        (_, Errno::INVAL) if what == "enable" => "configuration or image refused",
        (_, Errno::NODEV) if what == "enable" => "the hypervisor does not support this platform or configuration (e.g. its GIC version)",
        (_, Errno::INVAL) if what == "disable" => "the hypervisor is not enabled",
        (_, Errno::PERM) if what == "disable" => {
            "sysHyper was started before Linux (boot-first mode) and cannot be disabled, or a cell denied the shutdown request (--force overrides)"
        }
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
    dev.call(ioctl::ENABLE, Some(&bytes)).map_err(|e| anyhow::anyhow!(explain("enable", e)))?;
    record_sysconfig(&bytes);
    Ok(())
}

/// Where `enable` keeps a copy of the system configuration it was given
/// (removed at `disable`): `cell linux` describes the machine from it.
pub const ENABLED_SYSCONFIG: &str = "/run/syshyper/sysconfig.cell";

/// Best effort: the hypervisor runs either way; without the copy, `cell
/// linux` falls back to its other defaults (or `-s`), and says so.
fn record_sysconfig(bytes: &[u8]) {
    let path = Path::new(ENABLED_SYSCONFIG);
    let written = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|()| std::fs::write(path, bytes));
    if let Err(e) = written {
        eprintln!("note: cannot keep a copy of the system configuration in {ENABLED_SYSCONFIG} ({e}); give `cell linux` -s");
    }
}

/// Starts a loaded cell (asking nobody: a cell just loaded is not running).
pub fn start(cell: &CellRef) -> Result<()> {
    let id = ioctl::cell_id(cell)?;
    lifecycle::call("cell start", ioctl::CELL_START, Some(&id), false, Some(cell))
}

/// Loads `images` (data, guest address) into a cell.
pub fn load_data(cell: &CellRef, images: &[(Vec<u8>, u64)]) -> Result<()> {
    let list: Vec<Image<'_>> = images.iter().map(|(d, a)| Image { data: d, target: *a }).collect();
    let arg = ioctl::cell_load(cell, &list)?;
    lifecycle::call("cell load", ioctl::CELL_LOAD, Some(&arg), false, Some(cell))
}

/// Creates a cell from the configuration at `path` (`force`: without
/// asking running cells, a sysHyper extension).
pub fn create(path: &Path, force: bool) -> Result<()> {
    let bytes = read(path)?;
    if syshyper_config::kind_of(&bytes) == Some(Kind::System) {
        bail!("{}: this is a system configuration; cell create needs a cell configuration", path.display());
    }
    let cell = CellConfig::parse_with_limit(&bytes, MAX_CELL_CONFIG_SIZE)
        .map_err(|e| anyhow::anyhow!("{}: invalid cell configuration: {e}", path.display()))?;
    let bound = passthru::still_bound(&cell, Path::new("/sys/bus/pci/devices"));
    if !bound.is_empty() {
        bail!("{}", passthru::refusal(&bound));
    }
    let config = &bytes[..cell.total_size()];
    let arg = ioctl::cell_create(config);
    lifecycle::call("cell create", ioctl::CELL_CREATE, Some(&arg), force, None)
}

fn load(cell: &CellRef, items: &[args::LoadItem], force: bool) -> Result<()> {
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
    lifecycle::call(what, ioctl::CELL_LOAD, Some(&arg), force, Some(cell))
}

/// The cells `cell` names (all without one), with the hypervisor enabled.
fn selected(cell: &[String]) -> Result<Vec<sysfs::Cell>> {
    let root = sysfs::root()?;
    if !sysfs::enabled(&root)? {
        bail!("the hypervisor is not enabled");
    }
    let cells = sysfs::cells(&root)?;
    let wanted = if cell.is_empty() { None } else { Some(args::only_cell_ref(cell)?) };
    let found: Vec<sysfs::Cell> = cells
        .into_iter()
        .filter(|c| match &wanted {
            None => true,
            Some(CellRef::Id(id)) => c.id == *id,
            Some(CellRef::Name(n)) => &c.name == n,
        })
        .collect();
    if found.is_empty() {
        bail!("no such cell");
    }
    Ok(found)
}

fn stats(cell: &[String]) -> Result<()> {
    for c in selected(cell)? {
        print!("{}", sysfs::stats_table(&c, &sysfs::stats_columns(&c)?));
    }
    Ok(())
}

fn trace_stats(cell: &[String], json: bool) -> Result<()> {
    let freq = watch::counter_hz();
    for c in selected(cell)? {
        let path = c.dir.join("latency");
        let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let lat = trace::parse_latency(&text);
        if json {
            print!("{}", trace::latency_json(&c.name, c.id, &lat, freq));
        } else {
            print!("{}", trace::latency_table(&c.name, c.id, &lat, freq));
        }
    }
    Ok(())
}

fn dump(cell: &CellRef) -> Result<()> {
    let name = match cell {
        CellRef::Id(id) => id.to_string(),
        CellRef::Name(n) => n.clone(),
    };
    let c = selected(&[name])?.remove(0);
    let path = c.dir.join("postmortem");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {} (as root?)", path.display()))?;
    let records = trace::parse_records(&text);
    if records.is_empty() {
        bail!("cell \"{}\" (id {}) has no failed CPU: nothing to dump (state: {})", c.name, c.id, c.state);
    }
    println!("Post-mortem of cell \"{}\" (id {}), {}", c.name, c.id, c.state);
    for (cpu, words) in records {
        print!("{}", trace::dump(cpu, &words));
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

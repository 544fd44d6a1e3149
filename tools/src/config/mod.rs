//! `syshyper config compile|show|check|create`.

mod check;
mod compare;
pub mod create;

use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Compile a TOML description into a binary .cell file.
    Compile {
        /// TOML source (system or cell).
        source: PathBuf,
        /// Output .cell file.
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Print any .cell file (also Jailhouse-built ones) as TOML.
    Show {
        /// Binary .cell file (system or cell).
        file: PathBuf,
        /// Write the TOML here instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Validate a system configuration and the cells to run on it.
    Check {
        /// System configuration (.cell).
        system: PathBuf,
        /// Cell configurations (.cell).
        cells: Vec<PathBuf>,
        /// Also compare with the running root Linux: RAM it has mapped,
        /// interrupts it has requested and CPUs it has online that the
        /// configurations give to the hypervisor or a cell.
        #[arg(long)]
        live: bool,
    },
    /// Print how two system configurations differ in meaning: hypervisor
    /// memory, console, GIC, root CPUs, the RAM, MMIO and SPIs the root
    /// gets, virtual PCI (nothing printed: equivalent).
    Compare {
        /// System configuration (.cell).
        first: PathBuf,
        /// System configuration (.cell).
        second: PathBuf,
    },
    /// Write a configuration for the machine this runs on (its live device
    /// tree, /proc/iomem, /proc/cmdline) or for a .dtb file.
    Create(Box<create::Args>),
}

pub fn run(cmd: Command) -> anyhow::Result<()> {
    match cmd {
        Command::Compile { source, output } => compile(&source, &output),
        Command::Show { file, output } => show(&file, output.as_deref()),
        Command::Check { system, cells, live } => check::run(&system, &cells, live),
        Command::Create(args) => create::run(*args),
        Command::Compare { first, second } => {
            let (a, b) = (read(&first)?, read(&second)?);
            let parse = |bytes, path: &Path| {
                syshyper_config::SystemConfig::parse_exact(bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
            };
            for line in compare::differences(&parse(&a, &first)?, &parse(&b, &second)?) {
                println!("{line}");
            }
            Ok(())
        }
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("{}", path.display()))
}

fn compile(source: &Path, output: &Path) -> anyhow::Result<()> {
    let text = String::from_utf8(read(source)?)
        .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", source.display()))?;
    let bytes = syshyper_config::source::compile(&text)
        .map_err(|e| anyhow::anyhow!("{}: {e}", source.display()))?;
    // xtask writes into target/images/configs/, which may not exist yet.
    if let Some(dir) = output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("{}", dir.display()))?;
    }
    std::fs::write(output, bytes).with_context(|| format!("{}", output.display()))
}

fn show(file: &Path, output: Option<&Path>) -> anyhow::Result<()> {
    let bytes = read(file)?;
    let text = syshyper_config::source::show(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    match output {
        Some(out) => std::fs::write(out, text).with_context(|| format!("{}", out.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

//! `syshyper`: the sysHyper command-line tool. Each top-level command lives
//! in its own module; this file only dispatches.

mod config;
mod driver;
mod ivshmem;
mod linux;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use std::ffi::OsStr;
use std::path::Path;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "syshyper",
    version,
    about = "sysHyper partitioning hypervisor tool"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile, show and check configurations (.cell files).
    #[command(subcommand)]
    Config(config::Command),
    #[command(flatten)]
    Driver(driver::Command),
    /// Talk to the other peers of an ivshmem link through its UIO device
    /// (docs/ivshmem.md): hello texts, or --ping N --peer P round trips.
    IvshmemDemo(ivshmem::Args),
}

/// The name we answer to: Jailhouse's scripts call the tool `jailhouse`
/// (a link to it), and then usage, version and errors must say so too.
fn program_name(argv0: Option<&OsStr>) -> &'static str {
    match argv0.and_then(|a| Path::new(a).file_name()) {
        Some(name) if name == "jailhouse" => "jailhouse",
        _ => "syshyper",
    }
}

fn main() -> ExitCode {
    let prog = program_name(std::env::args_os().next().as_deref());
    let matches = Cli::command().name(prog).bin_name(prog).get_matches();
    // The matches come from Cli's own definition, so this cannot fail;
    // exit() prints clap's message like parse() would.
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Config(cmd) => config::run(cmd),
        Command::Driver(cmd) => driver::run(cmd),
        Command::IvshmemDemo(args) => ivshmem::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the context chain on one line.
            eprintln!("{prog}: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_to_jailhouse_by_its_link_name() {
        assert_eq!(program_name(Some(OsStr::new("/usr/sbin/jailhouse"))), "jailhouse");
        assert_eq!(program_name(Some(OsStr::new("jailhouse"))), "jailhouse");
        assert_eq!(program_name(Some(OsStr::new("/usr/sbin/syshyper"))), "syshyper");
        assert_eq!(program_name(Some(OsStr::new("jailhouse-old"))), "syshyper");
        assert_eq!(program_name(None), "syshyper");
    }

    #[test]
    fn usage_and_version_use_the_program_name() {
        let mut cmd = Cli::command().name("jailhouse").bin_name("jailhouse");
        let usage = cmd.render_usage().to_string();
        assert!(usage.contains("jailhouse") && !usage.contains("syshyper"), "{usage}");
        assert!(cmd.render_version().starts_with("jailhouse "));
        let err = cmd.try_get_matches_from_mut(["jailhouse", "bogus"]).unwrap_err().to_string();
        assert!(err.contains("jailhouse") && !err.contains("syshyper"), "{err}");
    }

    #[test]
    fn cell_linux_answers_to_both_names() {
        for prog in ["syshyper", "jailhouse"] {
            let args = [prog, "cell", "linux", "c.cell", "Image", "-d", "x.dtb", "-i", "rd", "-c", "console=ttyAMA0", "--dump-dtb", "o.dtb"];
            assert!(Cli::try_parse_from(args).is_ok(), "{prog}");
            assert!(Cli::try_parse_from([prog, "cell", "linux", "c.cell"]).is_err(), "{prog}: the kernel is required");
        }
    }

    #[test]
    fn ivshmem_demo_answers_to_both_names() {
        for prog in ["syshyper", "jailhouse"] {
            let ok = Cli::try_parse_from([prog, "ivshmem-demo", "--ping", "5", "--peer", "1"]);
            assert!(matches!(ok, Ok(Cli { command: Command::IvshmemDemo(_) })), "{prog}");
            assert!(Cli::try_parse_from([prog, "ivshmem-demo", "--dev", "/dev/uio1"]).is_ok());
            // A pinger needs its peer; --state stands alone.
            assert!(Cli::try_parse_from([prog, "ivshmem-demo", "--ping", "5"]).is_err());
            assert!(Cli::try_parse_from([prog, "ivshmem-demo", "--state", "1", "--ping", "5", "--peer", "1"]).is_err());
        }
    }
}

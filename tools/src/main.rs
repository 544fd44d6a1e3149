//! `syshyper`: the sysHyper command-line tool. Each top-level command lives
//! in its own module; this file only dispatches.

mod config;
mod driver;

use clap::{Parser, Subcommand};
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
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config(cmd) => config::run(cmd),
        Command::Driver(cmd) => driver::run(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` joins the context chain on one line.
            eprintln!("syshyper: {e:#}");
            ExitCode::FAILURE
        }
    }
}

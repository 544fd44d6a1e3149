//! Running external programs with their command line shown and their status checked.

use anyhow::{bail, Context, Result};
use std::process::{Command, Output};

/// Human-readable form of a command line, for progress and error messages.
pub fn display(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        let arg = arg.to_string_lossy();
        s.push(' ');
        if arg.is_empty() || arg.contains(char::is_whitespace) {
            s.push_str(&format!("'{arg}'"));
        } else {
            s.push_str(&arg);
        }
    }
    s
}

/// Runs `cmd` with inherited stdio (its output shows as it comes) and fails on a
/// non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    println!("[xtask] $ {line}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start `{line}`"))?;
    if !status.success() {
        bail!("`{line}` failed with {status}");
    }
    Ok(())
}

/// Runs `cmd` quietly, returning its output; fails if it cannot start.
pub fn output(cmd: &mut Command) -> Result<Output> {
    let line = display(cmd);
    cmd.output()
        .with_context(|| format!("cannot start `{line}`"))
}

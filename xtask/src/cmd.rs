//! Running external programs as build steps: quiet unless `-v`.
//!
//! By default a command's output is captured: on a terminal its latest
//! line is shown as a one-line progress indicator (cargo's "Compiling
//! ..."), and only if it fails is its output printed (the last
//! `FAIL_LINES` lines), followed by one error line. With `-v`
//! (`set_verbose`) every command line is printed and its output shown as
//! it comes. A program that is not installed is one error line naming
//! the Debian package (or `cargo xtask setup`) that provides it.

use anyhow::{bail, Context, Result};
use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

/// Lines of a failed command's output shown (the rest is rarely the cause).
const FAIL_LINES: usize = 60;

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// `-v`: print every command and its whole output.
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Prints a detail line (sizes, file lists) only with `-v`.
pub fn detail(line: impl std::fmt::Display) {
    if verbose() {
        println!("{line}");
    }
}

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

/// The Debian package that provides `program`, for the programs xtask runs.
pub fn package_of(program: &str) -> Option<&'static str> {
    Some(match program {
        "qemu-system-aarch64" => "qemu-system-arm",
        "aarch64-linux-gnu-gcc" | "aarch64-linux-gnu-ld" => "gcc-aarch64-linux-gnu",
        "llvm-objcopy" | "llvm-strip" => "llvm",
        "dtc" => "device-tree-compiler",
        "pahole" => "dwarves",
        "dpkg-deb" | "dpkg" => "dpkg",
        "apt-get" | "apt-cache" => "apt",
        "cpio" => "cpio",
        "make" => "make",
        "gzip" => "gzip",
        "xz" => "xz-utils",
        _ => return None,
    })
}

/// The one-line error for a command that could not start.
pub fn start_error(cmd: &Command, err: &std::io::Error) -> String {
    let prog = cmd.get_program().to_string_lossy().into_owned();
    match err.kind() {
        std::io::ErrorKind::NotFound => match package_of(&prog) {
            Some(pkg) => format!("{prog} is not installed: run `cargo xtask setup` (Debian package {pkg})"),
            None if prog == "cargo" || prog == "rustup" => format!("{prog} is not on PATH: install Rust with rustup (https://rustup.rs)"),
            None => format!("{prog} is not installed or not on PATH"),
        },
        std::io::ErrorKind::PermissionDenied => format!("{prog}: permission denied (is it executable?)"),
        _ => format!("cannot start {prog}: {err}"),
    }
}

/// Runs `cmd` as a build step (see the module comment); fails on a non-zero exit.
pub fn run(cmd: &mut Command) -> Result<()> {
    let what = cmd.get_program().to_string_lossy().into_owned();
    run_quiet(cmd, &what)
}

/// `run` with `what` naming the step in the error line.
pub fn run_quiet(cmd: &mut Command, what: &str) -> Result<()> {
    let line = display(cmd);
    if verbose() {
        println!("[xtask] $ {line}");
        let status = cmd.status().map_err(|e| anyhow::anyhow!(start_error(cmd, &e)))?;
        if !status.success() {
            bail!("{what} failed ({status}): `{line}`");
        }
        return Ok(());
    }
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| anyhow::anyhow!(start_error(cmd, &e)))?;
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let mut readers = Vec::new();
    let pipes: [Option<Box<dyn std::io::Read + Send>>; 2] = [
        child.stdout.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        child.stderr.take().map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    ];
    for pipe in pipes.into_iter().flatten() {
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut r = std::io::BufReader::new(pipe);
            let mut buf = Vec::new();
            while matches!(r.read_until(b'\n', &mut buf), Ok(n) if n > 0) {
                let _ = tx.send(String::from_utf8_lossy(&buf).trim_end().to_string());
                buf.clear();
            }
        }));
    }
    drop(tx);
    let tty = std::io::stdout().is_terminal();
    let mut lines: Vec<String> = Vec::new();
    let mut shown = false;
    for l in rx {
        if tty && !l.trim().is_empty() {
            let short: String = l.trim().chars().take(100).collect();
            print!("\r\x1b[K    {short}");
            let _ = std::io::stdout().flush();
            shown = true;
        }
        lines.push(l);
    }
    if shown {
        print!("\r\x1b[K");
        let _ = std::io::stdout().flush();
    }
    for r in readers {
        let _ = r.join();
    }
    let status = child.wait().with_context(|| format!("waiting for {what}"))?;
    if !status.success() {
        let skip = lines.len().saturating_sub(FAIL_LINES);
        eprintln!("[xtask] $ {line}");
        if skip > 0 {
            eprintln!("[xtask] ... ({skip} lines before)");
        }
        for l in &lines[skip..] {
            eprintln!("{l}");
        }
        bail!("{what} failed ({status}); its output is above (-v shows every command as it runs)");
    }
    Ok(())
}

/// Runs `cmd` with its output shown as it comes (test runs, whose whole
/// output is the point), printing the command line with `-v`.
pub fn run_shown(cmd: &mut Command) -> Result<()> {
    let line = display(cmd);
    if verbose() {
        println!("[xtask] $ {line}");
    }
    let status = cmd.status().map_err(|e| anyhow::anyhow!(start_error(cmd, &e)))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` quietly, returning its output; fails if it cannot start.
pub fn output(cmd: &mut Command) -> Result<Output> {
    cmd.output().map_err(|e| anyhow::anyhow!(start_error(cmd, &e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_names_its_package() {
        let cmd = Command::new("qemu-system-aarch64");
        let e = std::io::Error::from(std::io::ErrorKind::NotFound);
        assert_eq!(start_error(&cmd, &e), "qemu-system-aarch64 is not installed: run `cargo xtask setup` (Debian package qemu-system-arm)");
        let msg = start_error(&Command::new("no-such-tool"), &e);
        assert!(!msg.contains('\n') && msg.contains("no-such-tool"), "{msg}");
    }

    #[test]
    fn quiet_run_fails_with_one_line_and_succeeds_silently() {
        run_quiet(Command::new("sh").args(["-c", "echo hidden"]), "echo").unwrap();
        let e = run_quiet(Command::new("sh").args(["-c", "echo boom >&2; exit 3"]), "the step").unwrap_err().to_string();
        assert!(e.starts_with("the step failed") && !e.contains('\n'), "{e}");
        let e = run(&mut Command::new("/no/such/program")).unwrap_err().to_string();
        assert!(e.contains("not installed"), "{e}");
    }
}

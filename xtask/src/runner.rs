//! Runs QEMU (or any console program) with its console captured: a thread per
//! output pipe appends to a shared buffer and a log file, and callers wait for
//! text with a deadline instead of sleeping.

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Options {
    /// Full console log, written as it arrives.
    pub log: PathBuf,
    /// Copy the console to our stdout as it arrives.
    pub echo: bool,
    /// Keep a pipe to the program's stdin for `send`; otherwise stdin is null.
    pub stdin: bool,
}

#[derive(Default)]
struct State {
    text: String,
    open_streams: u8,
}

struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A reader thread that panicked leaves consistent data behind (only appends).
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The error of a wait that reached its deadline while the program still
/// ran: the harness tells a hang (worth a register dump) from a failed
/// check by it (`anyhow::Error::downcast_ref` sees through contexts).
#[derive(Debug)]
pub struct TimedOut(pub String);

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TimedOut {}

/// Whether `e` (or an error it wraps) is a `TimedOut`.
pub fn is_timeout(e: &anyhow::Error) -> bool {
    e.chain().any(|c| c.is::<TimedOut>())
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Exit code; None when killed (timeout) or ended by a signal.
    pub status: Option<i32>,
    pub timed_out: bool,
    pub elapsed: Duration,
}

pub struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    shared: Arc<Shared>,
    /// Waits search from here, so consecutive waits see consecutive output.
    cursor: usize,
    started: Instant,
    pub log: PathBuf,
    pub cmdline: String,
}

/// Starts `cmd` with its output captured as `opts` says.
pub fn spawn(mut cmd: Command, opts: &Options) -> Result<Running> {
    let cmdline = crate::cmd::display(&cmd);
    if let Some(dir) = opts.log.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut log =
        File::create(&opts.log).with_context(|| format!("cannot create {}", opts.log.display()))?;
    writeln!(log, "$ {cmdline}")?;
    let log = Arc::new(Mutex::new(log));
    cmd.stdin(if opts.stdin {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| anyhow::anyhow!(crate::cmd::start_error(&cmd, &e)))?;
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            text: String::new(),
            open_streams: 2,
        }),
        changed: Condvar::new(),
    });
    let out: Box<dyn Read + Send> = Box::new(
        child
            .stdout
            .take()
            .ok_or_else(|| anyhow!("no stdout pipe"))?,
    );
    let err: Box<dyn Read + Send> = Box::new(
        child
            .stderr
            .take()
            .ok_or_else(|| anyhow!("no stderr pipe"))?,
    );
    for pipe in [out, err] {
        let (shared, log, echo) = (shared.clone(), log.clone(), opts.echo);
        thread::spawn(move || pump(pipe, &shared, &log, echo));
    }
    Ok(Running {
        stdin: child.stdin.take(),
        child,
        shared,
        cursor: 0,
        started: Instant::now(),
        log: opts.log.clone(),
        cmdline,
    })
}

/// Copies one pipe into the shared console until EOF.
fn pump(mut pipe: Box<dyn Read + Send>, shared: &Shared, log: &Mutex<File>, echo: bool) {
    let mut buf = [0u8; 4096];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match pipe.read(&mut buf) {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        if n == 0 {
            break;
        }
        if let Ok(mut f) = log.lock() {
            // A log write error must not stop the console capture.
            let _ = f.write_all(&buf[..n]);
        }
        if echo {
            let mut stdout = std::io::stdout().lock();
            let _ = stdout.write_all(&buf[..n]);
            let _ = stdout.flush();
        }
        pending.extend_from_slice(&buf[..n]);
        let text = take_text(&mut pending);
        shared.lock().text.push_str(&text);
        shared.changed.notify_all();
    }
    let mut state = shared.lock();
    state.text.push_str(&String::from_utf8_lossy(&pending));
    state.open_streams -= 1;
    drop(state);
    shared.changed.notify_all();
}

/// Decodes the complete UTF-8 prefix of `pending`, keeping a split character
/// for the next read; invalid bytes become U+FFFD.
fn take_text(pending: &mut Vec<u8>) -> String {
    let keep = match std::str::from_utf8(pending) {
        Ok(_) => 0,
        Err(e) if e.error_len().is_none() => pending.len() - e.valid_up_to(),
        Err(_) => 0,
    };
    let rest = pending.split_off(pending.len() - keep);
    let text = String::from_utf8_lossy(pending).into_owned();
    *pending = rest;
    text
}

impl Running {
    /// Waits until `re` matches console output after the previous match, and
    /// returns the capture groups (0 = whole match). Fails at the deadline or
    /// when the program's output ends without a match.
    pub fn wait_for(&mut self, re: &Regex, deadline: Instant) -> Result<Vec<String>> {
        let mut state = self.shared.lock();
        loop {
            if let Some(caps) = re.captures(&state.text[self.cursor..]) {
                let groups = caps
                    .iter()
                    .map(|m| m.map_or(String::new(), |m| m.as_str().to_string()))
                    .collect();
                self.cursor += caps.get(0).map_or(0, |m| m.end());
                return Ok(groups);
            }
            if state.open_streams == 0 {
                bail!("output ended (program exited) before /{re}/ appeared");
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(TimedOut(format!("timed out waiting for /{re}/")).into());
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Like `wait_for` with a plain substring.
    pub fn wait_for_text(&mut self, text: &str, deadline: Instant) -> Result<()> {
        self.wait_for(&Regex::new(&regex::escape(text))?, deadline)
            .map(drop)
    }

    /// Types `text` into the program's stdin (needs `Options::stdin`).
    pub fn send(&mut self, text: &str) -> Result<()> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| anyhow!("started without a stdin pipe"))?;
        stdin.write_all(text.as_bytes())?;
        stdin.flush()?;
        Ok(())
    }

    /// Everything the program printed so far.
    pub fn console(&self) -> String {
        self.shared.lock().text.clone()
    }

    /// Waits until the program's output ends (it exited) or `deadline`
    /// (None = no deadline) passes; true when it ended. Kills nothing.
    pub fn wait_exit(&self, deadline: Option<Instant>) -> bool {
        // Both pipes reach EOF when the program exits, so the reader threads
        // tell us about the exit without polling.
        let mut state = self.shared.lock();
        while state.open_streams > 0 {
            match deadline {
                None => {
                    state = self
                        .shared
                        .changed
                        .wait(state)
                        .unwrap_or_else(|e| e.into_inner())
                }
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        return false;
                    }
                    state = self
                        .shared
                        .changed
                        .wait_timeout(state, d - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
            }
        }
        true
    }

    /// Waits for the program to end (None = no deadline); kills it at the deadline.
    pub fn finish(&mut self, deadline: Option<Instant>) -> Result<Outcome> {
        let timed_out = !self.wait_exit(deadline);
        self.stdin = None;
        if timed_out {
            // kill fails only if the process is already gone, which is fine.
            let _ = self.child.kill();
        }
        let status = self.child.wait().context("waiting for the program")?;
        Ok(Outcome {
            status: if timed_out { None } else { status.code() },
            timed_out,
            elapsed: self.started.elapsed(),
        })
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the program has not exited yet.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Appends `text` to the log file (after the console so far).
    pub fn append_to_log(&self, text: &str) -> Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&self.log)
            .with_context(|| format!("cannot append to {}", self.log.display()))?;
        f.write_all(text.as_bytes())?;
        Ok(())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Never leave a QEMU behind, e.g. when a test step returns an error early.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Our exit code for a child's status: the same code, 1 when it does not fit
/// or the child was killed.
pub fn exit_code(status: Option<i32>) -> std::process::ExitCode {
    match status.map(u8::try_from) {
        Some(Ok(code)) => std::process::ExitCode::from(code),
        _ => std::process::ExitCode::FAILURE,
    }
}

/// Prints the console after a failure: all of it when short, else the last
/// `lines` lines, and the log path.
pub fn print_failure_console(console: &str, log: &Path, lines: usize) {
    let all: Vec<&str> = console.lines().collect();
    let start = all.len().saturating_sub(lines);
    if start > 0 {
        println!("---- console (last {lines} of {} lines) ----", all.len());
    } else {
        println!("---- console ----");
    }
    for line in &all[start..] {
        println!("{line}");
    }
    println!("---- end of console; full log: {} ----", log.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(name: &str, stdin: bool) -> Options {
        let log =
            std::env::temp_dir().join(format!("xtask-runner-{}-{name}.log", std::process::id()));
        Options {
            log,
            echo: false,
            stdin,
        }
    }

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script]);
        c
    }

    fn soon() -> Instant {
        Instant::now() + Duration::from_secs(10)
    }

    #[test]
    fn waits_for_lines_in_order_and_reports_status() {
        let mut r = spawn(
            sh("echo one; echo 'n: 42 passed'; echo err >&2; exit 3"),
            &opts("order", false),
        )
        .unwrap();
        let caps = r
            .wait_for(&Regex::new(r"n: (\d+) passed").unwrap(), soon())
            .unwrap();
        assert_eq!(caps[1], "42");
        // "one" came before the previous match, so it is not found again,
        // and the program's end is no timeout.
        let err = r.wait_for_text("one", soon()).unwrap_err();
        assert!(!is_timeout(&err), "{err:#}");
        let out = r.finish(Some(soon())).unwrap();
        assert_eq!(out.status, Some(3));
        assert!(!out.timed_out);
        assert!(r.console().contains("err"));
        let log = std::fs::read_to_string(&r.log).unwrap();
        assert!(log.contains("n: 42 passed"), "{log}");
    }

    #[test]
    fn times_out_and_kills() {
        let mut r = spawn(sh("echo start; exec sleep 30"), &opts("timeout", false)).unwrap();
        let short = Instant::now() + Duration::from_millis(300);
        let err = r.wait_for_text("never", short).unwrap_err();
        assert!(is_timeout(&err), "{err:#}");
        assert!(is_timeout(&err.context("a test step")), "seen through a context");
        assert!(r.is_running());
        let out = r
            .finish(Some(Instant::now() + Duration::from_millis(300)))
            .unwrap();
        assert!(out.timed_out);
        assert_eq!(out.status, None);
        assert!(out.elapsed < Duration::from_secs(10));
    }

    #[test]
    fn sends_input() {
        let mut r = spawn(sh("read line; echo \"got $line\""), &opts("stdin", true)).unwrap();
        r.send("hello\n").unwrap();
        r.wait_for_text("got hello", soon()).unwrap();
        assert_eq!(r.finish(Some(soon())).unwrap().status, Some(0));
    }

    #[test]
    fn keeps_split_utf8_characters_whole() {
        let mut pending = vec![b'a', 0xc3];
        assert_eq!(take_text(&mut pending), "a");
        pending.push(0xa9);
        assert_eq!(take_text(&mut pending), "é");
        assert!(pending.is_empty());
    }
}

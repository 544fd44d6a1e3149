//! A tiny test framework for the root program (contracts.md protocol):
//! one `[PASS] name` / `[FAIL] name: detail` line per check, then
//! `root-test: N passed, M failed`, then SYSTEM_OFF or semihosting exit 1.
//!
//! [`Tally`] and the line formats are pure (host-tested); the global tally,
//! the macros and [`finish`] print to the console (bare metal only).
use core::fmt::{self, Write};

/// Pass and fail counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub passed: u32,
    pub failed: u32,
}

impl Tally {
    /// Counts one check and writes its line to `out`.
    pub fn record(
        &mut self,
        out: &mut impl Write,
        name: &str,
        ok: bool,
        detail: fmt::Arguments,
    ) -> fmt::Result {
        if ok {
            self.passed = self.passed.saturating_add(1);
            writeln!(out, "[PASS] {name}")
        } else {
            self.failed = self.failed.saturating_add(1);
            writeln!(out, "[FAIL] {name}: {detail}")
        }
    }

    /// Writes the summary line.
    pub fn summary(&self, out: &mut impl Write) -> fmt::Result {
        writeln!(
            out,
            "root-test: {} passed, {} failed",
            self.passed, self.failed
        )
    }

    pub fn all_passed(&self) -> bool {
        self.failed == 0
    }
}

#[cfg(target_os = "none")]
mod global {
    use super::Tally;
    use core::fmt;
    use core::sync::atomic::{AtomicU32, Ordering};

    static PASSED: AtomicU32 = AtomicU32::new(0);
    static FAILED: AtomicU32 = AtomicU32::new(0);

    /// One console line assembled in place, so that a check's line goes out
    /// in one `print!` and lines of checks on several CPUs do not mix.
    /// Overlong lines are cut.
    struct Line {
        buf: [u8; 240],
        len: usize,
    }

    impl fmt::Write for Line {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }

    impl Line {
        fn new() -> Self {
            Self {
                buf: [0; 240],
                len: 0,
            }
        }

        fn print(&self) {
            let bytes = &self.buf[..self.len];
            let text = match core::str::from_utf8(bytes) {
                Ok(t) => t,
                // A cut inside a multi-byte character: drop its start.
                Err(e) => core::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or(""),
            };
            let newline = if text.ends_with('\n') { "" } else { "\n" };
            crate::print!("{text}{newline}");
        }
    }

    /// Records one check in the program-wide tally and prints its line.
    /// Returns `ok`.
    pub fn record(name: &str, ok: bool, detail: fmt::Arguments) -> bool {
        let mut t = Tally::default();
        let mut line = Line::new();
        let _ = t.record(&mut line, name, ok, detail);
        line.print();
        PASSED.fetch_add(t.passed, Ordering::Relaxed);
        FAILED.fetch_add(t.failed, Ordering::Relaxed);
        ok
    }

    /// The program-wide tally so far.
    pub fn tally() -> Tally {
        Tally {
            passed: PASSED.load(Ordering::Relaxed),
            failed: FAILED.load(Ordering::Relaxed),
        }
    }

    /// Prints the summary and ends the run: SYSTEM_OFF when every check
    /// passed (QEMU exits 0), else semihosting exit status 1.
    pub fn finish() -> ! {
        let t = tally();
        let mut line = Line::new();
        let _ = t.summary(&mut line);
        line.print();
        if t.all_passed() {
            crate::psci::system_off()
        } else {
            crate::semihosting::exit(1)
        }
    }
}

#[cfg(target_os = "none")]
pub use global::{finish, record, tally};

/// `check!(name, cond)` or `check!(name, cond, "detail {}", args...)`;
/// evaluates to the condition.
#[macro_export]
macro_rules! check {
    ($name:expr, $cond:expr $(,)?) => {
        $crate::check::record($name, $cond, format_args!("{}", stringify!($cond)))
    };
    ($name:expr, $cond:expr, $($detail:tt)+) => {
        $crate::check::record($name, $cond, format_args!($($detail)+))
    };
}

/// `check_eq!(name, left, right)`: passes when `left == right`, else prints
/// both values.
#[macro_export]
macro_rules! check_eq {
    ($name:expr, $left:expr, $right:expr $(,)?) => {{
        let (l, r) = (&$left, &$right);
        $crate::check::record(
            $name,
            l == r,
            format_args!("{} = {:?}, expected {:?}", stringify!($left), l, r),
        )
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_formats_lines() {
        let mut t = Tally::default();
        let mut out = String::new();
        t.record(&mut out, "a", true, format_args!("unused"))
            .unwrap();
        t.record(
            &mut out,
            "b",
            false,
            format_args!("x = {}, expected {}", 1, 2),
        )
        .unwrap();
        t.record(&mut out, "c", true, format_args!("")).unwrap();
        t.summary(&mut out).unwrap();
        assert_eq!(
            out,
            "[PASS] a\n[FAIL] b: x = 1, expected 2\n[PASS] c\nroot-test: 2 passed, 1 failed\n"
        );
        assert_eq!(
            t,
            Tally {
                passed: 2,
                failed: 1
            }
        );
        assert!(!t.all_passed());
    }

    #[test]
    fn empty_tally_passes() {
        let t = Tally::default();
        let mut out = String::new();
        t.summary(&mut out).unwrap();
        assert_eq!(out, "root-test: 0 passed, 0 failed\n");
        assert!(t.all_passed());
    }
}

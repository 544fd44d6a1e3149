//! The system tests that run on QEMU, as a table. To add one, append a
//! `SysTest` to `SYSTEM_TESTS`; `cargo xtask test <part of its name>` runs it.
//!
//! Paths in `bundle` and `Boot::First` are relative to target/images and
//! name files `cargo xtask build` produces (inmates/<name>.bin, configs/<name>.cell).

use crate::harness::Ctx;
use crate::runner::Running;
use anyhow::Result;
use std::time::Instant;

/// How QEMU is started.
#[derive(Clone, Copy)]
pub enum Boot {
    /// The hypervisor boots first with `config`; `root` is loaded at the root
    /// cell's cpu_reset_address.
    First {
        root: &'static str,
        config: &'static str,
    },
    /// Any other start (e.g. Linux from xtask/src/guest): returns the QEMU
    /// arguments; the harness adds nothing.
    Custom(fn(&Ctx) -> Result<Vec<String>>),
}

/// A file placed in the bundle at 0x4800_0000 under `name`.
#[derive(Clone, Copy)]
pub struct BundleFile {
    pub name: &'static str,
    pub path: &'static str,
}

/// Judges the capture groups of an expected line (0 = the whole match).
pub type CapsCheck = fn(&[String]) -> Result<(), String>;

/// A console line to wait for, in order; `check` judges its capture groups.
#[derive(Clone, Copy)]
pub struct Expect {
    pub regex: &'static str,
    pub check: Option<CapsCheck>,
}

#[derive(Clone, Copy)]
pub struct SysTest {
    pub name: &'static str,
    pub boot: Boot,
    pub bundle: &'static [BundleFile],
    /// Write the bundle address into the image header so the hypervisor itself
    /// creates and starts the bundle's `cell:<name>` entries at boot.
    pub start_bundle_cells: bool,
    /// Steps that type into the console (Linux shell tests); runs before `expect`.
    pub interact: Option<fn(&mut Running, Instant) -> Result<()>>,
    pub expect: &'static [Expect],
    /// Text that must not appear anywhere in the console.
    pub forbid: &'static [&'static str],
    /// Required QEMU exit status.
    pub exit_status: i32,
    pub timeout_s: u64,
}

/// Lines every test forbids in addition to its own list.
pub const ALWAYS_FORBIDDEN: &[&str] = &["[FAIL]", "PANIC"];

fn some_passed(caps: &[String]) -> Result<(), String> {
    match caps.get(1).map(|n| n.parse::<u32>()) {
        Some(Ok(n)) if n > 0 => Ok(()),
        _ => Err(format!(
            "expected at least one passed check, got {:?}",
            caps.first()
        )),
    }
}

pub const SYSTEM_TESTS: &[SysTest] = &[SysTest {
    name: "boot-first-root",
    boot: Boot::First {
        root: "inmates/root-test.bin",
        config: "configs/qemu-virt.cell",
    },
    bundle: &[],
    start_bundle_cells: false,
    interact: None,
    expect: &[Expect {
        regex: r"root-test: (\d+) passed, 0 failed",
        check: Some(some_passed),
    }],
    forbid: &[],
    exit_status: 0,
    timeout_s: 60,
}];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_regexes_compile() {
        let mut names: Vec<_> = SYSTEM_TESTS.iter().map(|t| t.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SYSTEM_TESTS.len());
        for t in SYSTEM_TESTS {
            for e in t.expect {
                regex::Regex::new(e.regex).unwrap();
            }
        }
    }

    #[test]
    fn some_passed_wants_a_positive_count() {
        assert!(some_passed(&["x".into(), "3".into()]).is_ok());
        assert!(some_passed(&["x".into(), "0".into()]).is_err());
        assert!(some_passed(&["x".into()]).is_err());
    }
}

//! Where things are: the workspace root, cargo's target dir and xtask's outputs.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Target triple of the EL2 image and of the inmates.
pub const BARE_TARGET: &str = "aarch64-unknown-none";
/// The hypervisor's target: no FP/SIMD code at EL2, so the guests' FP/SIMD
/// registers survive traps without being saved.
pub const HV_TARGET: &str = "aarch64-unknown-none-softfloat";

#[derive(Debug, Clone)]
pub struct Paths {
    /// The workspace root (the folder holding the top-level Cargo.toml).
    pub root: PathBuf,
    /// Cargo's target dir for the builds xtask starts (CARGO_TARGET_DIR if set).
    pub cargo_target: PathBuf,
    /// xtask's own outputs always go to `<root>/target`, whatever CARGO_TARGET_DIR says,
    /// so that every engineer and CI find the images in one place.
    pub out: PathBuf,
}

impl Paths {
    pub fn discover() -> Self {
        // CARGO_MANIFEST_DIR is baked in at compile time: xtask always lives in
        // <root>/xtask, wherever it is run from.
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = manifest.parent().unwrap_or(manifest).to_path_buf();
        let out = root.join("target");
        let cargo_target = match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) if !dir.is_empty() => root.join(dir),
            _ => out.clone(),
        };
        Paths {
            root,
            cargo_target,
            out,
        }
    }

    pub fn images(&self) -> PathBuf {
        self.out.join("images")
    }

    pub fn inmate_images(&self) -> PathBuf {
        self.images().join("inmates")
    }

    pub fn config_images(&self) -> PathBuf {
        self.images().join("configs")
    }

    pub fn test_logs(&self) -> PathBuf {
        self.out.join("test-logs")
    }

    /// A cargo command run from the workspace root, with the cargo that runs xtask.
    pub fn cargo(&self) -> Command {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| OsString::from("cargo"));
        let mut cmd = Command::new(cargo);
        cmd.current_dir(&self.root);
        cmd.env("CARGO_TARGET_DIR", &self.cargo_target);
        cmd
    }

    /// Cargo's release output folder for `target` (None = host).
    pub fn release_dir(&self, target: Option<&str>) -> PathBuf {
        match target {
            Some(t) => self.cargo_target.join(t).join("release"),
            None => self.cargo_target.join("release"),
        }
    }
}

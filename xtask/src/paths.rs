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
    /// The paths of the workspace xtask runs in (see `find_root`); exits with
    /// a message when there is none.
    pub fn discover() -> Self {
        let env = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        let cwd = std::env::current_dir().ok();
        let exe = std::env::current_exe().ok();
        match find_root(env.as_deref(), cwd.as_deref(), exe.as_deref()) {
            Ok(root) => Self::at(root),
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(2);
            }
        }
    }

    pub fn at(root: PathBuf) -> Self {
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

/// Whether `dir` is a sysHyper workspace root: a Cargo.toml with a
/// `[workspace]` table and xtask's own manifest in `xtask/` (the fuzz crate's
/// stand-alone `[workspace]` does not count).
pub fn is_workspace_root(dir: &Path) -> bool {
    let has_workspace = std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|t| t.lines().any(|l| l.trim() == "[workspace]"));
    let has_xtask = std::fs::read_to_string(dir.join("xtask/Cargo.toml"))
        .is_ok_and(|t| t.lines().any(|l| l.trim() == r#"name = "xtask""#));
    has_workspace && has_xtask
}

/// The workspace to work on, decided at run time, never from where this
/// binary was compiled: a tree copied with its target/ reuses the binary
/// built in the original tree, and must still build into the copy.
///
/// In order: `manifest_dir`, the CARGO_MANIFEST_DIR that `cargo run` (so
/// `cargo xtask`) sets for the package it runs, if it is `<root>/xtask` of a
/// workspace (it names the tree cargo itself resolved, even when run with
/// --manifest-path from elsewhere); else the nearest workspace at or above
/// `cwd` (the binary started by hand inside a tree); else the one holding
/// the binary `exe` (target/debug/xtask started from outside any tree).
pub fn find_root(
    manifest_dir: Option<&Path>,
    cwd: Option<&Path>,
    exe: Option<&Path>,
) -> Result<PathBuf, String> {
    if let Some(root) = manifest_dir
        .filter(|d| d.file_name().is_some_and(|n| n == "xtask"))
        .and_then(Path::parent)
        .filter(|r| is_workspace_root(r))
    {
        return Ok(root.to_path_buf());
    }
    let above = |start: Option<&Path>| {
        start.and_then(|s| s.ancestors().find(|d| is_workspace_root(d)).map(Path::to_path_buf))
    };
    above(cwd).or_else(|| above(exe)).ok_or_else(|| {
        format!(
            "no sysHyper workspace (a Cargo.toml with [workspace] and xtask/) at or above {}; \
             run `cargo xtask` inside the source tree",
            cwd.map_or("the current directory".into(), |d| d.display().to_string())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake workspace under a fresh temporary folder: the two manifests
    /// discovery looks at, a member crate and a nested fuzz workspace.
    fn fake_tree(tag: &str) -> PathBuf {
        let base = std::env::temp_dir().join(format!("xtask-paths-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        let root = base.join("tree");
        for (file, text) in [
            ("Cargo.toml", "[workspace]\nmembers = [\"xtask\", \"tools\"]\n"),
            ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\n"),
            ("tools/Cargo.toml", "[package]\nname = \"tools\"\n"),
            ("tools/src/main.rs", ""),
            ("fuzz/Cargo.toml", "[package]\nname = \"fuzz\"\n\n[workspace]\n"),
            ("target/debug/xtask", ""),
        ] {
            let path = root.join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        }
        root
    }

    /// `cp -a`, enough for the fake tree.
    fn copy_tree(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let dest = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy_tree(&e.path(), &dest);
            } else {
                std::fs::copy(e.path(), dest).unwrap();
            }
        }
    }

    #[test]
    fn a_copied_tree_is_found_as_itself() {
        let orig = fake_tree("copy");
        let copy = orig.parent().unwrap().join("copy");
        copy_tree(&orig, &copy);
        let exe = orig.join("target/debug/xtask");
        // `cargo xtask` in the copy with the binary reused from the original:
        // cargo's run-time CARGO_MANIFEST_DIR names the copy.
        assert_eq!(find_root(Some(&copy.join("xtask")), Some(&copy), Some(&exe)).unwrap(), copy);
        // Started by hand anywhere inside the copy, even inside the fuzz crate.
        for dir in ["", "tools/src", "fuzz", "target/debug"] {
            assert_eq!(find_root(None, Some(&copy.join(dir)), Some(&exe)).unwrap(), copy, "{dir}");
        }
        assert_eq!(find_root(None, Some(&orig.join("tools")), None).unwrap(), orig);
        std::fs::remove_dir_all(orig.parent().unwrap()).unwrap();
    }

    #[test]
    fn only_a_real_workspace_is_taken() {
        let root = fake_tree("checks");
        let outside = root.parent().unwrap().to_path_buf();
        let exe = root.join("target/debug/xtask");
        // CARGO_MANIFEST_DIR of another package is not taken for the root.
        assert_eq!(find_root(Some(&root.join("tools")), Some(&outside), Some(&exe)).unwrap(), root);
        // Outside any tree: the tree holding the binary.
        assert_eq!(find_root(None, Some(&outside), Some(&exe)).unwrap(), root);
        assert!(find_root(None, Some(&outside), None).unwrap_err().contains("no sysHyper workspace"));
        // A Cargo.toml without [workspace] (a member crate) is no root.
        assert!(!is_workspace_root(&root.join("tools")));
        assert!(!is_workspace_root(&root.join("fuzz")));
        std::fs::write(root.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
        assert!(find_root(Some(&root.join("xtask")), Some(&root), None).is_err());
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn this_workspace_is_found_from_here() {
        // cargo test runs with the package folder as the current directory.
        let here = std::env::current_dir().unwrap();
        let root = find_root(None, Some(&here), None).unwrap();
        assert!(root.join("hypervisor").is_dir() && root.join("xtask/src/paths.rs").is_file());
    }
}

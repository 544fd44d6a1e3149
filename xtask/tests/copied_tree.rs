//! The built xtask binary works on the tree it is run in, not on the one it
//! was compiled in: a copy of a tree (target/ and this binary included)
//! builds into the copy.

use std::path::{Path, PathBuf};
use std::process::Command;

fn fake_tree(base: &Path) -> PathBuf {
    let root = base.join("tree");
    for (file, text) in [
        ("Cargo.toml", "[workspace]\nmembers = [\"xtask\"]\n"),
        ("xtask/Cargo.toml", "[package]\nname = \"xtask\"\n"),
        ("tools/src/main.rs", ""),
    ] {
        let path = root.join(file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    root
}

/// `cargo xtask paths` run by the binary under test in `cwd`.
fn root_seen(cwd: &Path, manifest_dir: Option<&Path>) -> PathBuf {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_xtask"));
    cmd.arg("paths").current_dir(cwd).env_remove("CARGO_TARGET_DIR");
    match manifest_dir {
        Some(d) => cmd.env("CARGO_MANIFEST_DIR", d),
        None => cmd.env_remove("CARGO_MANIFEST_DIR"),
    };
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let root = text.lines().find_map(|l| l.strip_prefix("root ")).unwrap();
    assert!(text.contains(&format!("out {root}/target\n")), "{text}");
    PathBuf::from(root)
}

#[test]
fn a_copy_works_on_itself() {
    let base = std::env::temp_dir().join(format!("xtask-copied-tree-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    let orig = fake_tree(&base);
    let copy = base.join("copy");
    let status = Command::new("cp").arg("-a").arg(&orig).arg(&copy).status().unwrap();
    assert!(status.success());
    assert_eq!(root_seen(&copy, None), copy);
    assert_eq!(root_seen(&copy.join("tools/src"), None), copy);
    // What `cargo xtask` sets in the copy, whatever the current directory.
    assert_eq!(root_seen(&base, Some(&copy.join("xtask"))), copy);
    assert_eq!(root_seen(&orig, None), orig);
    std::fs::remove_dir_all(&base).unwrap();
    // Outside any tree: the tree holding this binary (this workspace, unless
    // the build went to a target dir elsewhere).
    if std::env::var_os("CARGO_TARGET_DIR").is_some() {
        return;
    }
    let here = root_seen(&std::env::temp_dir(), None);
    assert!(here.join("xtask/src/paths.rs").is_file(), "{}", here.display());
}

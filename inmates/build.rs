//! Links every inmate bin at its load address, only for the bare-metal target.
//!
//! The address is a link-time constant because the programs run with the MMU
//! off and use absolute addresses in data (vtables, panic locations). One
//! linker script per address is generated into OUT_DIR from `link.ld.in`.
//! - `root-test`: `ROOT_TEST_BASE`, default 0x4020_0000 (contracts.md).
//! - every other bin: `INMATE_BASE`, default 0 (a cell's guest-physical 0);
//!   set it to e.g. 0x40200000 to run a demo natively on QEMU virt.
use std::path::{Path, PathBuf};

const ROOT_TEST: &str = "root-test";
/// The isolation suite's root program, linked like root-test.
const ISOLATION_ROOT: &str = "isolation-root";
const ROOT_TEST_DEFAULT_BASE: u64 = 0x4020_0000;
const INMATE_DEFAULT_BASE: u64 = 0;

fn main() {
    println!("cargo:rerun-if-changed=link.ld.in");
    println!("cargo:rerun-if-changed=src/bin");
    println!("cargo:rerun-if-env-changed=INMATE_BASE");
    println!("cargo:rerun-if-env-changed=ROOT_TEST_BASE");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let manifest =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let template = std::fs::read_to_string(manifest.join("link.ld.in"))
        .expect("inmates/link.ld.in is readable");

    let inmate_base = base_from_env("INMATE_BASE", INMATE_DEFAULT_BASE);
    let root_base = base_from_env("ROOT_TEST_BASE", ROOT_TEST_DEFAULT_BASE);
    let inmate_ld = write_script(&out, "inmate.ld", &template, inmate_base);
    let root_ld = write_script(&out, "root-test.ld", &template, root_base);

    for name in bin_names(&manifest.join("src/bin")) {
        let script = if name == ROOT_TEST || name == ISOLATION_ROOT {
            &root_ld
        } else {
            &inmate_ld
        };
        println!("cargo:rustc-link-arg-bin={name}=-T{}", script.display());
    }
}

fn base_from_env(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(text) => parse_u64(&text).unwrap_or_else(|| panic!("{var}={text:?} is not a number")),
        Err(_) => default,
    }
}

fn parse_u64(text: &str) -> Option<u64> {
    let t = text.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => t.replace('_', "").parse().ok(),
    }
}

fn write_script(out: &Path, file: &str, template: &str, base: u64) -> PathBuf {
    assert!(
        base.is_multiple_of(4096),
        "inmate link address {base:#x} must be page aligned"
    );
    let path = out.join(file);
    std::fs::write(&path, template.replace("@BASE@", &format!("{base:#x}")))
        .expect("OUT_DIR is writable");
    path
}

/// Bins cargo discovers: `src/bin/<name>.rs` and `src/bin/<name>/main.rs`.
fn bin_names(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for path in entries.flatten().map(|e| e.path()) {
        let stem = if path.is_dir() && path.join("main.rs").is_file() {
            path.file_name()
        } else if path.extension().is_some_and(|e| e == "rs") {
            path.file_stem()
        } else {
            None
        };
        if let Some(stem) = stem {
            names.push(stem.to_string_lossy().into_owned());
        }
    }
    names
}

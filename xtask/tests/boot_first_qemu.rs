//! Boots QEMU the boot-first way with stand-in images (fixtures/*.S, built
//! with the cross binutils that `cargo xtask setup` installs) and checks that
//! the blob, the root program and the bundle land where contracts.md says,
//! through the same runner the system tests use.

use regex::Regex;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use xtask::qemu::{self, BootFirst};
use xtask::runner::{self, Options};

fn assemble(name: &str, dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.S"));
    let (obj, elf, bin) = (
        dir.join(format!("{name}.o")),
        dir.join(format!("{name}.elf")),
        dir.join(format!("{name}.bin")),
    );
    let steps: [(&str, Vec<&std::ffi::OsStr>); 3] = [
        (
            "aarch64-linux-gnu-as",
            vec!["-o".as_ref(), obj.as_os_str(), src.as_os_str()],
        ),
        (
            "aarch64-linux-gnu-ld",
            vec![
                "-Ttext=0".as_ref(),
                "-e0".as_ref(),
                "-o".as_ref(),
                elf.as_os_str(),
                obj.as_os_str(),
            ],
        ),
        (
            "llvm-objcopy",
            vec![
                "-O".as_ref(),
                "binary".as_ref(),
                elf.as_os_str(),
                bin.as_os_str(),
            ],
        ),
    ];
    for (tool, args) in steps {
        let out = Command::new(tool)
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("{tool}: {e} (run `cargo xtask setup`)"));
        assert!(
            out.status.success(),
            "{tool} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    bin
}

/// System config: hypervisor memory 0x7fc00000 (4 MiB), root CPUs 0-1,
/// root cpu_reset_address 0x40200000.
fn system_config() -> Vec<u8> {
    let mut c = vec![0u8; 488 + 8];
    c[..5].copy_from_slice(b"JHSYS");
    c[5] = 2;
    c[6..8].copy_from_slice(&14u16.to_le_bytes());
    c[12..20].copy_from_slice(&0x7fc0_0000u64.to_le_bytes());
    c[28..36].copy_from_slice(&0x40_0000u64.to_le_bytes());
    c[356..361].copy_from_slice(b"JHCLL");
    c[356 + 48..356 + 52].copy_from_slice(&8u32.to_le_bytes());
    c[356 + 84..356 + 92].copy_from_slice(&0x4020_0000u64.to_le_bytes());
    c[488] = 0b11;
    c
}

#[test]
fn boot_first_places_blob_root_program_and_bundle() {
    let dir = std::env::temp_dir().join(format!("xtask-boot-first-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("sys.cell");
    std::fs::write(&config, system_config()).unwrap();
    let payload = dir.join("payload");
    std::fs::write(&payload, "Zpayload").unwrap();
    let boot = BootFirst {
        hv_image: assemble("fake_hv", &dir),
        system_config: config,
        root_program: Some(assemble("fake_root", &dir)),
        bundle: vec![("payload".into(), payload)],
        start_bundle_cells: true,
        ..BootFirst::default()
    };
    let mut args = qemu::machine_args();
    args.extend(boot.qemu_args(&dir).unwrap());
    let opts = Options {
        log: dir.join("console.log"),
        echo: false,
        stdin: false,
    };
    let mut q = runner::spawn(qemu::command(&args), &opts).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let re = |s: &str| Regex::new(&regex::escape(s)).unwrap();
    let steps = [
        re("fake-hv: cpus 2/2 config J boot_bundle 1"),
        re("fake-root: bundle SZ"),
        Regex::new(r"root-test: (\d+) passed, 0 failed").unwrap(),
    ];
    for step in &steps {
        if let Err(e) = q.wait_for(step, deadline) {
            panic!("{e:#}\nconsole:\n{}", q.console());
        }
    }
    let outcome = q.finish(Some(deadline)).unwrap();
    assert_eq!(outcome.status, Some(0), "console:\n{}", q.console());
    std::fs::remove_dir_all(&dir).unwrap();
}

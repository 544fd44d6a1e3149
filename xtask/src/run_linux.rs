//! `cargo xtask run`: the main job, Debian Linux as the root cell on QEMU.
//!
//! The Linux side (kernel download, module, initramfs, QEMU arguments) lives in
//! xtask/src/guest (owned by the "linux" engineer); this file parses the
//! command line, puts the pieces together and runs QEMU.

use crate::paths::Paths;
use crate::platform::Platform;
use crate::{cmd, guest, qemu, runner};
use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Stop at a root shell instead of running the demo.
    #[arg(long)]
    pub shell: bool,
    /// Run the ivshmem demo instead: the root and the ivshmem-demo cell
    /// exchange hello texts and ping-pong records (guest/ivshmem-demo.sh).
    #[arg(long, conflicts_with_all = ["shell", "script", "boot_first"])]
    pub ivshmem: bool,
    /// Boot Debian's kernel in a Linux cell on CPUs 2-3 (configs/linux-cell.toml)
    /// with its own initramfs, show its console, then shut it down and destroy it
    /// (guest/linux-cell-demo.sh).
    #[arg(long, conflicts_with_all = ["shell", "script", "boot_first", "ivshmem"])]
    pub linux_cell: bool,
    /// Boot the hypervisor first and Linux as its root cell (instead of enabling it from Linux).
    #[arg(long)]
    pub boot_first: bool,
    /// With --boot-first: the hypervisor creates and starts cell NAME at boot
    /// (target/images/configs/NAME.cell, inmates/NAME.bin). Repeatable.
    #[arg(long = "cell", value_name = "NAME", requires = "boot_first")]
    pub cell: Vec<String>,
    /// Add FILE to the guest, at DEST (default /root/<file name>). Repeatable.
    #[arg(long = "with", value_name = "FILE[:DEST]", value_parser = parse_with)]
    pub with: Vec<(PathBuf, String)>,
    /// Run this shell script in the guest in place of the demo; its exit status is ours.
    #[arg(long, value_name = "FILE")]
    pub script: Option<PathBuf>,
    /// CPUs of the QEMU machine (Jailhouse's qemu-arm64 config wants 16;
    /// the system config must name the CPUs Linux brings up).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub smp: u32,
    /// Memory of the QEMU machine, QEMU's -m syntax (MiB, or a K/M/G/T suffix); at
    /// least 1G, as the configs put the hypervisor at the top of the first GiB.
    #[arg(long, value_name = "SIZE", default_value = "1G", value_parser = parse_mem)]
    pub mem: u64,
    /// Debian kernel to boot: a series (6.12), an ABI (6.12.118+deb12,
    /// 6.1.0-57) or a package (linux-image-6.12-arm64); default: Debian's
    /// linux-image-arm64.
    #[arg(long, value_name = "PACKAGE|ABI", value_parser = guest::kernel::Choice::parse)]
    pub kernel: Option<guest::kernel::Choice>,
    /// GIC version of the QEMU machine (2: `gic-version=2`, the system
    /// configuration configs/qemu-virt-gicv2.toml).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub gic: u8,
    /// QEMU machine: `virt` or `zcu102` (QEMU's Xilinx ZCU102 model with
    /// Debian's ZynqMP device tree and configs/zcu102*.toml; its size is
    /// the board's, --smp/--mem/--gic do not apply).
    #[arg(long, value_enum, default_value_t = Platform::Virt, conflicts_with_all = ["ivshmem", "linux_cell", "boot_first"])]
    pub platform: Platform,
}

/// The memory size in MiB; at least 1 GiB (RAM starts at 0x4000_0000 on
/// QEMU's virt machine, and the hypervisor memory of the shipped and of
/// Jailhouse's qemu-arm64 configs is 0x7fc0_0000, Linux keeping below it
/// with `mem=768M`).
pub fn parse_mem(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, shift) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => -10,
                'M' => 0,
                'G' => 10,
                'T' => 20,
                _ => return Err(format!("{s:?}: unknown size suffix {c:?} (K, M, G or T)")),
            };
            (&t[..i], shift)
        }
        _ => (t, 0),
    };
    let n: u64 = num.parse().map_err(|_| format!("{s:?} is not a size like 1G or 2048M"))?;
    let mib = if shift < 0 {
        if !n.is_multiple_of(1024) {
            return Err(format!("{s:?} is not a whole number of MiB"));
        }
        n >> 10
    } else {
        n.checked_shl(shift as u32).filter(|v| v >> shift == n).ok_or_else(|| format!("{s:?} is too large"))?
    };
    if mib < 1024 {
        return Err(format!("{s:?}: at least 1G (the hypervisor memory lies at 0x7fc00000)"));
    }
    Ok(mib)
}

/// Sets the machine size in QEMU arguments built for the default machine
/// (`-smp 4 -m 1G`).
pub fn size_machine(args: &mut [String], smp: u32, mem_mib: u64) {
    for i in 1..args.len() {
        match args[i - 1].as_str() {
            "-smp" => args[i] = smp.to_string(),
            "-m" => args[i] = format!("{mem_mib}M"),
            _ => {}
        }
    }
}

/// `FILE[:DEST]`; the split is at the last ':' so DEST must not contain one.
fn parse_with(s: &str) -> Result<(PathBuf, String), String> {
    let (file, dest) = match s.rsplit_once(':') {
        Some((file, dest)) if dest.starts_with('/') => (file, dest.to_string()),
        Some((_, dest)) => return Err(format!("DEST {dest:?} must be an absolute guest path")),
        None => {
            let name = PathBuf::from(s)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned());
            (
                s,
                format!(
                    "/root/{}",
                    name.ok_or_else(|| format!("{s:?} names no file"))?
                ),
            )
        }
    };
    let path = PathBuf::from(file);
    if !path.is_file() {
        return Err(format!("{file:?} is not a file"));
    }
    Ok((path, dest))
}

/// Runs QEMU with `qemu_args` for the user: with `interactive` the terminal is
/// QEMU's (a shell; Ctrl-A X quits), otherwise the console is shown and logged
/// to target/run/console.log. QEMU's exit status becomes ours.
pub fn run_qemu(p: &Paths, qemu_args: &[String], interactive: bool) -> Result<ExitCode> {
    let status = if interactive {
        let mut cmd = qemu::command(qemu_args);
        println!("[run] {}", cmd::display(&cmd));
        cmd.status()?.code()
    } else {
        let log = p.out.join("run/console.log");
        let opts = runner::Options {
            log: log.clone(),
            echo: true,
            stdin: false,
        };
        let mut q = runner::spawn(qemu::command(qemu_args), &opts)?;
        println!("[run] {}\n[run] console log: {}", q.cmdline, log.display());
        q.finish(None)?.status
    };
    println!("[run] QEMU exit status {status:?}");
    Ok(runner::exit_code(status))
}

/// The demo's configurations on `platform` (guest/demo.sh reads them).
pub fn demo_vars(platform: Platform) -> String {
    match platform {
        Platform::Virt => String::new(),
        Platform::Zcu102 => "SYS_CONFIG=zcu102.cell\nCELL=zcu102-gic-demo\n".to_string(),
    }
}

pub fn run(p: &Paths, args: &RunArgs) -> Result<ExitCode> {
    if args.boot_first {
        return crate::bootfirst_linux::run(p, args);
    }
    let script = match &args.script {
        Some(file) => {
            std::fs::read_to_string(file).with_context(|| format!("--script {}", file.display()))?
        }
        None if args.shell => guest::SHELL_SCRIPT.to_string(),
        None if args.ivshmem => guest::IVSHMEM_SCRIPT.to_string(),
        None if args.linux_cell => guest::LINUX_CELL_SCRIPT.to_string(),
        None => format!("{}{}", demo_vars(args.platform), guest::DEMO_SCRIPT),
    };
    let (g, ko, mut files) = guest::standard_guest(p, &p.out.join("guest"))?;
    if args.linux_cell {
        files.extend(guest::linux_cell_files(&g, &ko, &p.out.join("guest"))?);
    }
    files.extend(args.with.iter().cloned());
    let initrd =
        guest::build_initramfs(&g, &files, &script, &p.out.join("guest/initramfs.cpio.gz"))?;
    let mut qemu_args = guest::linux_qemu_args_prepared(args.platform, &g, &initrd, "")?;
    if args.platform == Platform::Virt {
        size_machine(&mut qemu_args, args.smp, args.mem);
    }
    if args.shell && args.script.is_none() {
        return run_qemu(p, &qemu_args, true);
    }
    let log = p.out.join("run/console.log");
    let opts = runner::Options {
        log: log.clone(),
        echo: true,
        stdin: false,
    };
    let mut q = runner::spawn(qemu::command(&qemu_args), &opts)?;
    cmd::detail(format_args!("[run] {}", q.cmdline));
    println!("[run] booting Debian's kernel {}-arm64 on QEMU ({}); the demo follows (console log: {})", g.abi, args.platform.name(), log.display());
    let outcome = q.finish(None)?;
    // The guest powers off (QEMU status 0) whatever the script returned; the
    // script's own status travels on the console.
    match (outcome.status, guest::exit_status(&q.console())) {
        (Some(0), Some(status)) => {
            println!("[run] guest script exit status {status}");
            Ok(runner::exit_code(Some(status)))
        }
        (status, _) => {
            println!(
                "[run] the guest did not finish its script (QEMU exit status {status:?}); log {}",
                log.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied())).map(|c| c.run)
    }

    #[test]
    fn kernel_is_chosen_by_series_abi_or_package() {
        use guest::kernel::Choice;
        assert_eq!(parse(&[]).unwrap().kernel, None);
        assert_eq!(parse(&["--kernel", "6.12"]).unwrap().kernel, Some(Choice::Package("linux-image-6.12-arm64".into())));
        assert_eq!(parse(&["--kernel", "6.1.0-57"]).unwrap().kernel, Some(Choice::Abi("6.1.0-57".into())));
        assert!(parse(&["--kernel", "trixie"]).is_err());
    }

    #[test]
    fn smp_and_mem_default_to_the_test_machine() {
        let a = parse(&[]).unwrap();
        assert_eq!((a.smp, a.mem), (4, 1024));
    }

    #[test]
    fn platform_chooses_the_demo_configs() {
        assert_eq!(parse(&[]).unwrap().platform, Platform::Virt);
        assert_eq!(parse(&["--platform", "zcu102"]).unwrap().platform, Platform::Zcu102);
        assert!(parse(&["--platform", "zcu102", "--ivshmem"]).is_err());
        assert!(parse(&["--platform", "rpi4"]).is_err());
        assert!(demo_vars(Platform::Zcu102).contains("SYS_CONFIG=zcu102.cell\n"));
        assert!(guest::DEMO_SCRIPT.contains("jailhouse enable $C/$SYS_CONFIG\n"));
        assert!(guest::DEMO_SCRIPT.contains("jailhouse cell create $C/$CELL.cell\n"));
    }

    #[test]
    fn ivshmem_is_its_own_demo() {
        assert!(parse(&["--ivshmem"]).unwrap().ivshmem);
        assert!(!parse(&[]).unwrap().ivshmem);
        assert!(parse(&["--ivshmem", "--shell"]).is_err());
        assert!(parse(&["--ivshmem", "--boot-first"]).is_err());
        assert!(guest::IVSHMEM_SCRIPT.contains("syshyper ivshmem-demo --ping"));
    }

    #[test]
    fn linux_cell_is_its_own_demo() {
        assert!(parse(&["--linux-cell"]).unwrap().linux_cell);
        assert!(parse(&["--linux-cell", "--ivshmem"]).is_err());
        assert!(parse(&["--linux-cell", "--shell"]).is_err());
        let s = guest::LINUX_CELL_SCRIPT;
        let at = |t: &str| s.find(t).unwrap_or_else(|| panic!("no {t:?}"));
        assert!(at("jailhouse enable") < at("jailhouse cell linux") && at("jailhouse cell linux") < at("cell shutdown"));
        assert!(at("cell shutdown") < at("cell destroy"));
        // The script finds the files where the initramfs puts them.
        assert!(s.contains("L=/etc/syshyper/linux\n") && s.contains("$L/Image") && s.contains("$L/initramfs.cpio.gz"));
        assert_eq!((guest::CELL_KERNEL, guest::CELL_INITRD), ("/etc/syshyper/linux/Image", "/etc/syshyper/linux/initramfs.cpio.gz"));
    }

    #[test]
    fn smp_and_mem_are_taken_and_checked() {
        let a = parse(&["--smp", "16", "--mem", "2G"]).unwrap();
        assert_eq!((a.smp, a.mem), (16, 2048));
        assert_eq!(parse(&["--mem", "1536M"]).unwrap().mem, 1536);
        assert_eq!(parse(&["--mem", "4096"]).unwrap().mem, 4096);
        assert_eq!(parse(&["--mem", "1048576k"]).unwrap().mem, 1024);
        for bad in [["--smp", "0"], ["--smp", "65"], ["--smp", "x"], ["--mem", "512M"], ["--mem", "1Q"], ["--mem", "G"]] {
            assert!(parse(&bad).is_err(), "{bad:?}");
        }
        assert!(parse_mem("99999999999999T").is_err());
        assert!(parse_mem("1048577K").is_err());
    }

    #[test]
    fn size_machine_replaces_smp_and_m() {
        let mut args: Vec<String> = ["-M", "virt", "-smp", "4", "-m", "1G", "-kernel", "k"].iter().map(|s| s.to_string()).collect();
        size_machine(&mut args, 16, 2048);
        assert_eq!(args, ["-M", "virt", "-smp", "16", "-m", "2048M", "-kernel", "k"]);
    }

    #[test]
    fn with_takes_an_optional_absolute_destination() {
        let file = std::env::temp_dir().join(format!("xtask-with-{}", std::process::id()));
        std::fs::write(&file, "x").unwrap();
        let f = file.to_string_lossy();
        let name = file.file_name().unwrap().to_string_lossy();
        assert_eq!(
            parse_with(&f).unwrap(),
            (file.clone(), format!("/root/{name}"))
        );
        assert_eq!(
            parse_with(&format!("{f}:/etc/x")).unwrap(),
            (file.clone(), "/etc/x".into())
        );
        assert!(parse_with(&format!("{f}:rel")).is_err());
        assert!(parse_with("/no/such/file").is_err());
        std::fs::remove_file(&file).unwrap();
    }
}

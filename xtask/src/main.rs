//! `cargo xtask`: set up, build, run and test sysHyper (see README.md).

use xtask::{guest, harness, images, paths, qemu, run_linux, runner, setup};

mod bench;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run and test sysHyper")]
struct Cli {
    /// Print every command xtask runs and its output (and, for `test`,
    /// each QEMU console live).
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Install the prerequisites (Rust targets, Debian packages); idempotent.
    Setup {
        /// Only print what would be installed.
        #[arg(long)]
        dry_run: bool,
    },
    /// Build the hypervisor, the inmates, the host tool and the configs into target/images.
    Build,
    /// Boot Debian Linux on QEMU with sysHyper and run the demo.
    Run(run_linux::RunArgs),
    /// Host unit tests, then the QEMU system tests.
    Test {
        /// Run only tests whose name contains this.
        filter: Option<String>,
        /// Skip the host unit tests.
        #[arg(long)]
        no_host: bool,
        /// List the tests and exit.
        #[arg(long)]
        list: bool,
        /// Debian kernel of the Linux tests: a series (6.12), an ABI
        /// (6.12.118+deb12) or a package; default: Debian's linux-image-arm64.
        #[arg(long, value_name = "PACKAGE|ABI", value_parser = guest::kernel::Choice::parse)]
        kernel: Option<guest::kernel::Choice>,
        /// GIC version of the QEMU machine (2: `gic-version=2` with
        /// configs/qemu-virt-gicv2.toml as the system configuration).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
        gic: u8,
        /// Run the tests of this platform (`zcu102`: QEMU's Xilinx ZCU102
        /// model; its Linux tests); default `virt`, whose list also has
        /// one ZCU102 test.
        #[arg(long, value_enum, default_value_t = xtask::platform::Platform::Virt)]
        platform: xtask::platform::Platform,
    },
    /// Boot the hypervisor first with the root test program and show the console.
    Qemu {
        /// Root program to load instead of target/images/inmates/root-test.bin.
        #[arg(long, value_name = "FILE")]
        root: Option<PathBuf>,
        /// System config instead of target/images/configs/qemu-virt.cell.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Extra QEMU arguments, e.g. `-d int,guest_errors` or `-s -S`.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        qemu_args: Vec<String>,
    },
    /// Build Debian packages for an arm64 board into target/dist: the tool,
    /// the hypervisor image with configs and inmates, the driver as DKMS source.
    Dist,
    /// Print the workspace root and the output folders xtask uses (found at
    /// run time: a copied tree works on itself).
    Paths,
    /// Exact instruction-count benchmarks against native (QEMU -icount);
    /// writes target/bench/results.{json,md,svg} and the README table.
    Bench(bench::BenchArgs),
}

fn main() -> ExitCode {
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn real_main() -> Result<ExitCode> {
    let cli = Cli::parse();
    xtask::cmd::set_verbose(cli.verbose);
    let verbose = cli.verbose;
    let p = paths::Paths::discover();
    match cli.command {
        Cmd::Setup { dry_run } => setup::setup(dry_run)?,
        Cmd::Build => {
            setup::setup(false)?;
            images::build_all(&p)?;
        }
        Cmd::Run(args) => {
            if let Some(k) = &args.kernel {
                guest::kernel::select(k.clone());
            }
            qemu::set_gic(args.gic);
            xtask::platform::set(args.platform);
            setup::setup(false)?;
            images::build_all(&p)?;
            return run_linux::run(&p, &args);
        }
        Cmd::Test {
            filter,
            no_host,
            list,
            kernel,
            gic,
            platform,
        } => {
            xtask::platform::set(platform);
            if let Some(k) = kernel {
                guest::kernel::select(k);
            }
            qemu::set_gic(gic);
            if !list {
                setup::setup(false)?;
            }
            let args = harness::TestArgs {
                filter: filter.as_deref(),
                no_host,
                list,
                verbose,
            };
            if !harness::run(&p, &args)? {
                return Ok(ExitCode::FAILURE);
            }
        }
        Cmd::Qemu {
            root,
            config,
            qemu_args,
        } => {
            setup::setup(false)?;
            images::build_all(&p)?;
            let images = p.images();
            let boot = qemu::BootFirst {
                hv_image: images.join("syshyper.bin"),
                system_config: config.unwrap_or_else(|| images.join("configs/qemu-virt.cell")),
                root_program: Some(root.unwrap_or_else(|| images.join("inmates/root-test.bin"))),
                ..qemu::BootFirst::default()
            };
            return qemu_console(&p, &boot, &qemu_args);
        }
        Cmd::Bench(args) => return bench::run(&p, &args),
        Cmd::Dist => {
            setup::setup(false)?;
            images::build_all(&p)?;
            xtask::dist::run(&p)?;
        }
        Cmd::Paths => {
            println!("root {}", p.root.display());
            println!("out {}", p.out.display());
            println!("cargo-target {}", p.cargo_target.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `cargo xtask qemu`: a boot-first start with the console on our stdout;
/// QEMU's exit status becomes ours.
fn qemu_console(p: &paths::Paths, boot: &qemu::BootFirst, extra: &[String]) -> Result<ExitCode> {
    let mut args = qemu::machine_args();
    args.extend(boot.qemu_args(&p.out.join("qemu"))?);
    args.extend(extra.iter().cloned());
    let log = p.out.join("qemu/console.log");
    let opts = runner::Options {
        log: log.clone(),
        echo: true,
        stdin: false,
    };
    let mut q = runner::spawn(qemu::command(&args), &opts)?;
    println!(
        "[qemu] {}\n[qemu] console log: {}",
        q.cmdline,
        log.display()
    );
    let outcome = q.finish(None)?;
    println!(
        "[qemu] exit status {:?} after {:.1} s",
        outcome.status,
        outcome.elapsed.as_secs_f64()
    );
    Ok(runner::exit_code(outcome.status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        // Catches clashes such as a subcommand's own -v beside the global one.
        Cli::command().debug_assert();
        let cli = Cli::try_parse_from(["xtask", "test", "linux", "-v", "--kernel", "6.12"]).unwrap();
        assert!(cli.verbose);
        let cli = Cli::try_parse_from(["xtask", "-v", "dist"]).unwrap();
        assert!(cli.verbose && matches!(cli.command, Cmd::Dist));
    }
}

//! The QEMU machine a Linux run or test boots (`--platform`): QEMU's `virt`
//! (the default, every test) or its model of the Xilinx ZynqMP ZCU102
//! (docs/platforms.md). Each platform names its machine arguments, the
//! device tree (the ZCU102 boots with the one Debian's kernel package
//! ships, as a board's boot loader would pass it), the Linux console, the
//! `mem=` that leaves the top of RAM to the hypervisor and the cells, and
//! its configurations.

use std::path::PathBuf;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Platform {
    /// QEMU `virt` (GICv3, PL011; `--gic 2` for GICv2).
    #[default]
    Virt,
    /// QEMU `xlnx-zcu102` (GIC-400, Cadence UART, 2 GiB).
    Zcu102,
}

static CHOSEN: OnceLock<Platform> = OnceLock::new();

/// Chooses the platform of every Linux run of this process (once, from
/// the command line).
pub fn set(p: Platform) {
    let _ = CHOSEN.set(p);
}

/// The platform chosen by [`set`] (`virt` by default).
pub fn chosen() -> Platform {
    CHOSEN.get().copied().unwrap_or_default()
}

/// Debian's device tree of the ZCU102 (rev 1.0), inside the kernel
/// package: `usr/lib/linux-image-<ABI>-arm64/xilinx/` of the unpacked root.
pub const ZCU102_DTB: &str = "xilinx/zynqmp-zcu102-rev1.0.dtb";

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Virt => "virt",
            Platform::Zcu102 => "zcu102",
        }
    }

    /// The system configuration (under target/images/configs) for the Linux
    /// root; on `virt` the caller applies `--gic`.
    pub fn system_config(self) -> &'static str {
        match self {
            Platform::Virt => "qemu-virt.cell",
            Platform::Zcu102 => "zcu102.cell",
        }
    }

    /// Prefix of the platform's own cell configurations (`zcu102-gic-demo`).
    pub fn cell_prefix(self) -> &'static str {
        match self {
            Platform::Virt => "",
            Platform::Zcu102 => "zcu102-",
        }
    }

    /// Kernel console and memory limit. ZCU102: Linux keeps 0-0x6fffffff of
    /// the model's 2 GiB; configs/zcu102.toml reserves the rest, the
    /// hypervisor at 0x7fc00000 as on virt (whose RAM starts at 1 GiB, so
    /// mem=768M ends at the same 0x70000000).
    pub fn kernel_params(self) -> &'static str {
        match self {
            Platform::Virt => "console=ttyAMA0 mem=768M",
            Platform::Zcu102 => "console=ttyPS0,115200 mem=1792M",
        }
    }

    /// The device tree to boot Linux with (None: QEMU generates it).
    /// `kernel_root` is the unpacked kernel package.
    pub fn dtb(self, kernel_root: &std::path::Path, abi: &str) -> Option<PathBuf> {
        match self {
            Platform::Virt => None,
            Platform::Zcu102 => Some(
                kernel_root
                    .join(format!("usr/lib/linux-image-{abi}-arm64"))
                    .join(ZCU102_DTB),
            ),
        }
    }

    /// The machine, CPUs, memory and console wiring for a Linux guest.
    /// ZCU102: both Cadence UARTs on the one terminal (a multiplexed stdio
    /// character device, as -nographic makes for one UART), so that a
    /// cell's output on UART 1 (Jailhouse's ZCU102 cell configs) shows
    /// beside the root's on UART 0; QEMU sizes the device tree's memory
    /// node to -m.
    pub fn linux_machine_args(self) -> Vec<String> {
        let v: &[&str] = match self {
            Platform::Virt => &[
                "-M", crate::qemu::machine(crate::qemu::gic()),
                "-cpu", "cortex-a57",
                "-smp", "4",
                "-m", "1G",
                "-nographic",
            ],
            Platform::Zcu102 => &[
                "-M", "xlnx-zcu102,virtualization=on",
                "-m", "2G",
                "-display", "none",
                "-chardev", "stdio,id=con,mux=on",
                "-serial", "chardev:con",
                "-serial", "chardev:con",
                "-mon", "chardev=con,mode=readline",
                // The DisplayPort's audio: no host sound (and no ALSA noise).
                "-audiodev", "none,id=snd0",
            ],
        };
        v.iter().map(|s| s.to_string()).collect()
    }
}

/// The firmware-clock parts of the ZCU102 device tree replaced, into
/// `out`: Debian's tree gives the UARTs clocks, a power domain and pins
/// from the ZynqMP firmware (PMU firmware behind ATF), which QEMU's model
/// does not run, so Linux defers the UART driver forever and has no
/// console ("unable to open an initial console"). The UARTs get a fixed
/// 100 MHz reference clock instead (the board's UART reference) and lose
/// the firmware's power domain and pin control; nothing else changes.
/// Edited with fdtput (device-tree-compiler, installed by setup).
pub fn zcu102_dtb(debian_dtb: &std::path::Path, out: &std::path::Path) -> anyhow::Result<PathBuf> {
    use anyhow::Context;
    std::fs::copy(debian_dtb, out)
        .with_context(|| format!("cannot copy {} to {}", debian_dtb.display(), out.display()))?;
    // Writable whatever the package's mode was.
    let mut perm = std::fs::metadata(out)?.permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    std::fs::set_permissions(out, perm)?;
    let clk = "/uart-refclk";
    // A phandle the tree does not use (Debian's uses small numbers).
    let phandle = "0xfff0";
    // (fdtput's options, node and values); the file goes between them.
    let mut edits: Vec<(&[&str], Vec<&str>)> = vec![
        (&["-c"], vec![clk]),
        (&["-t", "s"], vec![clk, "compatible", "fixed-clock"]),
        (&["-t", "u"], vec![clk, "#clock-cells", "0"]),
        (&["-t", "u"], vec![clk, "clock-frequency", "100000000"]),
        (&["-t", "x"], vec![clk, "phandle", phandle]),
    ];
    for uart in ["/axi/serial@ff000000", "/axi/serial@ff010000"] {
        edits.push((&["-t", "x"], vec![uart, "clocks", phandle, phandle]));
        edits.push((&["-d"], vec![uart, "power-domains", "pinctrl-0", "pinctrl-names"]));
    }
    for (opts, rest) in edits {
        let mut cmd = std::process::Command::new("fdtput");
        cmd.args(opts).arg(out).args(&rest);
        crate::cmd::run(&mut cmd).with_context(|| format!("fdtput {} on {}", rest.join(" "), out.display()))?;
    }
    Ok(out.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zcu102_boots_debians_dtb_with_its_uart_and_reserved_top() {
        let z = Platform::Zcu102;
        let dtb = z.dtb(std::path::Path::new("/r"), "6.1.0-57").unwrap();
        assert_eq!(dtb, PathBuf::from("/r/usr/lib/linux-image-6.1.0-57-arm64/xilinx/zynqmp-zcu102-rev1.0.dtb"));
        assert!(z.kernel_params().contains("console=ttyPS0") && z.kernel_params().contains("mem=1792M"));
        let m = z.linux_machine_args();
        assert!(m.windows(2).any(|w| w[0] == "-M" && w[1] == "xlnx-zcu102,virtualization=on"));
        assert_eq!(m.iter().filter(|a| *a == "chardev:con").count(), 2, "both UARTs on the console");
        assert_eq!(Platform::Virt.dtb(std::path::Path::new("/r"), "a"), None);
        assert_eq!((z.system_config(), z.cell_prefix()), ("zcu102.cell", "zcu102-"));
    }
}

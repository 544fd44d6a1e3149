//! The second platform's system tests: late launch from Debian's kernel on
//! QEMU's Xilinx ZCU102 model (`-M xlnx-zcu102,virtualization=on`, GIC-400,
//! Cadence UARTs, Debian's ZynqMP device tree; xtask/src/platform.rs).
//!
//! `zcu102-linux` (guest/tests/zcu102.sh) is in the default list (one boot,
//! about a minute): enable, gic-demo and uart-demo cells, disable, then
//! `config create` on the running board and enable on its output.
//! `cargo xtask test --platform zcu102` runs this platform's list instead
//! of virt's.

use crate::guest;
use crate::harness::Ctx;
use crate::platform::Platform;
use crate::systests::{Boot, Expect, SysTest};
use crate::systests_linux::{pass, passed_exactly, GIC_LINES, SUMMARY};
use anyhow::Result;

const ZCU102: &str = include_str!("../../guest/tests/zcu102.sh");

/// The module, the tool, the configs and inmates in an initramfs running
/// guest/tests/zcu102.sh; Debian's kernel with the ZCU102 device tree.
fn linux_args(ctx: &Ctx) -> Result<Vec<String>> {
    let (g, initrd) = crate::systests_linux::guest_initramfs(ctx, ZCU102)?;
    guest::linux_qemu_args_prepared(Platform::Zcu102, &g, &initrd, "")
}

/// The script's checks, all of which must pass.
const CHECKS: u32 = 46;

/// uart-demo's lines (inmates/src/bin/uart-demo.rs) on UART 1.
const UART_DEMO: [Expect; 2] = [
    Expect { regex: r"uart-demo: hello from cell", check: None },
    Expect { regex: r"uart-demo: tick 1\r?\n", check: None },
];

// Written from the script's check names (`table_follows_the_script`); the
// checks made while a cell runs are printed after its destroy, so the
// cell's own lines come before "... start".
const ZCU102_EXPECT: &[Expect] = &[
    pass!("insmod"),
    pass!("Linux works before enable"),
    pass!("enable"),
    pass!("enabled is 1"),
    pass!("root cell listed"),
    pass!("Linux works under the hypervisor"),
    pass!("every CPU works under the hypervisor"),
    pass!("gic-demo create"),
    pass!("gic-demo: CPU 3 left Linux"),
    pass!("gic-demo load"),
    GIC_LINES[0],
    GIC_LINES[1],
    GIC_LINES[2],
    pass!("gic-demo start"),
    pass!("gic-demo took its timer interrupts"),
    pass!("gic-demo running"),
    pass!("Linux works while gic-demo runs"),
    pass!("gic-demo destroy"),
    pass!("gic-demo: CPU 3 back in Linux"),
    pass!("uart-demo create"),
    pass!("uart-demo: CPU 3 left Linux"),
    pass!("uart-demo load"),
    UART_DEMO[0],
    UART_DEMO[1],
    pass!("uart-demo start"),
    pass!("uart-demo took its wake-up interrupts"),
    pass!("uart-demo running"),
    pass!("Linux works while uart-demo runs"),
    pass!("uart-demo destroy"),
    pass!("uart-demo: CPU 3 back in Linux"),
    pass!("every CPU works after the cells"),
    pass!("hypervisor console"),
    pass!("disable"),
    pass!("enabled is 0"),
    pass!("all CPUs online after disable"),
    pass!("every CPU works after disable"),
    pass!("config create"),
    pass!("config create: reserved area, GIC-400 and console as zcu102.toml"),
    pass!("config create: output compiles"),
    pass!("config check --live accepts it with gic-demo"),
    pass!("enable with the generated config"),
    pass!("root cell listed on the generated config"),
    pass!("every CPU works on the generated config"),
    pass!("gic-demo create and load on the generated config"),
    GIC_LINES[2],
    pass!("gic-demo start on the generated config"),
    pass!("gic-demo took its timer interrupts on the generated config"),
    pass!("gic-demo running on the generated config"),
    pass!("gic-demo destroy on the generated config"),
    pass!("disable on the generated config"),
    pass!("all CPUs online after the generated config"),
    pass!("rmmod"),
    Expect { regex: SUMMARY, check: Some(|c| passed_exactly(c, CHECKS)) },
];

pub const ZCU102_LINUX: SysTest = SysTest {
    name: "zcu102-linux",
    boot: Boot::Custom(linux_args),
    bundle: &[],
    start_bundle_cells: false,
    interact: None,
    expect: ZCU102_EXPECT,
    forbid: crate::systests_linux::LINUX_TROUBLE,
    exit_status: 0,
    timeout_s: 300,
};

/// `cargo xtask test --platform zcu102`.
pub const ZCU102_TESTS: &[SysTest] = &[ZCU102_LINUX];

#[cfg(test)]
mod tests {
    use super::*;
    use regex::Regex;

    #[test]
    fn table_follows_the_script() {
        let check = Regex::new(r#"^check "([^"]+)""#).unwrap();
        let names: Vec<String> = ZCU102
            .lines()
            .filter_map(|l| check.captures(l.trim_start()).map(|c| c[1].to_string()))
            .collect();
        let pass = Regex::new(r"^\\\[PASS\\\] (.*)\\r\?\\n$").unwrap();
        let awaited: Vec<String> = ZCU102_EXPECT
            .iter()
            .filter_map(|e| pass.captures(e.regex).map(|c| c[1].replace('\\', "")))
            .collect();
        assert_eq!(awaited, names);
        assert_eq!(names.len(), CHECKS as usize, "the summary's count");
        assert!(ZCU102.contains("$C/zcu102.cell") && ZCU102.contains("$C/zcu102-uart-demo.cell"));
    }
}

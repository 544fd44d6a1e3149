//! `cell create` of a cell with PCI devices passed through (type
//! "device", docs/passthrough.md): the hypervisor cannot see which of the
//! root's drivers are bound, so the tool checks sysfs and refuses while
//! one is — the driver would otherwise keep using a device whose config
//! space and BARs vanish from under it. No `--force` skips this.

use std::path::Path;
use syshyper_config::flags::pci::TYPE_DEVICE;
use syshyper_config::CellConfig;

/// The name Linux gives a PCI function in sysfs: `dddd:bb:dd.f`.
pub fn sysfs_name(domain: u16, bdf: u16) -> String {
    format!("{domain:04x}:{:02x}:{:02x}.{}", bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7)
}

/// The cell's passed-through devices that a root driver still holds,
/// as (sysfs name, driver) under `devices` (`/sys/bus/pci/devices`).
pub fn still_bound(cell: &CellConfig<'_>, devices: &Path) -> Vec<(String, String)> {
    cell.pci_devices()
        .iter()
        .filter(|d| d.pci_type == TYPE_DEVICE)
        .filter_map(|d| {
            let name = sysfs_name(d.domain.get(), d.bdf.get());
            let link = std::fs::read_link(devices.join(&name).join("driver")).ok()?;
            let driver = link.file_name()?.to_string_lossy().into_owned();
            Some((name, driver))
        })
        .collect()
}

/// The refusal for `bound`, with the command that releases each device.
pub fn refusal(bound: &[(String, String)]) -> String {
    let mut s = String::from("cell create: PCI devices of this cell are still driven by the root cell's Linux; unbind them first:");
    for (name, driver) in bound {
        s.push_str(&format!("\n  echo {name} > /sys/bus/pci/devices/{name}/driver/unbind    # driver {driver}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_linux_sysfs_names() {
        assert_eq!(sysfs_name(0, 5 << 3), "0000:00:05.0");
        assert_eq!(sysfs_name(1, 0x1ff), "0001:01:1f.7");
    }

    #[test]
    fn refusal_names_the_unbind_command() {
        let r = refusal(&[("0000:00:05.0".into(), "virtio-pci".into())]);
        assert!(r.contains("echo 0000:00:05.0 > /sys/bus/pci/devices/0000:00:05.0/driver/unbind"), "{r}");
    }
}

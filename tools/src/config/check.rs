//! `config check SYSTEM.cell [CELL.cell ...]`: each file on its own, then the
//! rules across files. One line per problem on stderr.

use anyhow::bail;
use std::path::{Path, PathBuf};
use syshyper_config::cross::{self, NamedCell, Severity};
use syshyper_config::{CellConfig, SystemConfig};

pub fn run(system: &Path, cells: &[PathBuf], live: bool) -> anyhow::Result<()> {
    // Read first: a live check that cannot see the system must not pass.
    let state = if live { Some(super::create::live_state()?) } else { None };
    let mut problems = 0usize;
    let mut report = |line: String| {
        eprintln!("{line}");
        problems += 1;
    };
    let sys_name = system.display().to_string();
    let sys_bytes = super::read(system)?;
    let cell_names: Vec<String> = cells.iter().map(|p| p.display().to_string()).collect();
    let cell_bytes = cells
        .iter()
        .map(|p| super::read(p))
        .collect::<anyhow::Result<Vec<_>>>()?;

    let sys = SystemConfig::parse_exact(&sys_bytes)
        .map_err(|e| report(format!("{sys_name}: {e}")))
        .ok();
    let mut parsed = Vec::new();
    for (name, bytes) in cell_names.iter().zip(&cell_bytes) {
        match CellConfig::parse_exact(bytes) {
            Ok(config) => parsed.push(NamedCell { file: name, config }),
            Err(e) => report(format!("{name}: {e}")),
        }
    }
    let mut warnings = 0usize;
    if let Some(sys) = sys {
        for e in cross::check(&sys_name, &sys, &parsed) {
            match e.severity {
                Severity::Error => report(format!("error: {e}")),
                Severity::Warning => {
                    eprintln!("warning: {e}");
                    warnings += 1;
                }
            }
        }
    }
    // Passed-through devices without an SMMU: allowed (Jailhouse's
    // board configurations do it), said plainly.
    let smmu = SystemConfig::parse_exact(&sys_bytes).is_ok_and(|s| s.iommu_units().iter().any(|u| u.iommu_type.get() == syshyper_config::flags::iommu::SMMUV3 && u.base.get() != 0));
    for c in &parsed {
        for d in c.config.pci_devices().iter().filter(|d| d.pci_type == syshyper_config::flags::pci::TYPE_DEVICE) {
            let bdf = d.bdf.get();
            let name = format!("{:02x}:{:02x}.{}", bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7);
            if !smmu {
                eprintln!("warning: {}: PCI device {name} is passed through but the system configuration names no SMMU: its DMA is unconfined (it can reach all memory)", c.file);
                warnings += 1;
            } else if !c.config.stream_ids().iter().any(|s| s.get() == u32::from(bdf)) {
                eprintln!("warning: {}: PCI device {name} is passed through but its stream {bdf:#x} is not in stream_ids: the SMMU aborts all its DMA", c.file);
                warnings += 1;
            }
        }
    }
    if let Some(state) = &state {
        let sys = SystemConfig::parse_exact(&sys_bytes).ok();
        let named: Vec<(String, CellConfig<'_>)> = parsed.iter().map(|c| (c.file.to_string(), c.config)).collect();
        for f in super::create::audit::audit(state, sys.as_ref(), &named) {
            if f.error {
                report(format!("error: live: {}", f.text));
            } else {
                eprintln!("note: live: {}", f.text);
            }
        }
    }
    if problems > 0 {
        bail!("config check: {problems} error(s), {warnings} warning(s)");
    }
    println!(
        "config check: {} configuration(s) OK, {warnings} warning(s)",
        1 + cells.len()
    );
    Ok(())
}

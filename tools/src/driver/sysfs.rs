//! Reading /sys/devices/jailhouse: cells, their CPUs and statistics.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

pub const ROOT: &str = "/sys/devices/jailhouse";

/// Statistics the driver exposes, in the hypervisor's order.
pub const STATS: [&str; 9] = [
    "vmexits_total",
    "vmexits_mmio",
    "vmexits_management",
    "vmexits_hypercall",
    "vmexits_maintenance",
    "vmexits_virt_irq",
    "vmexits_virt_sgi",
    "vmexits_psci",
    "vmexits_smccc",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    pub id: u32,
    pub name: String,
    pub state: String,
    pub cpus: String,
    pub failed: String,
    /// Starts after the first ("-" when the driver does not say).
    pub restarts: String,
    /// DMA faults the SMMU recorded for the cell's streams ("-" when the
    /// driver does not say).
    pub dma_faults: String,
    /// The driver's `dma_unconfined`: "1" when the cell has passed-through
    /// PCI devices and the system has no SMMU, "0", "unknown" (a cell
    /// adopted at boot) or "-" (a driver without the attribute).
    pub dma_unconfined: String,
    pub dir: PathBuf,
}

fn read(path: &Path) -> Result<String> {
    let s = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(s.trim_end_matches('\n').to_string())
}

/// The driver's folder, or a clear error if the driver is not loaded.
pub fn root() -> Result<PathBuf> {
    let root = PathBuf::from(ROOT);
    if !root.join("enabled").exists() {
        bail!("{ROOT} does not exist: {}", super::ioctl::LOAD_DRIVER);
    }
    Ok(root)
}

pub fn enabled(root: &Path) -> Result<bool> {
    Ok(read(&root.join("enabled"))? == "1")
}

/// All cells, by id.
pub fn cells(root: &Path) -> Result<Vec<Cell>> {
    let dir = root.join("cells");
    let mut out = Vec::new();
    let Ok(list) = std::fs::read_dir(&dir) else { return Ok(out) };
    for entry in list {
        let path = entry?.path();
        let Some(id) = path.file_name().and_then(|n| n.to_str()).and_then(|n| n.parse().ok()) else { continue };
        out.push(Cell {
            id,
            name: read(&path.join("name"))?,
            // A state the hypervisor cannot report is shown, not fatal.
            state: read(&path.join("state")).unwrap_or_else(|_| "unknown".into()),
            cpus: read(&path.join("cpus_assigned_list"))?,
            failed: read(&path.join("cpus_failed_list")).unwrap_or_default(),
            restarts: read(&path.join("restarts")).unwrap_or_else(|_| "-".into()),
            dma_faults: read(&path.join("dma_faults")).unwrap_or_else(|_| "-".into()),
            dma_unconfined: read(&path.join("dma_unconfined")).unwrap_or_else(|_| "-".into()),
            dir: path,
        });
    }
    out.sort_by_key(|c| c.id);
    Ok(out)
}

/// `cell list` output: Jailhouse's columns, then sysHyper's restarts and
/// DMA column (the SMMU's fault count, or UNCONFINED), and a plain note
/// below the table for each cell whose DMA nothing confines.
pub fn list_table(cells: &[Cell]) -> String {
    let mut s = format!(
        "{:<8}{:<24}{:<18}{:<24}{:<16}{:<10}{}\n",
        "ID", "Name", "State", "Assigned CPUs", "Failed CPUs", "Restarts", "DMA faults"
    );
    for c in cells {
        let dma = if c.dma_unconfined == "1" { format!("{} UNCONFINED", c.dma_faults) } else { c.dma_faults.clone() };
        let row = format!("{:<8}{:<24}{:<18}{:<24}{:<16}{:<10}{}", c.id, c.name, c.state, c.cpus, c.failed, c.restarts, dma);
        s.push_str(row.trim_end());
        s.push('\n');
    }
    for c in cells.iter().filter(|c| c.dma_unconfined == "1") {
        s.push_str(&format!(
            "note: cell {} ({}) has PCI devices passed through and the system has no SMMU: their DMA is unconfined (it can reach all memory)\n",
            c.id, c.name
        ));
    }
    s
}

/// One column of `cell stats`: its title and the value of each statistic.
pub type Column = (String, Vec<String>);

fn column(title: String, dir: &Path) -> Column {
    let values = STATS.iter().map(|s| read(&dir.join(s)).unwrap_or_else(|_| "-".into())).collect();
    (title, values)
}

/// The cell's total and one column per CPU. Each CPU's figures are read
/// once and the Total is their sum (issue 19: the driver's own total file
/// is read at another moment, so it never matched the columns shown);
/// reading costs the cell nothing (the hypervisor counts no statistics
/// read as an exit).
pub fn stats_columns(cell: &Cell) -> Result<Vec<Column>> {
    let stats = cell.dir.join("statistics");
    let mut cpus: Vec<(u32, PathBuf)> = std::fs::read_dir(&stats)
        .with_context(|| format!("cannot read {}", stats.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let n = p.file_name()?.to_str()?.strip_prefix("cpu")?.parse().ok()?;
            Some((n, p))
        })
        .collect();
    cpus.sort();
    let per_cpu: Vec<Column> = cpus.iter().map(|(n, p)| column(format!("CPU{n}"), p)).collect();
    let mut cols = vec![if per_cpu.is_empty() { column("Total".into(), &stats) } else { total_of(&per_cpu) }];
    cols.extend(per_cpu);
    Ok(cols)
}

/// The sum of the CPU columns ("-" where a CPU's figure is missing).
pub fn total_of(per_cpu: &[Column]) -> Column {
    let values = (0..STATS.len())
        .map(|i| {
            per_cpu
                .iter()
                .map(|(_, v)| v.get(i).and_then(|x| x.parse::<u64>().ok()))
                .sum::<Option<u64>>()
                .map_or_else(|| "-".to_string(), |t| t.to_string())
        })
        .collect();
    ("Total".to_string(), values)
}

/// `cell stats` output for one cell: exits by reason, total and per CPU.
pub fn stats_table(cell: &Cell, cols: &[Column]) -> String {
    let mut s = format!("Statistics for cell \"{}\" (id {}), VM exits by reason\n", cell.name, cell.id);
    s.push_str(&format!("{:<22}", "Reason"));
    for (title, _) in cols {
        s.push_str(&format!("{title:>12}"));
    }
    s.push('\n');
    for (i, name) in STATS.iter().enumerate() {
        let reason = name.trim_start_matches("vmexits_");
        s.push_str(&format!("{reason:<22}"));
        for (_, values) in cols {
            s.push_str(&format!("{:>12}", values[i]));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell() -> Cell {
        Cell {
            id: 1,
            name: "gic-demo".into(),
            state: "running".into(),
            cpus: "1".into(),
            failed: String::new(),
            restarts: "3".into(),
            dma_faults: "0".into(),
            dma_unconfined: "0".into(),
            dir: PathBuf::new(),
        }
    }

    #[test]
    fn list_has_a_header_and_one_row_per_cell() {
        let t = list_table(&[cell()]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("ID      Name"));
        assert!(lines[0].contains("Failed CPUs"));
        assert!(lines[1].starts_with("1       gic-demo"));
        assert!(lines[1].contains("running"));
        assert!(lines[0].ends_with("Restarts  DMA faults") && lines[1].ends_with(" 3         0"), "{t}");
        assert_eq!(lines.len(), 2, "no note for a confined cell: {t}");
        assert_eq!(list_table(&[]).lines().count(), 1);
    }

    #[test]
    fn list_says_plainly_when_dma_is_unconfined() {
        let open = Cell { id: 2, name: "vblk".into(), dma_unconfined: "1".into(), ..cell() };
        let t = list_table(&[cell(), open]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].ends_with(" 0"), "{t}");
        assert!(lines[2].ends_with(" 0 UNCONFINED"), "{t}");
        assert_eq!(lines.len(), 4, "{t}");
        assert!(lines[3].starts_with("note: cell 2 (vblk)") && lines[3].contains("DMA is unconfined"), "{t}");
        let unknown = Cell { dma_unconfined: "unknown".into(), dma_faults: "-".into(), ..cell() };
        assert_eq!(list_table(&[unknown]).lines().count(), 2);
    }

    #[test]
    fn stats_rows_are_reasons_and_columns_cpus() {
        let cols = vec![("Total".to_string(), vec!["5".to_string(); 9]), ("CPU1".to_string(), vec!["5".to_string(); 9])];
        let t = stats_table(&cell(), &cols);
        assert!(t.lines().nth(1).unwrap().contains("CPU1"));
        assert!(t.lines().any(|l| l.starts_with("hypercall") && l.trim_end().ends_with('5')));
        assert_eq!(t.lines().count(), 2 + STATS.len());
    }

    #[test]
    fn total_is_the_sum_of_the_cpu_columns() {
        let col = |t: &str, v: u64| (t.to_string(), (0..9).map(|i| (v + i).to_string()).collect::<Vec<_>>());
        let total = total_of(&[col("CPU1", 10), col("CPU2", 100)]);
        assert_eq!(total.1[0], "110");
        assert_eq!(total.1[8], "126");
        let mut broken = col("CPU3", 1);
        broken.1[2] = "-".into();
        assert_eq!(total_of(&[col("CPU1", 10), broken]).1[2], "-");
    }
}

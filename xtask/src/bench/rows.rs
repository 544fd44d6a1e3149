//! Turns the parsed runs into result rows (name, unit, native, sysHyper).

use super::parse::{RunOutput, Sample};

pub const INSTR: &str = "instructions";

/// Instructions of the interrupt path that the EL2 histograms do not see
/// (the assembly fast path, arch/aarch64/vectors.rs; the `irq_path_*`
/// rows measure its phases): 5 from the exception to its first CNTPCT
/// read (the vector's `sub` and three `stp`, the branch), 12 from its
/// second (that read, the histogram update, restore, `eret`), and the 1
/// the cell measures outside EL2 (`irq_path_outside_el2`; it was 9 when
/// this was written, and 26 then still put the EL2 part, 28 of 46, in the
/// right bucket; with the fast path's all-empty check it is 23 of 41).
pub const EL2_IRQ_OUTSIDE: f64 = 18.0;

/// Whether the EL2 view agrees with the cell's: the bench's interrupt
/// latency minus [`EL2_IRQ_OUTSIDE`] falls in the median log2 bucket
/// [low, 2 low) of the measuring CPU's injection delay.
pub fn el2_matches_cell(irq_latency: f64, median_low: f64) -> Result<(), String> {
    let at_el2 = irq_latency - EL2_IRQ_OUTSIDE;
    if median_low <= at_el2 && at_el2 < 2.0 * median_low {
        Ok(())
    } else {
        Err(format!(
            "EL2 injection delay median bucket [{median_low}, {}) does not hold the cell's {irq_latency} - {EL2_IRQ_OUTSIDE} = {at_el2} instructions",
            2.0 * median_low
        ))
    }
}

/// The GICv2 form of [`el2_matches_cell`]: there interrupts take the
/// generic exit path (the fast path of vectors.rs is GICv3's), whose
/// instructions outside the histogram's two counter reads are not split
/// by the breakdown run (GICv3 only), so only the order is checked: the
/// EL2 median bucket starts below the latency the cell measures, of
/// which the EL2 part is a share.
pub fn el2_within_cell(irq_latency: f64, median_low: f64) -> Result<(), String> {
    if median_low < irq_latency {
        Ok(())
    } else {
        Err(format!(
            "EL2 injection delay median bucket starts at {median_low}, not below the cell's {irq_latency} instructions"
        ))
    }
}

/// One line of results.json.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub name: String,
    pub unit: &'static str,
    /// None where there is no native counterpart (or it was not measured).
    pub native: Option<f64>,
    pub syshyper: Option<f64>,
}

impl Row {
    /// sysHyper / native, when both exist and native is not zero.
    pub fn ratio(&self) -> Option<f64> {
        match (self.native, self.syshyper) {
            (Some(n), Some(s)) if n != 0.0 => Some(s / n),
            _ => None,
        }
    }
}

/// Figures measured on the host (image file and header).
#[derive(Debug, Clone, Copy, Default)]
pub struct Footprint {
    pub image_bytes: u64,
    pub core_bytes: u64,
    pub percpu_bytes: u64,
}

type Stat = fn(&Sample) -> Option<f64>;
/// Adds a row (name, unit, native, sysHyper).
type Push<'a> = dyn FnMut(&str, &'static str, Option<f64>, Option<f64>) + 'a;

fn stat(run: &RunOutput, name: &str, f: Stat) -> Option<f64> {
    run.get(name).and_then(f)
}

/// The direct-delivery rows (docs/direct-delivery.md): the bench cell's
/// timer interrupt latency with `direct_irqs`, idle and with the root
/// busy, beside the same native series; placed after the trapped
/// `irq_latency_root_busy_max` row.
pub fn add_direct(rows: &mut Vec<Row>, native: &RunOutput, direct: &RunOutput, missing: &mut Vec<String>) {
    let mut new = Vec::new();
    for (prefix, key) in [
        ("direct_irq_latency", "irq_latency"),
        ("direct_irq_latency_root_busy", "irq_latency_busy"),
    ] {
        for (suffix, f) in [("min", Sample::min as Stat), ("mean", Sample::mean), ("max", Sample::max)] {
            let name = format!("{prefix}_{suffix}");
            match stat(direct, key, f) {
                Some(s) => new.push(Row {
                    name,
                    unit: INSTR,
                    native: stat(native, key, f),
                    syshyper: Some(s),
                }),
                None => missing.push(name),
            }
        }
    }
    let at = rows
        .iter()
        .position(|r| r.name == "irq_latency_root_busy_max")
        .map_or(rows.len(), |i| i + 1);
    rows.splice(at..at, new);
}

/// Builds every row; `missing` gets the names of rows without a sysHyper
/// figure (they are left out of the table).
pub fn build(
    native: &RunOutput,
    hv: &RunOutput,
    fp: &Footprint,
    linux: &RunOutput,
    missing: &mut Vec<String>,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let mut push = |name: &str, unit: &'static str, n: Option<f64>, s: Option<f64>| match s {
        Some(_) => rows.push(Row {
            name: name.to_string(),
            unit,
            native: n,
            syshyper: s,
        }),
        None => missing.push(name.to_string()),
    };
    let both = |push: &mut Push, row: &str, key: &str, f: Stat| {
        push(row, INSTR, stat(native, key, f), stat(hv, key, f))
    };
    for (prefix, key) in [
        ("irq_latency", "irq_latency"),
        ("irq_latency_root_busy", "irq_latency_busy"),
    ] {
        both(&mut push, &format!("{prefix}_min"), key, Sample::min);
        both(&mut push, &format!("{prefix}_mean"), key, Sample::mean);
        both(&mut push, &format!("{prefix}_max"), key, Sample::max);
    }
    // Root -> ivshmem-demo cell -> root (bench-inmate/ivshmem.rs).
    push(
        "ivshmem_doorbell_round_trip",
        INSTR,
        None,
        stat(hv, "ivshmem_rtt", Sample::mean),
    );
    push(
        "hypercall_info_round_trip",
        INSTR,
        None,
        stat(hv, "hypercall_info", Sample::mean),
    );
    // The same interrupts seen from EL2 (hypervisor/src/trace): the lower
    // bound of the median log2 bucket of the measuring CPU's time at EL2
    // per interrupt exit and of its delay to the list register.
    for (row, key) in [
        ("el2_irq_exit_median_bucket", "el2_irq_exit_median_low"),
        ("el2_irq_inject_median_bucket", "el2_irq_inject_median_low"),
    ] {
        push(row, INSTR, None, stat(hv, key, Sample::mean));
    }
    both(&mut push, "psci_version_call", "psci_version", Sample::mean);
    both(&mut push, "gicd_read_from_cell", "gicd_read", Sample::mean);
    both(
        &mut push,
        "sgi_between_cell_cpus",
        "sgi_latency",
        Sample::mean,
    );
    let first = stat(hv, "first_output", Sample::mean)
        .zip(stat(hv, "cell_create_at", Sample::mean))
        .map(|(out, at)| out - at);
    push("cell_create_to_first_output", INSTR, None, first);
    push(
        "cell_destroy",
        INSTR,
        None,
        stat(hv, "cell_destroy", Sample::mean),
    );
    for (label, size) in [
        ("64k", "64KiB"),
        ("16m", "16MiB"),
        ("128m", "128MiB"),
        ("512m", "512MiB"),
    ] {
        push(
            &format!("cell_create_{size}"),
            INSTR,
            None,
            stat(hv, &format!("create_{label}"), Sample::mean),
        );
    }
    // Item 5: the root Linux's workload without (native) and with sysHyper
    // underneath, the fastest of its runs; only a pair makes a row.
    for (row, part) in [
        ("root_workload", "total"),
        ("root_workload_compute", "compute"),
        ("root_workload_memory", "memory"),
    ] {
        let without = stat(linux, &format!("without_{part}"), Sample::min);
        let with = stat(linux, &format!("with_{part}"), Sample::min);
        push(row, INSTR, without, with.filter(|_| without.is_some()));
    }
    // `jailhouse enable` / `disable` of the root Linux with 4 CPUs, the
    // whole command (tool, driver, EL2 bring-up on every CPU), fastest run.
    push("hypervisor_enable", INSTR, None, stat(linux, "with_enable", Sample::min));
    push("hypervisor_disable", INSTR, None, stat(linux, "with_disable", Sample::min));
    // ivshmem-net between the root Linux and a Linux cell (bench/ivnet.rs;
    // its samples are merged into the Linux run's): a 64-byte UDP round
    // trip, and 16 MiB over TCP until the receiver confirmed them.
    push("ivnet_udp_round_trip_min", INSTR, None, stat(linux, "ivnet_rtt", Sample::min));
    push("ivnet_udp_round_trip_mean", INSTR, None, stat(linux, "ivnet_rtt", Sample::mean));
    push("ivnet_tcp_16MiB", INSTR, None, stat(linux, "ivnet_stream", Sample::mean));
    push("ivnet_tcp_per_MiB", INSTR, None, stat(linux, "ivnet_stream_per_mib", Sample::mean));
    // `cell linux` of configs/linux-cell.toml until its /init reports.
    push("linux_cell_start_to_init", INSTR, None, stat(linux, "with_linuxcell", Sample::min));
    // The SMMU run (bench-inmate/smmu.rs, merged into the sysHyper run's
    // samples): a stream hand-over is what creating / destroying a cell
    // with one stream costs more than the same cell without; the root's
    // fixed loop with its edu device idle, and while the device's
    // transfer into hypervisor memory faults word by word (the "native"
    // column holds the idle figure: equal means the faults cost the root
    // nothing — they are drained on hypercalls, not by interrupt).
    let diff = |a: &str, b: &str| stat(hv, a, Sample::mean).zip(stat(hv, b, Sample::mean)).map(|(x, y)| x - y);
    push("smmu_stream_handover_root_to_cell", INSTR, None, diff("smmu_create_stream", "smmu_create_no_stream"));
    push("smmu_stream_handover_cell_to_root", INSTR, None, diff("smmu_destroy_stream", "smmu_destroy_no_stream"));
    push(
        "smmu_root_loop_while_faulting",
        INSTR,
        stat(hv, "smmu_root_loop_idle", Sample::mean),
        stat(hv, "smmu_root_loop_faulting", Sample::mean),
    );
    let known = |v: u64| (v > 0).then_some(v as f64);
    push("image_size", "bytes", None, known(fp.image_bytes));
    push("core_size", "bytes", None, known(fp.core_bytes));
    push("percpu_size", "bytes", None, known(fp.percpu_bytes));
    // The deepest any CPU's EL2 stack went in the run (painted stack,
    // hypervisor/src/stack.rs): what percpu_size must hold besides the
    // per-CPU block and the trap frame.
    push("el2_stack_high_water", "bytes", None, stat(hv, "el2_stack_max", Sample::mean));
    push(
        "pool_pages_root_cell",
        "pages",
        None,
        stat(hv, "pool_used_root", Sample::mean),
    );
    push(
        "pool_pages_bench_cell",
        "pages",
        None,
        stat(hv, "pool_pages_cell", Sample::mean),
    );
    for (label, size) in [("64k", "64KiB"), ("512m", "512MiB")] {
        push(
            &format!("pool_pages_cell_{size}"),
            "pages",
            None,
            stat(hv, &format!("pool_pages_{label}"), Sample::mean),
        );
    }
    rows
}

/// Adds the interrupt-path phases (breakdown.rs) after `irq_latency_max`,
/// and what the cell's `irq_latency_min` holds beyond them.
pub fn add_breakdown(rows: &mut Vec<Row>, phases: &[(&str, u64)]) {
    if phases.is_empty() {
        return;
    }
    let at = rows.iter().position(|r| r.name == "irq_latency_max").map_or(rows.len(), |i| i + 1);
    let mut new: Vec<Row> = phases
        .iter()
        .map(|(name, n)| Row { name: name.to_string(), unit: INSTR, native: None, syshyper: Some(*n as f64) })
        .collect();
    let el2: u64 = phases.iter().map(|(_, n)| n).sum();
    let cell = rows.iter().find(|r| r.name == "irq_latency_min").and_then(|r| r.syshyper);
    if let Some(c) = cell {
        new.push(Row { name: "irq_path_outside_el2".into(), unit: INSTR, native: None, syshyper: Some(c - el2 as f64) });
    }
    rows.splice(at..at, new);
}

#[cfg(test)]
mod el2_tests {
    use super::*;

    #[test]
    fn el2_bucket_must_hold_the_cell_figure_minus_the_vector_path() {
        assert!(el2_matches_cell(41.0, 16.0).is_ok());
        assert!(el2_matches_cell(41.0, 32.0).is_err());
        assert!(el2_matches_cell(30.0, 16.0).is_err());
        assert!(el2_matches_cell(200.0, 16.0).is_err());
        // GICv2: the EL2 bucket must only start below the cell's figure.
        assert!(el2_within_cell(174.0, 64.0).is_ok());
        assert!(el2_within_cell(174.0, 256.0).is_err());
    }

    #[test]
    fn breakdown_rows_follow_the_latency_rows_and_sum_up() {
        let row = |n: &str, v: f64| Row { name: n.into(), unit: INSTR, native: Some(1.0), syshyper: Some(v) };
        let mut rows = vec![row("irq_latency_min", 54.0), row("irq_latency_max", 54.0), row("psci_version_call", 9.0)];
        add_breakdown(&mut rows, &[("irq_path_entry_save", 5), ("irq_path_inject", 14)]);
        let names: Vec<_> = rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names[2..5], ["irq_path_entry_save", "irq_path_inject", "irq_path_outside_el2"]);
        assert_eq!(rows[4].syshyper, Some(35.0));
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::parse;
    use super::*;

    #[test]
    fn combines_native_and_hypervisor_runs() {
        let native = parse(
            "BENCH irq_latency n=2 min=1 max=3 sum=4\nBENCH gicd_read n=1 min=1 max=1 sum=1\n",
        );
        let hv = parse(
            "BENCH irq_latency n=2 min=100 max=300 sum=400\nBENCH gicd_read n=1 min=50 max=50 sum=50\n\
             BENCH first_output value=1500\nBENCH cell_create_at value=1000\n\
             BENCH ivshmem_rtt n=2 min=900 max=1100 sum=2000\n",
        );
        let mut missing = Vec::new();
        let fp = Footprint {
            image_bytes: 4096,
            ..Footprint::default()
        };
        let rows = build(&native, &hv, &fp, &RunOutput::default(), &mut missing);
        let get = |n: &str| rows.iter().find(|r| r.name == n).cloned().unwrap();
        let mean = get("irq_latency_mean");
        assert_eq!((mean.native, mean.syshyper), (Some(2.0), Some(200.0)));
        assert_eq!(mean.ratio(), Some(100.0));
        assert_eq!(get("gicd_read_from_cell").ratio(), Some(50.0));
        assert_eq!(get("cell_create_to_first_output").syshyper, Some(500.0));
        assert_eq!(get("cell_create_to_first_output").ratio(), None);
        assert_eq!(get("image_size").syshyper, Some(4096.0));
        let rtt = get("ivshmem_doorbell_round_trip");
        assert_eq!((rtt.native, rtt.syshyper), (None, Some(1000.0)));
        let pos = |n: &str| rows.iter().position(|r| r.name == n).unwrap();
        assert_eq!(pos("ivshmem_doorbell_round_trip"), pos("irq_latency_max") + 1);
        assert!(missing.contains(&"root_workload".to_string()));
        assert!(missing.contains(&"sgi_between_cell_cpus".to_string()));
        assert!(!missing.contains(&"irq_latency_max".to_string()));
    }

    #[test]
    fn root_workload_rows_take_the_minimum_of_both_phases() {
        let linux = parse(
            "BENCH without_total n=3 min=1000 max=1200 sum=3300\n\
             BENCH with_total n=3 min=1010 max=1500 sum=3600\n\
             BENCH without_compute n=3 min=400 max=500 sum=1300\n\
             BENCH with_memory n=3 min=600 max=700 sum=1900\n",
        );
        let mut missing = Vec::new();
        let none = RunOutput::default();
        let rows = build(&none, &none, &Footprint::default(), &linux, &mut missing);
        let total = rows.iter().find(|r| r.name == "root_workload").unwrap();
        assert_eq!((total.native, total.syshyper), (Some(1000.0), Some(1010.0)));
        assert_eq!(total.ratio(), Some(1.01));
        // Half a pair is no row: no "with" compute, no "without" memory.
        assert!(missing.contains(&"root_workload_compute".to_string()));
        assert!(missing.contains(&"root_workload_memory".to_string()));
    }

    #[test]
    fn zero_native_has_no_ratio() {
        let r = Row {
            name: "x".into(),
            unit: INSTR,
            native: Some(0.0),
            syshyper: Some(3.0),
        };
        assert_eq!(r.ratio(), None);
    }
}

#[cfg(test)]
mod direct_tests {
    use super::super::parse::parse;
    use super::*;

    #[test]
    fn direct_rows_follow_the_trapped_busy_row() {
        let native = parse("BENCH irq_latency n=2 min=1 max=3 sum=4\nBENCH irq_latency_busy n=1 min=2 max=2 sum=2\n");
        let hv = parse("BENCH irq_latency n=2 min=100 max=300 sum=400\nBENCH irq_latency_busy n=1 min=90 max=90 sum=90\n");
        let direct = parse("BENCH irq_latency n=2 min=1 max=5 sum=6\n");
        let mut missing = Vec::new();
        let mut rows = build(&native, &hv, &Footprint::default(), &RunOutput::default(), &mut missing);
        add_direct(&mut rows, &native, &direct, &mut missing);
        let pos = |n: &str| rows.iter().position(|r| r.name == n);
        assert_eq!(pos("direct_irq_latency_min"), pos("irq_latency_root_busy_max").map(|p| p + 1));
        let mean = rows.iter().find(|r| r.name == "direct_irq_latency_mean").unwrap();
        assert_eq!((mean.native, mean.syshyper), (Some(2.0), Some(3.0)));
        assert!(missing.contains(&"direct_irq_latency_root_busy_max".to_string()));
    }
}

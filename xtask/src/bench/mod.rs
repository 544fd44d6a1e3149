//! `cargo xtask bench`: exact instruction counts of sysHyper against native
//! on QEMU with `-icount shift=4` (one counter tick = one instruction), so
//! figures are identical from run to run and host to host. The exception
//! is the root Linux workload (linux.rs): a real kernel runs, so its
//! figures move by a few thousand instructions (0.05%) between runs.
//!
//! Writes target/bench/results.json, results.md and results.svg, and the
//! table into README.md between the bench markers.

mod artifacts;
mod breakdown;
mod ivnet;
mod linux;
mod parse;
mod report;
mod rows;
mod runs;

use anyhow::{Context, Result};
use std::process::ExitCode;
use xtask::image_header::ImageHeader;
use xtask::paths::Paths;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Use the hypervisor image already in target/images (skip `cargo xtask build`).
    #[arg(long)]
    pub no_build: bool,
    /// Do not update the table in README.md.
    #[arg(long)]
    pub no_readme: bool,
    /// Skip the root Linux workload run (item 5; it boots Debian's kernel)
    /// and the ivshmem-net run (it boots two).
    #[arg(long)]
    pub no_linux: bool,
    /// Skip only the ivshmem-net run (root Linux and a Linux cell).
    #[arg(long)]
    pub no_ivnet: bool,
    /// Skip the traced run that splits the interrupt path into phases
    /// (the `irq_path_*` rows).
    #[arg(long)]
    pub no_breakdown: bool,
    /// GIC version of the QEMU machine (2: `gic-version=2` with
    /// configs/qemu-virt-gicv2.toml). A GICv2 run writes
    /// target/bench/results-gicv2.* and README's GICv2 section, never the
    /// GICv3 table; it leaves out the SMMU, direct-delivery and breakdown
    /// runs (GICv3 only).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(2..=3))]
    pub gic: u8,
}

fn footprint(a: &artifacts::Artifacts) -> Result<rows::Footprint> {
    let image = std::fs::read(&a.hv_image)
        .with_context(|| format!("cannot read {}", a.hv_image.display()))?;
    let hdr = ImageHeader::parse(&image)?;
    Ok(rows::Footprint {
        image_bytes: image.len() as u64,
        core_bytes: hdr.core_size,
        percpu_bytes: hdr.percpu_size,
    })
}

fn write(path: &std::path::Path, text: &str) -> Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

pub fn run(p: &Paths, args: &BenchArgs) -> Result<ExitCode> {
    xtask::qemu::set_gic(args.gic);
    if !args.no_build {
        xtask::setup::setup(false)?;
        xtask::images::build_all(p)?;
    }
    let a = artifacts::Artifacts::new(p);
    artifacts::build(p, &a)?;
    let native = runs::native(&a)?;
    let mut hv = runs::syshyper(&a)?;
    // GICv2 (QEMU virt, gic-version=2): the runs that need a GICv3 are
    // left out: the SMMU machine's config (qemu-virt-smmu.toml) names
    // GICv3 addresses, direct delivery is GICv3-only (on a GICv2 a
    // `direct_irqs` cell keeps trap-and-inject, so its rows would not
    // measure direct delivery), and the traced breakdown splits the
    // GICv3 fast path of vectors.rs, which a GICv2 does not take.
    let v2 = args.gic == 2;
    // The SMMU run's figures join the sysHyper run's (names "smmu_*").
    if !v2 {
        let smmu = runs::smmu(&a)?;
        hv.samples.extend(smmu.samples);
        hv.errors.extend(smmu.errors.into_iter().map(|e| format!("smmu: {e}")));
    }
    let mut direct = if v2 { parse::RunOutput::default() } else { runs::syshyper_direct(&a)? };
    // With direct delivery nothing is injected on the measuring CPU: its
    // EL2 histograms are empty by design, not an error of the run.
    direct.errors.retain(|e| !e.starts_with("el2_irq_"));
    let fp = footprint(&a)?;
    let breakdown = if args.no_breakdown || v2 {
        Vec::new()
    } else {
        breakdown::run(&a, &p.images().join("syshyper.elf"))?
    };
    let mut linux_failed = false;
    let mut linux = if args.no_linux {
        parse::RunOutput::default()
    } else {
        linux::run(p, &a).unwrap_or_else(|e| {
            println!("[bench] linux run failed: {e:#}");
            linux_failed = true;
            parse::RunOutput::default()
        })
    };
    let skip_ivnet = args.no_linux || args.no_ivnet;
    if !skip_ivnet {
        match ivnet::run(p, &a) {
            Ok(out) => {
                linux.samples.extend(out.samples);
                linux.errors.extend(out.errors.into_iter().map(|e| format!("ivnet: {e}")));
            }
            Err(e) => {
                println!("[bench] ivnet run failed: {e:#}");
                linux_failed = true;
            }
        }
    }
    let mut missing = Vec::new();
    let mut rows = rows::build(&native, &hv, &fp, &linux, &mut missing);
    rows::add_breakdown(&mut rows, &breakdown);
    rows::add_direct(&mut rows, &native, &direct, &mut missing);
    let row = |name: &str| rows.iter().find(|r| r.name == name).and_then(|r| r.syshyper);
    let el2 = match (row("irq_latency_min"), row("el2_irq_inject_median_bucket")) {
        (Some(cell), Some(low)) if v2 => rows::el2_within_cell(cell, low),
        (Some(cell), Some(low)) => rows::el2_matches_cell(cell, low),
        _ => Err("no EL2 injection delay or interrupt latency figure".into()),
    };
    match &el2 {
        Ok(()) if v2 => println!("[bench] EL2 injection delay median bucket starts below irq_latency (GICv2: order only)"),
        Ok(()) => println!("[bench] EL2 injection delay median agrees with irq_latency (minus the vector path)"),
        Err(e) => println!("[bench] {e}"),
    }
    // The per-CPU area (PerCpu block, stack, trap frame) is sized from the
    // stack's high-water mark: at most half of it may be used.
    let stack = match row("el2_stack_high_water") {
        Some(used) if used * 2.0 <= fp.percpu_bytes as f64 => Ok(()),
        Some(used) => Err(format!("EL2 stack high-water {used} bytes exceeds half the per-CPU area ({})", fp.percpu_bytes)),
        None => Err("no EL2 stack high-water figure".to_string()),
    };
    if let Err(e) = &stack {
        println!("[bench] {e}");
    }

    // Direct delivery must not pass through EL2: its worst timer latency
    // stays below the trapped path's best (docs/direct-delivery.md).
    let direct_ok = match (row("direct_irq_latency_max"), row("irq_latency_min")) {
        _ if v2 => true,
        (Some(direct), Some(trapped)) if direct < trapped => {
            println!("[bench] direct delivery: timer latency max {direct} < trapped min {trapped}");
            true
        }
        (d, t) => {
            println!("[bench] direct delivery: timer latency max {d:?} not below trapped min {t:?}");
            false
        }
    };
    let table = report::markdown(&rows);
    // A GICv2 run has files and a README section of its own: the GICv3
    // results (README's main table) are never replaced by GICv2 figures.
    let stem = if v2 { "results-gicv2" } else { "results" };
    write(&a.dir.join(format!("{stem}.json")), &report::json(&rows))?;
    write(&a.dir.join(format!("{stem}.md")), &table)?;
    write(&a.dir.join(format!("{stem}.svg")), &report::svg(&rows))?;
    println!("\n{table}");
    println!("[bench] wrote {}/{stem}.{{json,md,svg}}", a.dir.display());
    let (begin, end) = if v2 {
        (report::README_BEGIN_GICV2, report::README_END_GICV2)
    } else {
        (report::README_BEGIN, report::README_END)
    };
    if !args.no_readme {
        let path = p.root.join("README.md");
        let readme = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        match report::splice_between(&readme, begin, end, &table) {
            Some(new) if new != readme => {
                write(&path, &new)?;
                println!("[bench] updated the table in README.md");
            }
            Some(_) => println!("[bench] README.md table unchanged"),
            None => println!("[bench] README.md has no bench markers; table not inserted"),
        }
    }
    for (run, out) in [("native", &native), ("syshyper", &hv), ("syshyper-direct", &direct), ("linux", &linux)] {
        for e in &out.errors {
            println!("[bench] {run} error: {e}");
        }
    }
    let skipped = [
        "root_workload",
        "root_workload_compute",
        "root_workload_memory",
        "hypervisor_enable",
        "hypervisor_disable",
        "linux_cell_start_to_init",
    ];
    let ivnet_rows = [
        "ivnet_udp_round_trip_min",
        "ivnet_udp_round_trip_mean",
        "ivnet_tcp_16MiB",
        "ivnet_tcp_per_MiB",
    ];
    let expected_missing: &[&str] = if args.no_linux { &skipped } else { &[] };
    // The rows of the runs a GICv2 leaves out (above).
    let not_on_v2 = |m: &str| v2 && ["smmu_", "direct_", "irq_path_"].iter().any(|p| m.starts_with(p));
    let unexpected: Vec<_> = missing
        .iter()
        .filter(|m| !expected_missing.contains(&m.as_str()))
        .filter(|m| !not_on_v2(m))
        .filter(|m| !(skip_ivnet && ivnet_rows.contains(&m.as_str())))
        .collect();
    if !missing.is_empty() {
        println!("[bench] not measured: {}", missing.join(", "));
    }
    Ok(
        if unexpected.is_empty()
            && el2.is_ok()
            && stack.is_ok()
            && direct_ok
            && !linux_failed
            && [&native, &hv, &direct, &linux].iter().all(|o| o.errors.is_empty())
        {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}

//! A cell configuration from the command line: CPUs, RAM and devices named
//! by device-tree path (their registers and interrupts).

use super::board::{self, Board};
use super::dt::{self, Tree};
use super::emit::{self, comment, hex, span};
use super::ranges::{intersect, page_round, Range, PAGE};
use super::system::{self, Live, SystemOpts};
use anyhow::{bail, ensure, Context};
use std::fmt::Write;

#[derive(Clone, Debug)]
pub struct CellOpts {
    pub name: String,
    pub cpus: Vec<u32>,
    pub mem: u64,
    pub mem_at: Option<u64>,
    pub devices: Vec<String>,
    pub sys: SystemOpts,
}

/// Where the comm region goes in the cell's address space (as every shipped
/// cell has it), unless the cell's RAM is there.
const COMM_VIRT: u64 = 0x8000_0000;

pub fn generate(tree: &Tree, board: &Board, live: &Live, opts: &CellOpts) -> anyhow::Result<String> {
    ensure!(!opts.name.is_empty() && opts.name.len() <= 31, "--cell: the name must have 1 to 31 bytes");
    ensure!(!opts.cpus.is_empty(), "--cpus: a cell needs at least one CPU");
    for id in &opts.cpus {
        ensure!(board.cpus.iter().any(|c| c.id == *id), "--cpus: CPU {id} is not in the device tree");
    }
    ensure!(opts.mem >= PAGE && opts.mem.is_multiple_of(PAGE), "--mem: the size must be a multiple of 4 KiB");
    let mut out = String::new();
    let (ram, ram_why) = match opts.mem_at {
        Some(at) => {
            ensure!(at.is_multiple_of(PAGE), "--mem: the address must be page aligned");
            ensure!(at.saturating_add(opts.mem) <= system::IPA_LIMIT, "--mem: above the 1 TiB sysHyper's stage 2 covers");
            ((at, at.checked_add(opts.mem).context("--mem: address and size overflow")?), "at the address given".to_string())
        }
        None => {
            // Right below the hypervisor, aligned as a Linux kernel wants.
            let lay = system::layout(board, live, &opts.sys)?;
            let align = opts.mem.next_power_of_two().min(2 << 20);
            let start = lay.hv.0.checked_sub(opts.mem).context("--mem: too large")? & !(align - 1);
            ensure!(start >= lay.reserved.0, "--mem: {} does not fit the reserved area {} below the hypervisor", emit::size(opts.mem), span(lay.reserved));
            ((start, start + opts.mem), format!("at the top of the reserved area {} below the hypervisor", span(lay.reserved)))
        }
    };
    comment(&mut out, &format!("sysHyper cell configuration written by `syshyper config create --cell` from the device tree{}.", board.model.as_deref().map(|m| format!(" of \"{m}\"")).unwrap_or_default()));
    let _ = write!(out, "\n[cell]\nname = {}\n", emit::string(&opts.name));
    for c in board.cpus.iter().filter(|c| opts.cpus.contains(&c.id)) {
        comment(&mut out, &format!("CPU {}: {}, MPIDR {:#x}", c.id, c.path, c.mpidr));
    }
    let _ = writeln!(out, "cpus = \"{}\"", syshyper_config::source::units::format_list(opts.cpus.iter().copied()));

    let walk = tree.walk();
    let mut regions: Vec<(String, Range)> = Vec::new();
    let mut irqs: Vec<u32> = Vec::new();
    let mut console = None;
    for path in &opts.devices {
        let (full, _) = tree.find(path).with_context(|| format!("--device {path}: no such node in the device tree"))?;
        let v = walk.iter().find(|v| v.path == full).context("device node vanished")?;
        if !v.node.enabled() {
            eprintln!("note: {full} is disabled in the device tree");
        }
        let regs = dt::reg_cpu(v).unwrap_or_default();
        let ints = board::interrupts_of(tree, v, &board.gic);
        if regs.is_empty() && ints.is_empty() {
            bail!("--device {full}: no registers in the CPU's address space and no GIC interrupts");
        }
        for (s, l) in regs {
            let r = page_round((s, s + l));
            ensure!(intersect(&[r], &board.gic.all_regions).is_empty(), "--device {full}: overlaps the GIC");
            ensure!(r.1 <= system::IPA_LIMIT, "--device {full}: {} is above the 1 TiB sysHyper's stage 2 covers", span(r));
            regions.push((full.clone(), r));
        }
        let spis: Vec<u32> = ints.iter().copied().filter(|i| *i >= 32).collect();
        irqs.extend(&spis);
        if let Some(c) = board.console.as_ref().filter(|c| c.path == full) {
            console = Some(c.clone());
        } else if console.is_none() {
            console = board::console_of(v);
        }
    }
    if let Some(c) = &console {
        comment(&mut out, &format!("Where the cell's programs print: {}", c.path));
        let flags = if c.regdist_4 { "\"mmio\", \"regdist_4\"" } else { "\"mmio\"" };
        let _ = writeln!(out, "console = {{ address = {}, size = \"0\", type = \"{}\", flags = [{flags}] }}", hex(c.base), c.kind);
    }
    emit::memory(&mut out, &format!("RAM {ram_why}, 1:1 (an inmate built for guest address 0 wants virt = \"0x0\"), loaded by the root before start."), ram, None, &["read", "write", "execute", "loadable"]);
    let comm = if ram.0 < COMM_VIRT + PAGE && COMM_VIRT < ram.1 { (ram.1 + 0xffff) & !0xffff } else { COMM_VIRT };
    out.push('\n');
    comment(&mut out, "Communication region (allocated by the hypervisor; phys is unused).");
    let _ = write!(out, "[[cell.memory]]\nphys = \"0x0\"\nvirt = {}\nsize = \"4 KiB\"\nflags = [\"read\", \"write\", \"comm_region\"]\n", hex(comm));
    for (path, r) in &regions {
        emit::memory(&mut out, &format!("{path}: its reg"), *r, None, &["read", "write", "io"]);
    }
    irqs.sort_unstable();
    irqs.dedup();
    if !irqs.is_empty() {
        emit::irqchips(&mut out, "The devices' interrupts.", board.gic.gicd.0, &irqs);
    }
    syshyper_config::source::compile(&out).map_err(|e| anyhow::anyhow!("the generated configuration does not compile: {e}\n{out}"))?;
    Ok(out)
}

//! Where the instructions of the trap-and-inject path go (issue 17): the
//! sysHyper run once more with QEMU's instruction trace (`-singlestep -d
//! exec,nochain`) limited to the EL2 vectors and the interrupt fast path
//! (`hypervisor/src/arch/aarch64/vectors.rs`), so the log stays small and
//! the counts stay exact (under `-icount` the trace changes no count).
//! Each interrupt exit that the fast path took from the IRQ vector to its
//! `eret` is split at the path's global labels into phases; the most
//! common exit's split becomes the `irq_path_*` rows, and what the cell
//! measures beyond it (`irq_latency_min` minus the EL2 instructions) is
//! `irq_path_outside_el2`.

use super::artifacts::Artifacts;
use super::runs;
use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

/// The phases, each from its label to the next (names of the rows).
pub const PHASES: &[(&str, &str)] = &[
    ("irq_path_entry_save", "__el2_vectors"),
    ("irq_path_dispatch", "__irq_fast"),
    ("irq_path_ack_classify", "__irq_fast_ack"),
    ("irq_path_inject", "__irq_fast_inject"),
    ("irq_path_account", "__irq_fast_account"),
    ("irq_path_restore_eret", "__irq_fast_restore"),
];

/// Offset of the lower-EL AArch64 IRQ entry in the vector table.
const IRQ_VECTOR: u64 = 0x480;
/// Instructions from `__irq_fast_restore` to the `eret` (3 ldp, add).
const RESTORE_TO_ERET: u64 = 4 * 4;

/// Label addresses from the image's symbols.
fn labels(elf: &Path) -> Result<HashMap<String, u64>> {
    let out = Command::new("llvm-nm")
        .arg("--defined-only")
        .arg(elf)
        .output()
        .context("llvm-nm (package llvm; `cargo xtask setup`)")?;
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let mut f = line.split_whitespace();
        if let (Some(addr), Some(_), Some(name)) = (f.next(), f.next(), f.next()) {
            if let Ok(a) = u64::from_str_radix(addr, 16) {
                map.insert(name.to_string(), a);
            }
        }
    }
    Ok(map)
}

/// Phase counts of the most common fast-path interrupt exit in the trace
/// `log`, with the label addresses `starts` (ascending, one per phase) and
/// the `eret` at `eret`.
pub fn split(log: &str, vector: u64, starts: &[u64], eret: u64) -> Option<Vec<u64>> {
    let mut current: HashMap<u32, Vec<u64>> = HashMap::new();
    let mut seen: HashMap<Vec<u64>, usize> = HashMap::new();
    for line in log.lines() {
        // "Trace <cpu>: <host ptr> [<cs_base>/<pc>/<flags>/<cflags>] ..."
        let Some(rest) = line.strip_prefix("Trace ") else { continue };
        let Some((cpu, rest)) = rest.split_once(':') else { continue };
        let Ok(cpu) = cpu.trim().parse::<u32>() else { continue };
        let Some(pc) = rest.split('/').nth(1).and_then(|s| u64::from_str_radix(s, 16).ok()) else {
            continue;
        };
        if pc == vector {
            current.insert(cpu, vec![0; starts.len()]);
        }
        let Some(counts) = current.get_mut(&cpu) else { continue };
        // The phase whose label is the last at or below the PC.
        match starts.iter().rposition(|&s| s <= pc) {
            Some(i) => counts[i] += 1,
            None => {
                current.remove(&cpu);
                continue;
            }
        }
        // An exit that left for the Rust path is not traced further (the
        // filter ends before it) and never reaches this `eret`: the CPU's
        // next vector entry replaces it.
        if pc == eret {
            if let Some(c) = current.remove(&cpu) {
                *seen.entry(c).or_default() += 1;
            }
        }
    }
    seen.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c)
}

/// Runs the traced sysHyper run and returns (row, instructions) pairs.
pub fn run(a: &Artifacts, elf: &Path) -> Result<Vec<(&'static str, u64)>> {
    let l = labels(elf)?;
    let get = |n: &str| l.get(n).copied().with_context(|| format!("no symbol {n} in {}", elf.display()));
    let mut starts = Vec::new();
    for (_, label) in PHASES {
        starts.push(get(label)?);
    }
    let vector = get("__el2_vectors")? + IRQ_VECTOR;
    starts[0] = vector;
    let eret = get("__irq_fast_restore")? + RESTORE_TO_ERET;
    let end = get("__irq_fast_spi")?;
    let log = a.dir.join("breakdown-trace.log");
    let _ = std::fs::remove_file(&log);
    let extra: Vec<String> = [
        "-singlestep".to_string(),
        "-d".to_string(),
        "exec,nochain".to_string(),
        "-dfilter".to_string(),
        format!("{vector:#x}..{:#x}", end - 1),
        "-D".to_string(),
        log.display().to_string(),
    ]
    .into();
    runs::syshyper_with(a, "bench-cell", "breakdown", &extra)?;
    let text = std::fs::read_to_string(&log).with_context(|| format!("cannot read {}", log.display()))?;
    let Some(counts) = split(&text, vector, &starts, eret) else {
        bail!("no interrupt exit through the fast path in {}", log.display());
    };
    Ok(PHASES.iter().map(|(row, _)| *row).zip(counts).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_the_most_common_exit_at_the_labels() {
        let line = |cpu: u32, pc: u64| format!("Trace {cpu}: 0x7f00 [00000000/{pc:016x}/00000061/ff020201] \n");
        let starts = [0x480, 0x1000, 0x1010, 0x1020, 0x1040, 0x1050];
        let eret = 0x1060;
        let mut log = String::new();
        for _ in 0..2 {
            for pc in [0x480, 0x484, 0x1000, 0x1004, 0x1010, 0x1020, 0x1024, 0x1040, 0x1050, 0x1060] {
                log += &line(1, pc);
            }
        }
        // Another CPU's exit interleaved, and one leaving for the Rust path.
        log += &line(2, 0x480);
        log += &line(1, 0x480);
        log += &line(2, 0x1000);
        log += &line(1, 0x2000);
        log += &line(2, 0x1060);
        assert_eq!(split(&log, 0x480, &starts, eret), Some(vec![2, 2, 1, 2, 1, 2]));
    }
}

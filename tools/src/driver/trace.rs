//! `cell dump` and `cell stats --latency`: decoding the driver's raw
//! cells/<id>/postmortem and cells/<id>/latency files (formats in
//! driver/trace.c; record layout in hypervisor/src/trace/mod.rs).

use std::fmt::Write as _;

/// Record word indices (hypervisor/src/trace/mod.rs, `rec`).
mod rec {
    pub const VALID: usize = 0;
    pub const ESR: usize = 1;
    pub const FAR: usize = 2;
    pub const HPFAR: usize = 3;
    pub const IPA: usize = 4;
    pub const ELR: usize = 5;
    pub const SPSR: usize = 6;
    pub const CELL: usize = 7;
    pub const X: usize = 9;
    pub const RING_COUNT: usize = 40;
    pub const RING_AT: usize = 41;
    pub const RING: usize = 16;
    pub const RING_WORDS: usize = 4;
    pub const WORDS: usize = RING_AT + RING * RING_WORDS;
}

/// Histogram names, in the hypervisor's order (`trace::Exit`, then the
/// injection delay).
pub const HISTS: [&str; 7] = ["irq", "mmio", "hypercall", "smc", "sysreg", "other", "inject"];

/// "cpu N" blocks of a driver file: (N, the block's lines).
fn blocks(text: &str) -> Vec<(u32, Vec<&str>)> {
    let mut out: Vec<(u32, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("cpu ").and_then(|n| n.trim().parse().ok()) {
            out.push((n, Vec::new()));
        } else if let Some((_, lines)) = out.last_mut() {
            lines.push(line);
        }
    }
    out
}

/// The records of the postmortem file: (CPU, words).
pub fn parse_records(text: &str) -> Vec<(u32, Vec<u64>)> {
    blocks(text)
        .into_iter()
        .map(|(cpu, lines)| {
            let words = lines.iter().flat_map(|l| l.split_whitespace()).filter_map(|w| u64::from_str_radix(w, 16).ok());
            (cpu, words.collect::<Vec<u64>>())
        })
        .filter(|(_, w)| w.len() >= rec::WORDS && w[rec::VALID] & 1 != 0)
        .collect()
}

fn exception_class(ec: u64) -> &'static str {
    match ec {
        0x00 => "unknown reason (undefined instruction)",
        0x01 => "WFI/WFE",
        0x07 => "FP/SIMD access",
        0x0e => "illegal execution state",
        0x15 => "SVC",
        0x16 => "HVC",
        0x17 => "SMC",
        0x18 => "MSR/MRS/system instruction",
        0x20 => "instruction abort",
        0x22 => "PC alignment fault",
        0x24 => "data abort",
        0x26 => "SP alignment fault",
        0x2f => "SError",
        0x03..=0x0c | 0x11..=0x13 => "AArch32 instruction",
        _ => "exception class not decoded",
    }
}

/// What a DFSC/IFSC says, for a stage-2 fault of a cell.
fn fault_status(fsc: u64) -> String {
    let level = fsc & 3;
    match fsc & 0x3c {
        0x04 => format!("outside the cell's memory (translation fault, level {level})"),
        0x08 => format!("access flag fault, level {level}"),
        0x0c => format!("not permitted by the cell's memory flags (permission fault, level {level})"),
        _ if fsc == 0x00 => "address size fault".into(),
        _ if fsc == 0x10 => "synchronous external abort".into(),
        _ if fsc == 0x21 => "alignment fault".into(),
        _ => format!("fault status {fsc:#x}"),
    }
}

/// One line in words: what the CPU did when the hypervisor stopped it.
pub fn summary(w: &[u64]) -> String {
    let esr = w[rec::ESR];
    let ec = (esr >> 26) & 0x3f;
    let iss = esr & 0x1ff_ffff;
    let pc = w[rec::ELR];
    let ipa = w[rec::IPA];
    match ec {
        0x24 => {
            let write = iss & (1 << 6) != 0;
            let dir = if write { "write" } else { "read" };
            let size = if iss & (1 << 24) != 0 {
                format!("{} bytes", 1u64 << ((iss >> 22) & 3))
            } else {
                "size unknown (no instruction syndrome)".into()
            };
            let s1 = if iss & (1 << 7) != 0 { ", during a stage-1 table walk" } else { "" };
            format!("data abort, {dir}, {size} at IPA {ipa:#x}, {}{s1}, at PC {pc:#x}", fault_status(iss & 0x3f))
        }
        0x20 => format!("instruction abort at IPA {ipa:#x}, {}, at PC {pc:#x}", fault_status(iss & 0x3f)),
        0x16 => format!("HVC with immediate {:#x} (not the hypercall immediate 0x4a48), at PC {pc:#x}", iss & 0xffff),
        0x18 => {
            let (op0, op2, op1, crn, rt, crm) =
                ((iss >> 20) & 3, (iss >> 17) & 7, (iss >> 14) & 7, (iss >> 10) & 0xf, (iss >> 5) & 0x1f, (iss >> 1) & 0xf);
            let dir = if iss & 1 != 0 { "read (MRS)" } else { "write (MSR)" };
            format!("trapped system register {dir} S{op0}_{op1}_C{crn}_C{crm}_{op2} with x{rt}, at PC {pc:#x}")
        }
        _ => format!("{} (EC {ec:#x}, ISS {iss:#x}), at PC {pc:#x}", exception_class(ec)),
    }
}

/// A ring entry in words.
fn trap_line(t0: u64, entry: &[u64]) -> String {
    let (t, esr, pc, detail) = (entry[0], entry[1], entry[2], entry[3]);
    let ec = (esr >> 26) & 0x3f;
    let what = match ec {
        0x24 => format!("data abort {} at IPA {detail:#x}", if esr & (1 << 6) != 0 { "write" } else { "read" }),
        0x16 => format!("hypercall {detail:#x}"),
        0x17 => format!("SMC function {detail:#x}"),
        _ => format!("{} (ESR {esr:#x})", exception_class(ec)),
    };
    format!("t{:+} ticks: {what} at PC {pc:#x}", t.wrapping_sub(t0) as i64)
}

/// `cell dump` output for one failed CPU.
pub fn dump(cpu: u32, w: &[u64]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "CPU {cpu} (cell {}): {}", w[rec::CELL], summary(w));
    let esr = w[rec::ESR];
    let _ = writeln!(
        s,
        "  ESR {esr:#x} ({}, EC {:#x}, IL {}, ISS {:#x})  FAR {:#x}  HPFAR {:#x}",
        exception_class((esr >> 26) & 0x3f),
        (esr >> 26) & 0x3f,
        (esr >> 25) & 1,
        esr & 0x1ff_ffff,
        w[rec::FAR],
        w[rec::HPFAR]
    );
    let spsr = w[rec::SPSR];
    let mode = match spsr & 0x1f {
        0x00 => "EL0t",
        0x04 => "EL1t",
        0x05 => "EL1h",
        m if m & 0x10 != 0 => "AArch32",
        _ => "?",
    };
    let _ = writeln!(s, "  PC (ELR) {:#x}  SPSR {spsr:#x} ({mode}, DAIF {:#x})", w[rec::ELR], (spsr >> 6) & 0xf);
    for row in 0..8 {
        s.push(' ');
        for r in (row * 4..row * 4 + 4).filter(|&r| r < 31) {
            let _ = write!(s, " x{r:<2} {:#018x}", w[rec::X + r]);
        }
        s.push('\n');
    }
    let count = w[rec::RING_COUNT] as usize;
    let kept = count.min(rec::RING);
    let _ = writeln!(s, "  last {kept} of {count} traps on this CPU, oldest first (time relative to the last):");
    let slot = |i: usize| &w[rec::RING_AT + (i % rec::RING) * rec::RING_WORDS..][..rec::RING_WORDS];
    let newest = count.wrapping_sub(1);
    let t0 = if count > 0 { slot(newest)[0] } else { 0 };
    for i in count - kept..count {
        let _ = writeln!(s, "    {}", trap_line(t0, slot(i)));
    }
    s
}

/// Per CPU: each histogram's (bucket k, count) pairs.
pub type Latency = Vec<(u32, Vec<Vec<(u32, u64)>>)>;

/// Parses the latency file.
pub fn parse_latency(text: &str) -> Latency {
    blocks(text)
        .into_iter()
        .map(|(cpu, lines)| {
            let hists = HISTS
                .iter()
                .map(|name| {
                    let line = lines.iter().find(|l| l.split_whitespace().next() == Some(name));
                    line.map(|l| {
                        l.split_whitespace()
                            .skip(1)
                            .filter_map(|p| {
                                let (k, n) = p.split_once(':')?;
                                Some((k.parse().ok()?, n.parse().ok()?))
                            })
                            .collect()
                    })
                    .unwrap_or_default()
                })
                .collect();
            (cpu, hists)
        })
        .collect()
}

/// The range of log2 bucket k in ticks: [low, high).
pub fn bucket_range(k: u32) -> (u64, u64) {
    match k {
        0..=63 => (1u64 << (63 - k), if k == 0 { u64::MAX } else { 1u64 << (64 - k) }),
        _ => (0, 1),
    }
}

/// Samples and the bucket holding the median (None when empty).
pub fn median_bucket(h: &[(u32, u64)]) -> Option<(u64, u32)> {
    let total: u64 = h.iter().map(|&(_, n)| n).sum();
    if total == 0 {
        return None;
    }
    // Buckets from the shortest delays (highest k) up.
    let mut sorted = h.to_vec();
    sorted.sort_by_key(|&(k, _)| std::cmp::Reverse(k));
    let mut seen = 0;
    for (k, n) in sorted {
        seen += n;
        if 2 * seen >= total {
            return Some((total, k));
        }
    }
    None
}

fn range_text(k: u32) -> String {
    let (lo, hi) = bucket_range(k);
    if k == 64 { "0".into() } else { format!("{lo}-{}", hi - 1) }
}

/// `cell stats --latency`: per CPU and histogram, samples, median bucket
/// and the non-empty buckets, in counter ticks (`freq` Hz).
pub fn latency_table(cell: &str, id: u32, lat: &Latency, freq: u64) -> String {
    let mut s = format!(
        "Latency at EL2 for cell \"{cell}\" (id {id}), counter ticks ({} ns each), log2 buckets\n",
        1_000_000_000u64.checked_div(freq).unwrap_or(0)
    );
    let _ = writeln!(s, "{:<6}{:<11}{:>10}{:>14}  buckets (ticks: count)", "CPU", "histogram", "samples", "median");
    for (cpu, hists) in lat {
        for (name, h) in HISTS.iter().zip(hists) {
            let Some((total, med)) = median_bucket(h) else { continue };
            let mut sorted = h.clone();
            sorted.sort_by_key(|&(k, _)| std::cmp::Reverse(k));
            let buckets: Vec<String> = sorted.iter().map(|&(k, n)| format!("{}: {n}", range_text(k))).collect();
            let _ = writeln!(s, "{:<6}{:<11}{total:>10}{:>14}  {}", cpu, name, range_text(med), buckets.join(", "));
        }
    }
    s
}

/// `cell stats --latency --json`.
pub fn latency_json(cell: &str, id: u32, lat: &Latency, freq: u64) -> String {
    let name: String = cell.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect();
    let mut s = format!("{{\"cell\":\"{name}\",\"id\":{id},\"counter_hz\":{freq},\"bucket\":\"log2\",\"cpus\":[");
    for (i, (cpu, hists)) in lat.iter().enumerate() {
        let _ = write!(s, "{}{{\"cpu\":{cpu}", if i > 0 { "," } else { "" });
        for (name, h) in HISTS.iter().zip(hists) {
            let mut sorted = h.clone();
            sorted.sort_by_key(|&(k, _)| std::cmp::Reverse(k));
            let (total, med) = median_bucket(h).map_or((0, None), |(t, k)| (t, Some(bucket_range(k))));
            let med = med.map_or("null".to_string(), |(lo, hi)| format!("[{lo},{hi}]"));
            let buckets: Vec<String> = sorted
                .iter()
                .map(|&(k, n)| {
                    let (lo, hi) = bucket_range(k);
                    format!("{{\"from\":{lo},\"to\":{hi},\"count\":{n}}}")
                })
                .collect();
            let _ = write!(s, ",\"{name}\":{{\"samples\":{total},\"median\":{med},\"buckets\":[{}]}}", buckets.join(","));
        }
        s.push('}');
    }
    s.push_str("]}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Vec<u64> {
        let mut w = vec![0u64; rec::WORDS];
        w[rec::VALID] = 1 | 1 << 32;
        // Data abort from EL1, IL, ISV, SAS 2 (4 bytes), WnR, DFSC 0x06.
        w[rec::ESR] = (0x24 << 26) | (1 << 25) | (1 << 24) | (2 << 22) | (1 << 6) | 0x06;
        w[rec::IPA] = 0x4000_1000;
        w[rec::ELR] = 0x1234;
        w[rec::SPSR] = 0x3c5;
        w[rec::CELL] = 1;
        w[rec::X + 30] = 0xabc;
        w[rec::RING_COUNT] = 18;
        for i in 0..16 {
            let e = rec::RING_AT + i * 4;
            w[e] = 1000 + i as u64;
            w[e + 1] = 0x16 << 26;
            w[e + 2] = 0x100 + i as u64;
            w[e + 3] = 0x5;
        }
        w
    }

    #[test]
    fn data_abort_in_words() {
        assert_eq!(
            summary(&record()),
            "data abort, write, 4 bytes at IPA 0x40001000, outside the cell's memory (translation fault, level 2), at PC 0x1234"
        );
    }

    #[test]
    fn dump_names_registers_and_the_ring_oldest_first() {
        let d = dump(2, &record());
        assert!(d.starts_with("CPU 2 (cell 1): data abort"), "{d}");
        assert!(d.contains("x30 0x0000000000000abc"), "{d}");
        assert!(d.contains("EL1h"), "{d}");
        assert!(d.contains("last 16 of 18 traps"), "{d}");
        let ring: Vec<&str> = d.lines().filter(|l| l.contains("hypercall 0x5")).collect();
        assert_eq!(ring.len(), 16);
        // Oldest is trap 2 (slot 2), newest trap 17 (slot 1), at t+0.
        assert!(ring[0].contains("PC 0x102") && ring[15].contains("t+0 ") && ring[15].contains("PC 0x101"), "{ring:?}");
    }

    #[test]
    fn records_parse_from_the_driver_text() {
        let words: Vec<String> = record().iter().map(|w| format!("{w:x}")).collect();
        let text = format!("cpu 2\n{}\n", words.join(" "));
        let r = parse_records(&text);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].0, 2);
        assert_eq!(r[0].1, record());
        assert!(parse_records("cpu 1\n0 1 2\n").is_empty(), "a short record is not one");
    }

    #[test]
    fn latency_median_and_ranges() {
        let lat = parse_latency("cpu 1\nirq 57:3 58:10\nmmio\nhypercall\nsmc\nsysreg\nother\ninject 58:13\n");
        assert_eq!(lat.len(), 1);
        assert_eq!(lat[0].1[0], vec![(57, 3), (58, 10)]);
        assert_eq!(median_bucket(&lat[0].1[0]), Some((13, 58)));
        assert_eq!(bucket_range(57), (64, 128));
        assert_eq!(bucket_range(64), (0, 1));
        let t = latency_table("gic-demo", 1, &lat, 62_500_000);
        assert!(t.contains("16 ns"), "{t}");
        assert!(t.lines().any(|l| l.starts_with("1     irq") && l.contains("32-63")), "{t}");
        assert!(!t.contains("mmio"), "empty histograms are left out: {t}");
        let j = latency_json("gic-demo", 1, &lat, 62_500_000);
        assert!(j.contains("\"irq\":{\"samples\":13,\"median\":[32,64]"), "{j}");
        assert!(j.contains("\"mmio\":{\"samples\":0,\"median\":null,\"buckets\":[]}"), "{j}");
    }
}

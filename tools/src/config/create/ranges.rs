//! Physical address ranges (start, end exclusive) and the Linux files that
//! describe them: /proc/iomem and `mem=` on the kernel command line.

/// `[start, end)`.
pub type Range = (u64, u64);

pub const PAGE: u64 = 0x1000;

/// Sorted, with overlapping or touching ranges joined.
pub fn merge(mut v: Vec<Range>) -> Vec<Range> {
    v.retain(|r| r.1 > r.0);
    v.sort();
    let mut out: Vec<Range> = Vec::new();
    for r in v {
        match out.last_mut() {
            Some(last) if r.0 <= last.1 => last.1 = last.1.max(r.1),
            _ => out.push(r),
        }
    }
    out
}

/// `a` without anything in `b`.
pub fn subtract(a: &[Range], b: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for &(mut s, e) in a {
        for &(bs, be) in &merge(b.to_vec()) {
            if be <= s || bs >= e {
                continue;
            }
            if bs > s {
                out.push((s, bs));
            }
            s = s.max(be);
        }
        if s < e {
            out.push((s, e));
        }
    }
    out
}

pub fn intersect(a: &[Range], b: &[Range]) -> Vec<Range> {
    let mut out = Vec::new();
    for &(s, e) in a {
        for &(bs, be) in b {
            let (lo, hi) = (s.max(bs), e.min(be));
            if lo < hi {
                out.push((lo, hi));
            }
        }
    }
    merge(out)
}

/// Widened to whole pages: the stage-2 maps pages, and a region that is not
/// page aligned would be trapped and forwarded access by access.
pub fn page_round((s, e): Range) -> Range {
    (s & !(PAGE - 1), e.saturating_add(PAGE - 1) & !(PAGE - 1))
}

/// The top-level entries of /proc/iomem: (range, name). Nested lines
/// (indented: kernel code, device children) are left out.
pub fn parse_iomem(text: &str) -> Vec<(Range, String)> {
    text.lines()
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| {
            let (span, name) = l.split_once(" : ")?;
            let (s, e) = span.trim().split_once('-')?;
            let s = u64::from_str_radix(s, 16).ok()?;
            let e = u64::from_str_radix(e, 16).ok()?;
            Some(((s, e.checked_add(1)?), name.trim().to_string()))
        })
        .collect()
}

/// The RAM Linux has mapped: its "System RAM" ranges.
pub fn system_ram(iomem: &str) -> Vec<Range> {
    merge(parse_iomem(iomem).into_iter().filter(|(_, n)| n == "System RAM").map(|(r, _)| r).collect())
}

/// Whether /proc/iomem hid its addresses (read without CAP_SYS_ADMIN, every
/// range reads 00000000-00000000) or lists no RAM. RAM that starts at 0
/// (ZynqMP, Raspberry Pi) is a real address: only the empty 0-0 range is
/// the hidden one.
pub fn addresses_hidden(system_ram: &[Range]) -> bool {
    system_ram.is_empty() || system_ram.iter().all(|&r| r == (0, 1))
}

/// Everything else /proc/iomem lists at the top level (firmware's
/// "reserved" memory, devices): never free RAM, even where Linux left it.
pub fn claimed(iomem: &str) -> Vec<Range> {
    merge(parse_iomem(iomem).into_iter().filter(|(_, n)| n != "System RAM").map(|(r, _)| r).collect())
}

/// Linux's memparse: a number with an optional K/M/G/T/P/E suffix.
pub fn memparse(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_hexdigit() && c != 'x' && c != 'X').unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let value = if let Some(hex) = num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        u64::from_str_radix(hex, 16).ok()?
    } else {
        num.parse().ok()?
    };
    let shift = match suffix.chars().next().map(|c| c.to_ascii_uppercase()) {
        None => 0,
        Some('K') => 10,
        Some('M') => 20,
        Some('G') => 30,
        Some('T') => 40,
        Some('P') => 50,
        Some('E') => 60,
        _ => return None,
    };
    value.checked_mul(1 << shift)
}

/// The last `mem=` of a kernel command line (the one Linux obeys).
pub fn mem_limit(cmdline: &str) -> Option<u64> {
    cmdline.split_whitespace().filter_map(|w| w.strip_prefix("mem=")).filter_map(memparse).next_back()
}

/// What `mem=LIMIT` leaves Linux of `ram` on arm64: the lowest LIMIT bytes
/// (memblock_mem_limit_remove_map counts memory, not addresses).
pub fn apply_mem_limit(ram: &[Range], limit: u64) -> Vec<Range> {
    let mut left = limit;
    let mut out = Vec::new();
    for &(s, e) in ram {
        let take = (e - s).min(left);
        if take > 0 {
            out.push((s, s + take));
        }
        left -= take;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_arithmetic() {
        assert_eq!(merge(vec![(5, 8), (0, 2), (2, 4), (7, 9)]), vec![(0, 4), (5, 9)]);
        assert_eq!(subtract(&[(0, 10)], &[(2, 3), (8, 12)]), vec![(0, 2), (3, 8)]);
        assert_eq!(subtract(&[(0, 10)], &[(0, 10)]), vec![]);
        assert_eq!(intersect(&[(0, 10), (20, 30)], &[(5, 25)]), vec![(5, 10), (20, 25)]);
        assert_eq!(page_round((0x0a00_0200, 0x0a00_0400)), (0x0a00_0000, 0x0a00_1000));
    }

    #[test]
    fn iomem_and_mem_limit() {
        let iomem = "09000000-09000fff : pl011@9000000\n  09000000-09000fff : 9000000.pl011 pl011@9000000\n40000000-6fffffff : System RAM\n  40210000-4161ffff : Kernel code\n4010000000-401fffffff : PCI ECAM\n";
        assert_eq!(system_ram(iomem), vec![(0x4000_0000, 0x7000_0000)]);
        assert_eq!(parse_iomem(iomem).len(), 3);
        assert_eq!(mem_limit("console=ttyAMA0 mem=1G quiet mem=768M"), Some(768 << 20));
        assert_eq!(memparse("0x1000k"), Some(0x1000 << 10));
        assert_eq!(mem_limit("quiet"), None);
        let ram = [(0x0, 0x3b40_0000), (0x4000_0000, 0x1_0000_0000)];
        assert_eq!(apply_mem_limit(&ram, 0x3b40_0000 + 0x1000), vec![(0x0, 0x3b40_0000), (0x4000_0000, 0x4000_1000)]);
    }
}

#[cfg(test)]
mod hidden_tests {
    use super::*;

    #[test]
    fn ram_at_zero_is_an_address_hidden_ranges_are_not() {
        // ZCU102 with mem=1792M: the only RAM range starts at 0.
        assert!(!addresses_hidden(&system_ram("00000000-6fffffff : System RAM\n")));
        // As a user without CAP_SYS_ADMIN reads it.
        let hidden = "00000000-00000000 : System RAM\n00000000-00000000 : System RAM\n";
        assert!(addresses_hidden(&system_ram(hidden)));
        assert!(addresses_hidden(&system_ram("")));
    }
}

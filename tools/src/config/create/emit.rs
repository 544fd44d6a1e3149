//! Writes configuration TOML by hand: the generated files carry a comment
//! per entry (where it came from), which a serializer cannot write. The
//! result is compiled before it is handed out, so the schema stays the
//! config crate's.

use super::ranges::Range;
use std::fmt::Write;
use syshyper_config::source::units::format_size;

pub fn hex(v: u64) -> String {
    format!("\"{v:#010x}\"")
}

pub fn size(v: u64) -> String {
    format!("\"{}\"", format_size(v))
}

/// A human span for comments: `0x70000000-0x7fffffff (256 MiB)`.
pub fn span((s, e): Range) -> String {
    format!("{s:#x}-{:#x} ({})", e.saturating_sub(1), format_size(e - s))
}

/// TOML basic string (quotes and backslashes escaped).
pub fn string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `# text` lines, wrapped at about 76 columns.
pub fn comment(out: &mut String, text: &str) {
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > 76 && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
}

/// One `[[cell.memory]]` entry with its comment.
pub fn memory(out: &mut String, why: &str, (s, e): Range, virt: Option<u64>, flags: &[&str]) {
    out.push('\n');
    comment(out, why);
    out.push_str("[[cell.memory]]\n");
    let _ = writeln!(out, "phys = {}", hex(s));
    if let Some(v) = virt {
        let _ = writeln!(out, "virt = {}", hex(v));
    }
    let _ = writeln!(out, "size = {}", size(e - s));
    let _ = writeln!(out, "flags = [{}]", flags.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", "));
}

/// `[[cell.irqchip]]` entries granting `intids` (SPIs), one per block of
/// 128 from INTID 32 as the format requires.
pub fn irqchips(out: &mut String, why: &str, gicd: u64, intids: &[u32]) {
    let mut blocks: Vec<u32> = intids.iter().filter(|i| **i >= 32).map(|i| 32 + (i - 32) / 128 * 128).collect();
    blocks.dedup();
    for base in blocks {
        let irqs: Vec<u32> = intids.iter().copied().filter(|i| (base..base + 128).contains(i)).collect();
        out.push('\n');
        comment(out, why);
        out.push_str("[[cell.irqchip]]\n");
        let _ = writeln!(out, "address = {}", hex(gicd));
        let _ = writeln!(out, "pin_base = {base}");
        let _ = writeln!(out, "irqs = \"{}\"", syshyper_config::source::units::format_list(irqs));
    }
}

//! Human-friendly scalar values of the TOML format: hex addresses, sizes
//! with units, flag names, CPU and IRQ lists.

use super::SourceError;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Parses `123`, `0x7b`, `0b1111011`, `64 KiB`, `768 MiB`, `1 GiB`, `4096 B`
/// (underscores allowed).
pub fn parse_number(text: &str) -> Result<u64, SourceError> {
    let t = text.trim().replace('_', "");
    let bad = || SourceError::new(format!("\"{text}\" is not a number or size"));
    let (digits, unit) = match t.find(|c: char| c.is_ascii_whitespace()) {
        Some(pos) => (t[..pos].trim(), t[pos..].trim()),
        None => (t.as_str(), ""),
    };
    let value = if let Some(hex) = digits
        .strip_prefix("0x")
        .or_else(|| digits.strip_prefix("0X"))
    {
        u64::from_str_radix(hex, 16).map_err(|_| bad())?
    } else if let Some(bin) = digits.strip_prefix("0b") {
        u64::from_str_radix(bin, 2).map_err(|_| bad())?
    } else {
        digits.parse::<u64>().map_err(|_| bad())?
    };
    let shift = match unit {
        "" | "B" => 0,
        "KiB" | "K" => 10,
        "MiB" | "M" => 20,
        "GiB" | "G" => 30,
        "TiB" | "T" => 40,
        _ => {
            return Err(SourceError::new(format!(
                "\"{text}\": unknown unit \"{unit}\" (B, KiB, MiB, GiB, TiB)"
            )))
        }
    };
    value
        .checked_mul(1u64 << shift)
        .ok_or_else(|| SourceError::new(format!("\"{text}\" does not fit in 64 bits")))
}

/// Accepts a TOML integer or a string for [`parse_number`].
struct NumberVisitor;

impl Visitor<'_> for NumberVisitor {
    type Value = u64;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a non-negative integer or a string like \"0x1000\" or \"64 KiB\"")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("{v} is negative")))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse_number(v).map_err(E::custom)
    }
}

fn deserialize_number<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    d.deserialize_any(NumberVisitor)
}

/// An address or other value best read in hex; written as `"0x..."` with at
/// least 8 digits so that addresses line up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Hex(pub u64);

impl Serialize for Hex {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{:#010x}", self.0))
    }
}
impl<'de> Deserialize<'de> for Hex {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_number(d).map(Hex)
    }
}

/// A size; written with the largest binary unit that divides it exactly
/// (KiB only below 1 MiB), else in hex.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size(pub u64);

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_size(self.0))
    }
}
impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_number(d).map(Size)
    }
}

/// Plain integer that may also be given as a string (`"0x20"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Num(pub u64);

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // TOML integers are signed 64-bit; larger values go as hex strings.
        match i64::try_from(self.0) {
            Ok(v) => s.serialize_i64(v),
            Err(_) => s.serialize_str(&format!("{:#x}", self.0)),
        }
    }
}
impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        deserialize_number(d).map(Num)
    }
}

pub fn format_size(v: u64) -> String {
    const UNITS: [(u32, &str); 4] = [(40, "TiB"), (30, "GiB"), (20, "MiB"), (10, "KiB")];
    if v == 0 {
        return "0".into();
    }
    for (shift, unit) in UNITS {
        let step = 1u64 << shift;
        if v.is_multiple_of(step) && (shift > 10 || v < 1 << 20) {
            return format!("{} {unit}", v >> shift);
        }
    }
    format!("{v:#x}")
}

/// Narrows a parsed value to a field's width.
pub fn narrow<T: TryFrom<u64>>(v: u64, what: &str) -> Result<T, SourceError> {
    T::try_from(v).map_err(|_| {
        SourceError::new(format!(
            "{what}: {v:#x} does not fit in {} bits",
            std::mem::size_of::<T>() * 8
        ))
    })
}

/// Names of the set bits, in table order; `None` if a bit has no name.
pub fn flag_names(bits: u64, table: &[(&str, u64)]) -> Option<Vec<String>> {
    let mut rest = bits;
    let mut names = Vec::new();
    for &(name, bit) in table {
        if bits & bit != 0 {
            names.push(name.to_string());
            rest &= !bit;
        }
    }
    (rest == 0).then_some(names)
}

/// Bits for a list of flag names; a number string (`"0x100"`) is also accepted.
pub fn flag_bits(names: &[String], table: &[(&str, u64)], what: &str) -> Result<u64, SourceError> {
    let mut bits = 0;
    for name in names {
        let n = name.trim().to_ascii_lowercase();
        bits |= match table.iter().find(|(known, _)| *known == n) {
            Some(&(_, bit)) => bit,
            None => parse_number(&n).map_err(|_| {
                let known: Vec<&str> = table.iter().map(|(k, _)| *k).collect();
                SourceError::new(format!(
                    "{what}: unknown flag \"{name}\" (known: {})",
                    known.join(", ")
                ))
            })?,
        };
    }
    Ok(bits)
}

/// A value named by a table or given as a number.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NameOrNum {
    Num(u64),
    Name(String),
}

impl Default for NameOrNum {
    fn default() -> Self {
        NameOrNum::Num(0)
    }
}

impl NameOrNum {
    pub fn from_value(v: u64, table: &[(&str, u64)]) -> Self {
        match table.iter().find(|(_, t)| *t == v) {
            Some((name, _)) => NameOrNum::Name(name.to_string()),
            None => NameOrNum::Num(v),
        }
    }
    pub fn value(&self, table: &[(&str, u64)], what: &str) -> Result<u64, SourceError> {
        match self {
            NameOrNum::Num(v) => Ok(*v),
            NameOrNum::Name(n) => match table.iter().find(|(k, _)| k.eq_ignore_ascii_case(n)) {
                Some(&(_, v)) => Ok(v),
                None => parse_number(n)
                    .map_err(|_| SourceError::new(format!("{what}: unknown name \"{n}\""))),
            },
        }
    }
}

/// Parses `"0-3,8,10-11"` (empty string = none) into ascending numbers.
pub fn parse_list(text: &str, what: &str) -> Result<Vec<u32>, SourceError> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let bad = || {
            SourceError::new(format!(
                "{what}: \"{part}\" is not a number or range like 1-3"
            ))
        };
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<u32>().map_err(|_| bad())?,
                b.trim().parse::<u32>().map_err(|_| bad())?,
            ),
            None => {
                let v = part.parse::<u32>().map_err(|_| bad())?;
                (v, v)
            }
        };
        if lo > hi {
            return Err(bad());
        }
        out.extend(lo..=hi);
        if out.len() > 1 << 20 {
            return Err(SourceError::new(format!("{what}: list is too long")));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// Formats ascending numbers with ranges: `[0,1,2,3,8]` -> `"0-3,8"`.
pub fn format_list(values: impl IntoIterator<Item = u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut run: Option<(u32, u32)> = None;
    let flush = |run: (u32, u32), parts: &mut Vec<String>| {
        parts.push(if run.0 == run.1 {
            run.0.to_string()
        } else {
            format!("{}-{}", run.0, run.1)
        })
    };
    for v in values {
        run = match run {
            Some((lo, hi)) if hi.checked_add(1) == Some(v) => Some((lo, v)),
            Some(r) => {
                flush(r, &mut parts);
                Some((v, v))
            }
            None => Some((v, v)),
        };
    }
    if let Some(r) = run {
        flush(r, &mut parts);
    }
    parts.join(",")
}

/// Bytes as a hex string (raw fields that have no better form).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn from_hex(text: &str, what: &str) -> Result<Vec<u8>, SourceError> {
    let t: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let t = t.strip_prefix("0x").unwrap_or(&t);
    let bad = || SourceError::new(format!("{what}: \"{text}\" is not a hex byte string"));
    if !t.len().is_multiple_of(2) || !t.is_ascii() {
        return Err(bad());
    }
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

/// PCI address `bus:device.function`, e.g. `"00:01.0"`.
pub fn format_bdf(bdf: u16) -> String {
    format!("{:02x}:{:02x}.{:x}", bdf >> 8, (bdf >> 3) & 0x1f, bdf & 7)
}

pub fn parse_bdf(text: &str) -> Result<u16, SourceError> {
    let bad = || {
        SourceError::new(format!(
            "bdf: \"{text}\" is not bus:device.function (like 00:01.0) or a number"
        ))
    };
    let Some((bus, rest)) = text.split_once(':') else {
        return narrow(parse_number(text).map_err(|_| bad())?, "bdf");
    };
    let (dev, func) = rest.split_once('.').ok_or_else(bad)?;
    let bus = u16::from_str_radix(bus, 16).map_err(|_| bad())?;
    let dev = u16::from_str_radix(dev, 16).map_err(|_| bad())?;
    let func = u16::from_str_radix(func, 16).map_err(|_| bad())?;
    if bus > 0xff || dev > 0x1f || func > 7 {
        return Err(bad());
    }
    Ok(bus << 8 | dev << 3 | func)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_units() {
        assert_eq!(parse_number("64 KiB").unwrap(), 0x10000);
        assert_eq!(parse_number("768 MiB").unwrap(), 768 << 20);
        assert_eq!(parse_number("0x7fc0_0000").unwrap(), 0x7fc0_0000);
        assert_eq!(parse_number("4096").unwrap(), 4096);
        assert!(parse_number("12 parsecs").is_err());
        assert!(parse_number("16777216 TiB").is_err());
        assert_eq!(format_size(0x10000), "64 KiB");
        assert_eq!(format_size(4 << 20), "4 MiB");
        assert_eq!(format_size(0x3fa1_0000), "0x3fa10000");
        assert_eq!(format_size(0x1000), "4 KiB");
        assert_eq!(format_size(0x20), "0x20");
    }

    #[test]
    fn lists() {
        assert_eq!(parse_list("1-3", "cpus").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_list("0,2", "cpus").unwrap(), vec![0, 2]);
        assert_eq!(parse_list(" ", "cpus").unwrap(), Vec::<u32>::new());
        assert!(parse_list("3-1", "cpus").is_err());
        assert_eq!(format_list([0, 1, 2, 3, 8, 10, 11]), "0-3,8,10-11");
        assert_eq!(format_list([144]), "144");
    }

    #[test]
    fn bdf() {
        assert_eq!(parse_bdf("00:01.0").unwrap(), 8);
        assert_eq!(format_bdf(8), "00:01.0");
        assert_eq!(parse_bdf("0x10").unwrap(), 0x10);
        assert!(parse_bdf("00:20.0").is_err());
    }
}

//! Parses the `BENCH <name> key=value ...` lines bench-inmate prints.

use std::collections::BTreeMap;

/// One measurement as printed by the guest.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// A series: count, minimum, maximum and sum of instruction counts.
    Series {
        n: u64,
        min: u64,
        max: u64,
        sum: u64,
    },
    /// A single value.
    Value(i64),
}

impl Sample {
    pub fn mean(&self) -> Option<f64> {
        match *self {
            Sample::Series { n, sum, .. } if n > 0 => Some(sum as f64 / n as f64),
            Sample::Series { .. } => None,
            Sample::Value(v) => Some(v as f64),
        }
    }

    pub fn min(&self) -> Option<f64> {
        match *self {
            Sample::Series { n, min, .. } if n > 0 => Some(min as f64),
            Sample::Series { .. } => None,
            Sample::Value(v) => Some(v as f64),
        }
    }

    /// Two series of the same measurement as one; None for a value or a
    /// mix (they have no count to add up).
    pub fn merge(&self, other: &Sample) -> Option<Sample> {
        match (*self, *other) {
            (
                Sample::Series { n, min, max, sum },
                Sample::Series {
                    n: n2,
                    min: min2,
                    max: max2,
                    sum: sum2,
                },
            ) => Some(match (n, n2) {
                (0, _) => *other,
                (_, 0) => *self,
                _ => Sample::Series {
                    n: n + n2,
                    min: min.min(min2),
                    max: max.max(max2),
                    sum: sum.saturating_add(sum2),
                },
            }),
            _ => None,
        }
    }

    pub fn max(&self) -> Option<f64> {
        match *self {
            Sample::Series { n, max, .. } if n > 0 => Some(max as f64),
            Sample::Series { .. } => None,
            Sample::Value(v) => Some(v as f64),
        }
    }
}

/// Everything one run printed: samples by name, and the error lines.
#[derive(Debug, Default, Clone)]
pub struct RunOutput {
    pub samples: BTreeMap<String, Sample>,
    pub errors: Vec<String>,
}

impl RunOutput {
    pub fn get(&self, name: &str) -> Option<&Sample> {
        self.samples.get(name)
    }
}

/// Reads every `BENCH` line of a console log; malformed lines are skipped
/// (the console also carries hypervisor output, possibly interleaved).
pub fn parse(console: &str) -> RunOutput {
    let mut out = RunOutput::default();
    for line in console.lines() {
        let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\0');
        if let Some(rest) = line.strip_prefix("BENCH-ERROR ") {
            out.errors.push(rest.to_string());
        } else if let Some(rest) = line.strip_prefix("BENCH ") {
            if let Some((name, sample)) = parse_line(rest) {
                out.samples.insert(name, sample);
            }
        }
    }
    out
}

fn parse_line(rest: &str) -> Option<(String, Sample)> {
    let mut words = rest.split_whitespace();
    let name = words.next()?.to_string();
    let mut kv = BTreeMap::new();
    for w in words {
        let (k, v) = w.split_once('=')?;
        kv.insert(k, v);
    }
    if let Some(v) = kv.get("value") {
        return Some((name, Sample::Value(v.parse().ok()?)));
    }
    let num = |k: &str| kv.get(k).and_then(|v| v.parse::<u64>().ok());
    let sample = Sample::Series {
        n: num("n")?,
        min: num("min")?,
        max: num("max")?,
        sum: num("sum")?,
    };
    Some((name, sample))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_series_values_and_errors() {
        let out = parse(
            "noise\r\nBENCH irq n=4 min=1 max=7 sum=12\r\nBENCH first value=-5\n\
             BENCH-ERROR create x: -22\nBENCH broken n=1 min=x max=1 sum=1\nBENCH half n=1\n",
        );
        assert_eq!(
            out.get("irq"),
            Some(&Sample::Series {
                n: 4,
                min: 1,
                max: 7,
                sum: 12
            })
        );
        assert_eq!(out.get("irq").and_then(Sample::mean), Some(3.0));
        assert_eq!(out.get("first"), Some(&Sample::Value(-5)));
        assert_eq!(out.errors, vec!["create x: -22"]);
        assert!(out.get("broken").is_none());
        assert!(out.get("half").is_none());
    }

    #[test]
    fn empty_series_has_no_mean() {
        let s = Sample::Series {
            n: 0,
            min: 0,
            max: 0,
            sum: 0,
        };
        assert_eq!(s.mean(), None);
        assert_eq!(s.min(), None);
    }

    #[test]
    fn series_merge_and_values_do_not() {
        let a = Sample::Series {
            n: 2,
            min: 5,
            max: 9,
            sum: 14,
        };
        let b = Sample::Series {
            n: 1,
            min: 3,
            max: 3,
            sum: 3,
        };
        let empty = Sample::Series {
            n: 0,
            min: 0,
            max: 0,
            sum: 0,
        };
        assert_eq!(
            a.merge(&b),
            Some(Sample::Series {
                n: 3,
                min: 3,
                max: 9,
                sum: 17
            })
        );
        assert_eq!(empty.merge(&b), Some(b));
        assert_eq!(a.merge(&empty), Some(a));
        assert_eq!(a.merge(&Sample::Value(1)), None);
    }

    #[test]
    fn later_lines_win() {
        let out = parse("BENCH a value=1\nBENCH a value=2\n");
        assert_eq!(out.get("a"), Some(&Sample::Value(2)));
    }
}

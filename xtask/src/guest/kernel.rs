//! Which Debian kernel the guest runs: `--kernel PACKAGE|SERIES|ABI` of
//! `cargo xtask run` and `test`, and the order of kernel ABIs.
//!
//! Debian names a kernel build by its ABI: `6.1.0-57` (bookworm's 6.1),
//! `6.12.118+deb12` (bookworm-security's 6.12), `6.12.57+deb13` (trixie).
//! Its image package is `linux-image-<ABI>-arm64`; meta packages such as
//! `linux-image-arm64` (the distribution's default) or
//! `linux-image-6.12-arm64` depend on the newest ABI of their series.

use std::cmp::Ordering;
use std::sync::OnceLock;

/// The distribution's default kernel: its meta package.
pub const DEFAULT_META: &str = "linux-image-arm64";

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// A package: a meta package (resolved through its dependency) or a
    /// kernel image package (`linux-image-<ABI>-arm64`).
    Package(String),
    /// An exact ABI, e.g. `6.12.118+deb12`.
    Abi(String),
}

impl Choice {
    /// `--kernel` text: `linux-image-...` (with or without `:arm64`) is a
    /// package; `MAJOR.MINOR` names the series' meta package
    /// (`linux-image-6.12-arm64`); anything else is an ABI (a trailing
    /// `-arm64` is dropped).
    pub fn parse(s: &str) -> Result<Choice, String> {
        let s = s.trim();
        let s = s.strip_suffix(":arm64").unwrap_or(s);
        if s.is_empty() || s.contains(char::is_whitespace) || s.contains('/') {
            return Err(format!("{s:?} is not a kernel package name or ABI (e.g. 6.12, 6.12.118+deb12, linux-image-6.12-arm64)"));
        }
        if s.starts_with("linux-image-") {
            return Ok(Choice::Package(s.to_string()));
        }
        if is_series(s) {
            return Ok(Choice::Package(format!("linux-image-{s}-arm64")));
        }
        if !s.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(format!("{s:?}: expected a kernel package (linux-image-...), a series (6.12) or an ABI (6.1.0-57)"));
        }
        Ok(Choice::Abi(s.strip_suffix("-arm64").unwrap_or(s).to_string()))
    }

    /// The ABI prefix cached kernels must have to answer this choice when
    /// apt cannot be asked (offline): the ABI itself, `6.12.` for the
    /// series' meta package; None for the default or another meta package.
    pub fn offline_prefix(&self) -> Option<String> {
        match self {
            Choice::Abi(abi) => Some(abi.clone()),
            Choice::Package(p) => {
                let mid = p.strip_prefix("linux-image-")?.strip_suffix("-arm64")?;
                if is_series(mid) {
                    Some(format!("{mid}."))
                } else if mid.starts_with(|c: char| c.is_ascii_digit()) {
                    Some(mid.to_string())
                } else {
                    None
                }
            }
        }
    }
}

fn is_series(s: &str) -> bool {
    let mut parts = s.split('.');
    let num = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    num(parts.next()) && num(parts.next()) && parts.next().is_none()
}

static CHOICE: OnceLock<Choice> = OnceLock::new();

/// Sets the kernel for every guest this run of xtask builds (`--kernel`);
/// without it the guest runs the distribution's default.
pub fn select(choice: Choice) {
    // Set once from the command line, before any guest is prepared.
    let _ = CHOICE.set(choice);
}

/// The kernel chosen with `select`, or the default meta package.
pub fn selected() -> Choice {
    CHOICE.get().cloned().unwrap_or_else(|| Choice::Package(DEFAULT_META.to_string()))
}

/// Compares two ABIs (or Debian versions without epochs) as versions:
/// runs of digits by value, everything else by character, so that
/// `6.1.0-9` < `6.1.0-57` < `6.12.118+deb12`. Not dpkg's full order (no
/// `~` rule), which ABIs do not need.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let (na, ra) = split_digits(a);
                let (nb, rb) = split_digits(b);
                // Compare digit runs by value: without leading zeros, a
                // longer run is larger, and equal lengths compare as text.
                let (na, nb) = (trim_zeros(na), trim_zeros(nb));
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (ra, rb);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                (a, b) = (&a[1..], &b[1..]);
            }
        }
    }
}

fn split_digits(s: &[u8]) -> (&[u8], &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    s.split_at(n)
}

fn trim_zeros(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&c| c == b'0').count();
    &s[n..]
}

/// The highest of `abis` (as versions) that starts with `prefix`.
pub fn highest<'a>(abis: impl IntoIterator<Item = &'a str>, prefix: Option<&str>) -> Option<&'a str> {
    abis.into_iter()
        .filter(|a| prefix.is_none_or(|p| a.starts_with(p)))
        .max_by(|a, b| compare_versions(a, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abis_compare_as_versions_not_as_text() {
        assert_eq!(compare_versions("6.1.0-9", "6.1.0-57"), Ordering::Less);
        assert_eq!(compare_versions("6.1.0-57", "6.1.0-57"), Ordering::Equal);
        assert_eq!(compare_versions("6.1.0-57", "6.12.118+deb12"), Ordering::Less);
        assert_eq!(compare_versions("6.12.118+deb12", "6.12.57+deb13"), Ordering::Greater);
        assert_eq!(compare_versions("6.1.0-057", "6.1.0-57"), Ordering::Equal);
        assert_eq!(compare_versions("6.1.0", "6.1.0-1"), Ordering::Less);
        assert_eq!(compare_versions("6.10", "6.9"), Ordering::Greater);
        assert_eq!(highest(["6.1.0-9", "6.1.0-57", "6.1.0-10"], None), Some("6.1.0-57"));
        assert_eq!(highest(["6.1.0-57", "6.12.9+deb12", "6.12.118+deb12"], Some("6.12.")), Some("6.12.118+deb12"));
        assert_eq!(highest(["6.1.0-57"], Some("6.12.")), None);
    }

    #[test]
    fn kernel_choice_is_a_package_a_series_or_an_abi() {
        assert_eq!(Choice::parse("6.12"), Ok(Choice::Package("linux-image-6.12-arm64".into())));
        assert_eq!(Choice::parse("linux-image-6.12-arm64:arm64"), Ok(Choice::Package("linux-image-6.12-arm64".into())));
        assert_eq!(Choice::parse("6.12.118+deb12"), Ok(Choice::Abi("6.12.118+deb12".into())));
        assert_eq!(Choice::parse("6.1.0-57-arm64"), Ok(Choice::Abi("6.1.0-57".into())));
        assert!(Choice::parse("").is_err());
        assert!(Choice::parse("../x").is_err());
        assert!(Choice::parse("bookworm").is_err());
    }

    #[test]
    fn offline_prefix_follows_the_choice() {
        assert_eq!(Choice::parse("6.12").unwrap().offline_prefix().as_deref(), Some("6.12."));
        assert_eq!(Choice::parse("6.1.0-57").unwrap().offline_prefix().as_deref(), Some("6.1.0-57"));
        assert_eq!(Choice::parse("linux-image-6.12.118+deb12-arm64").unwrap().offline_prefix().as_deref(), Some("6.12.118+deb12"));
        assert_eq!(Choice::Package(DEFAULT_META.into()).offline_prefix(), None);
    }
}

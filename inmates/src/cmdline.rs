//! The image's command line, as Jailhouse's inmate library reads it.
//!
//! Jailhouse loads a string next to an inmate (`jailhouse cell load NAME
//! image.bin -s "con-base=0x9000000" -a 0x1000`): the inmate links a zeroed
//! buffer at image offset 0x1000 and the loader overwrites it. Parameters are
//! separated by blanks; `name=value` or a bare `name` (boolean true).
//! Numbers are decimal (optionally signed) or `0x` hexadecimal; a value that
//! does not parse gives the default, as in Jailhouse.

/// Bytes of the buffer at image offset [`CMDLINE_OFFSET`].
pub const CMDLINE_SIZE: usize = 256;
/// Where the buffer lies in the image (Jailhouse's arm64 inmate layout).
pub const CMDLINE_OFFSET: usize = 0x1000;

/// A command line: the bytes up to the first NUL.
#[derive(Debug, Clone, Copy)]
pub struct Cmdline<'a> {
    text: &'a [u8],
}

impl<'a> Cmdline<'a> {
    /// No parameters.
    pub const fn empty() -> Self {
        Self { text: &[] }
    }

    pub fn new(bytes: &'a [u8]) -> Self {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        Self { text: &bytes[..end] }
    }

    /// The value of `name`: `Some(b"")` for a bare `name`, `None` if absent.
    /// The first occurrence wins.
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        for word in self.text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
            let Some(rest) = word.strip_prefix(name.as_bytes()) else {
                continue;
            };
            match rest.split_first() {
                None => return Some(&rest[..0]),
                Some((b'=', value)) => return Some(value),
                // Only a prefix of a longer name.
                Some(_) => continue,
            }
        }
        None
    }

    pub fn str(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|v| core::str::from_utf8(v).ok())
    }

    pub fn int(&self, name: &str, default: i64) -> i64 {
        self.get(name).and_then(parse_int).unwrap_or(default)
    }

    pub fn bool(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            None => default,
            Some(v) if v.is_empty() || v.starts_with(b"1") => true,
            Some(v) if v.len() >= 4 && v[..4].eq_ignore_ascii_case(b"true") => true,
            Some(v) if v.starts_with(b"0") => false,
            Some(v) if v.len() >= 5 && v[..5].eq_ignore_ascii_case(b"false") => false,
            Some(_) => default,
        }
    }
}

fn parse_int(v: &[u8]) -> Option<i64> {
    if let Some(hex) = v.strip_prefix(b"0x") {
        if hex.is_empty() {
            return None;
        }
        return hex.iter().try_fold(0i64, |acc, &c| {
            let d = (c as char).to_digit(16)?;
            Some(acc.wrapping_shl(4) | i64::from(d))
        });
    }
    let (negative, digits) = match v.split_first() {
        Some((b'-', d)) => (true, d),
        Some((b'+', d)) => (false, d),
        _ => (false, v),
    };
    if digits.is_empty() {
        return None;
    }
    let n = digits.iter().try_fold(0i64, |acc, &c| {
        let d = (c as char).to_digit(10)?;
        Some(acc.wrapping_mul(10).wrapping_add(i64::from(d)))
    })?;
    Some(if negative { n.wrapping_neg() } else { n })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_values_bare_names_and_stops_at_nul() {
        let c = Cmdline::new(b"  con-type=8250 con-virtual  con-base=0x9000000\0con-x=1");
        assert_eq!(c.str("con-type"), Some("8250"));
        assert_eq!(c.get("con-virtual"), Some(&b""[..]));
        assert_eq!(c.int("con-base", 0), 0x900_0000);
        assert_eq!(c.get("con-x"), None, "text after the NUL is not read");
        assert_eq!(c.get("con"), None, "a prefix of a name is not the name");
    }

    #[test]
    fn numbers_fall_back_to_the_default_when_malformed() {
        let c = Cmdline::new(b"a=12 b=-7 c=0xfF d=0x e=12z f=+3");
        assert_eq!(c.int("a", 0), 12);
        assert_eq!(c.int("b", 0), -7);
        assert_eq!(c.int("c", 0), 255);
        assert_eq!(c.int("d", 5), 5);
        assert_eq!(c.int("e", 5), 5);
        assert_eq!(c.int("f", 0), 3);
        assert_eq!(c.int("missing", 9), 9);
    }

    #[test]
    fn booleans_as_jailhouse_reads_them() {
        let c = Cmdline::new(b"a b=1 c=TRUE d=0 e=false f=maybe");
        assert!(c.bool("a", false));
        assert!(c.bool("b", false));
        assert!(c.bool("c", false));
        assert!(!c.bool("d", true));
        assert!(!c.bool("e", true));
        assert!(c.bool("f", true));
        assert!(!c.bool("f", false));
        assert!(c.bool("missing", true));
    }

    #[test]
    fn an_empty_buffer_has_no_parameters() {
        let c = Cmdline::new(&[0; CMDLINE_SIZE]);
        assert_eq!(c.get("con-type"), None);
    }
}

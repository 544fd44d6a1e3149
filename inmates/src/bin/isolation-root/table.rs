//! The closing table: one row per attack or bad call,
//! `| attack | expected | observed |`, printed after all checks ran.
use core::cell::UnsafeCell;
use core::fmt::{self, Write};
use core::sync::atomic::{AtomicUsize, Ordering};
use syshyper_inmates::println;

const MAX_ROWS: usize = 128;
const TEXT: usize = 96;

/// All-zero when empty (`None` texts), so the table lives in .bss and the
/// root's image checksum (text, rodata, data) does not see it change.
#[derive(Clone, Copy)]
struct Row {
    attack: Option<&'static str>,
    expected: Option<&'static str>,
    observed: [u8; TEXT],
    len: usize,
}

struct Rows(UnsafeCell<[Row; MAX_ROWS]>);

// SAFETY: only CPU 0 (the program's main flow) records and prints rows;
// secondary CPUs never touch the table.
unsafe impl Sync for Rows {}

static ROWS: Rows = Rows(UnsafeCell::new(
    [Row {
        attack: None,
        expected: None,
        observed: [0; TEXT],
        len: 0,
    }; MAX_ROWS],
));
static COUNT: AtomicUsize = AtomicUsize::new(0);

/// Fixed-size text, cut when too long.
pub struct Text {
    buf: [u8; TEXT],
    len: usize,
}

impl Text {
    pub fn new() -> Self {
        Self {
            buf: [0; TEXT],
            len: 0,
        }
    }
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl Write for Text {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            if self.len < TEXT && b.is_ascii() {
                self.buf[self.len] = b;
                self.len += 1;
            }
        }
        Ok(())
    }
}

/// Formats into a [`Text`].
pub fn text(args: fmt::Arguments) -> Text {
    let mut t = Text::new();
    let _ = t.write_fmt(args);
    t
}

/// Adds a row (rows beyond the table's capacity are dropped).
pub fn row(attack: &'static str, expected: &'static str, observed: &Text) {
    let n = COUNT.load(Ordering::Relaxed);
    if n >= MAX_ROWS {
        return;
    }
    // SAFETY: see `impl Sync`: single writer, and row `n` is not yet shown.
    unsafe {
        (*ROWS.0.get())[n] = Row {
            attack: Some(attack),
            expected: Some(expected),
            observed: observed.buf,
            len: observed.len,
        };
    }
    COUNT.store(n + 1, Ordering::Relaxed);
}

pub fn print() {
    let n = COUNT.load(Ordering::Relaxed).min(MAX_ROWS);
    println!("| attack | expected | observed |");
    println!("|---|---|---|");
    for i in 0..n {
        // SAFETY: see `impl Sync`; rows below COUNT are complete.
        let r = unsafe { (*ROWS.0.get())[i] };
        let obs = core::str::from_utf8(&r.observed[..r.len]).unwrap_or("?");
        let (a, e) = (r.attack.unwrap_or(""), r.expected.unwrap_or(""));
        println!("| {a} | {e} | {obs} |");
    }
}

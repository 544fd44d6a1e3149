//! The demo protocol of docs/ivshmem.md, the part that is pure logic and
//! the same on both ends of a link: the 16-byte record header at the start
//! of an output section, the payload hash (FNV-1a, 32 bits), the payload a
//! pinger sends for a sequence number, how a pinger judges the answer,
//! what a ponger has answered, and the hello text of the basic demo. The
//! inmates (no_std) and the root tool (`syshyper ivshmem-demo`) both use
//! it, so the two ends cannot drift apart; each moves the words through
//! its own access to the shared memory.

#![no_std]

/// "PING" and "PONG" read as little-endian u32.
pub const MAGIC_PING: u32 = u32::from_le_bytes(*b"PING");
pub const MAGIC_PONG: u32 = u32::from_le_bytes(*b"PONG");
/// Bytes of the record header (magic, seq, len, sum).
pub const HEADER_LEN: u32 = 16;
/// Header word indexes.
pub const WORD_MAGIC: usize = 0;
pub const WORD_SEQ: usize = 1;
pub const WORD_LEN: usize = 2;
pub const WORD_SUM: usize = 3;
/// Peers a link has at most (docs/ivshmem.md: 2..=16).
pub const MAX_PEERS: usize = 16;
/// Longest hello text shown or sent (bytes, without the NUL).
pub const MAX_TEXT: usize = 80;

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// FNV-1a, 32 bits, fed one byte at a time (the inmates read shared memory
/// byte by byte with volatile accesses, so there is no slice to hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fnv1a(u32);

impl Default for Fnv1a {
    fn default() -> Self {
        Self::new()
    }
}

impl Fnv1a {
    pub const fn new() -> Self {
        Self(FNV_OFFSET)
    }

    pub fn byte(&mut self, b: u8) {
        self.0 = (self.0 ^ u32::from(b)).wrapping_mul(FNV_PRIME);
    }

    pub const fn value(&self) -> u32 {
        self.0
    }
}

/// FNV-1a of bytes.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    let mut h = Fnv1a::new();
    bytes.into_iter().for_each(|b| h.byte(b));
    h.value()
}

/// A record header as four words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub magic: u32,
    pub seq: u32,
    pub len: u32,
    pub sum: u32,
}

impl Header {
    pub const fn from_words(w: [u32; 4]) -> Self {
        Self {
            magic: w[WORD_MAGIC],
            seq: w[WORD_SEQ],
            len: w[WORD_LEN],
            sum: w[WORD_SUM],
        }
    }

    pub const fn words(&self) -> [u32; 4] {
        [self.magic, self.seq, self.len, self.sum]
    }
}

/// Why a PING header is not answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadPing {
    /// `len` larger than the output section minus the header.
    Length { len: u32, max: u64 },
    /// Sequence number 0 (the pinger counts from 1).
    ZeroSeq,
}

impl core::fmt::Display for BadPing {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BadPing::Length { len, max } => write!(f, "len {len} > {max}"),
            BadPing::ZeroSeq => f.write_str("seq 0"),
        }
    }
}

/// Payload bytes a PING may carry in an output section of `out_size`.
pub const fn max_payload(out_size: u64) -> u64 {
    out_size.saturating_sub(HEADER_LEN as u64)
}

/// Checks a PING header against the section it lies in.
pub fn check_ping(h: &Header, out_size: u64) -> Result<(), BadPing> {
    if h.seq == 0 {
        return Err(BadPing::ZeroSeq);
    }
    let max = max_payload(out_size);
    if u64::from(h.len) > max {
        return Err(BadPing::Length { len: h.len, max });
    }
    Ok(())
}

/// Byte `i` of the payload of ping `seq`: every byte depends on both, so
/// a ponger hashing a stale or half-written payload gives a wrong sum.
pub const fn payload_byte(seq: u32, i: u32) -> u8 {
    let x = seq
        .wrapping_mul(0x9e37_79b1)
        .wrapping_add(i.wrapping_mul(0x85eb_ca77));
    (x ^ (x >> 15) ^ (x >> 24)) as u8
}

/// Payload length of ping `seq` for the tests: 0..=`cap` bytes, varying
/// with seq (so both the empty and the longest payload occur), never above
/// what the section holds.
pub fn payload_len(seq: u32, cap: u32, out_size: u64) -> u32 {
    let max = max_payload(out_size).min(u64::from(cap)) as u32;
    match max {
        0 => 0,
        m => seq.wrapping_mul(37) % (m + 1),
    }
}

/// FNV-1a of ping `seq`'s payload of `len` bytes.
pub fn payload_hash(seq: u32, len: u32) -> u32 {
    let mut h = Fnv1a::new();
    (0..len).for_each(|i| h.byte(payload_byte(seq, i)));
    h.value()
}

/// The PONG answering `ping` whose payload hashed to `sum`.
pub const fn pong_for(ping: &Header, sum: u32) -> Header {
    Header {
        magic: MAGIC_PONG,
        seq: ping.seq,
        len: 0,
        sum,
    }
}

/// The PING record for a payload of `len` bytes hashing to `sum`.
pub const fn ping(seq: u32, len: u32, sum: u32) -> Header {
    Header {
        magic: MAGIC_PING,
        seq,
        len,
        sum,
    }
}

/// What a peer's record says about our PING `seq` with payload hash `sum`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// No PONG for `seq` (yet).
    Pending,
    /// The PONG, with the hash we sent.
    Good,
    /// The PONG, with another hash: the data arrived damaged.
    BadSum(u32),
}

/// How a pinger reads the record `h` in the ponger's output section.
pub fn answer(h: &Header, seq: u32, sum: u32) -> Answer {
    match (h.magic, h.seq) {
        (MAGIC_PONG, s) if s == seq && h.sum == sum => Answer::Good,
        (MAGIC_PONG, s) if s == seq => Answer::BadSum(h.sum),
        _ => Answer::Pending,
    }
}

/// Whether `bytes` start with a PING or PONG record rather than text.
pub fn is_record(bytes: &[u8]) -> bool {
    matches!(bytes.get(..4), Some(b"PING" | b"PONG"))
}

/// What the ponger has answered, per peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    last_seq: [u32; MAX_PEERS],
    pub total: u32,
}

impl Default for Answered {
    fn default() -> Self {
        Self::new()
    }
}

impl Answered {
    pub const fn new() -> Self {
        Self {
            last_seq: [0; MAX_PEERS],
            total: 0,
        }
    }

    /// True when `peer`'s PING `seq` has not been answered yet.
    pub fn is_new(&self, peer: usize, seq: u32) -> bool {
        self.last_seq.get(peer).is_some_and(|&s| s != seq)
    }

    /// Records an answer (or a refusal, so a bad header is reported once).
    pub fn record(&mut self, peer: usize, seq: u32, answered: bool) {
        if let Some(s) = self.last_seq.get_mut(peer) {
            *s = seq;
            if answered {
                self.total = self.total.wrapping_add(1);
            }
        }
    }

    /// Forgets `peer` (it went away: a new pinger there starts at seq 1).
    pub fn forget(&mut self, peer: usize) {
        if let Some(s) = self.last_seq.get_mut(peer) {
            *s = 0;
        }
    }
}

/// The hello text at the start of an output section: printable ASCII up
/// to the first NUL (at most [`MAX_TEXT`] bytes); `None` for a record, an
/// empty section or bytes that are not text.
pub fn hello_text(bytes: &[u8]) -> Option<&str> {
    let end = bytes
        .iter()
        .take(MAX_TEXT)
        .position(|&b| b == 0)
        .unwrap_or(bytes.len().min(MAX_TEXT));
    let text = bytes.get(..end)?;
    if text.is_empty() || !text.iter().all(|&b| (0x20..0x7f).contains(&b)) {
        return None;
    }
    core::str::from_utf8(text).ok()
}

/// Writes "Hello from peer N, message M" into `out`; returns its length
/// (the text is cut if `out` is short).
pub fn format_hello(out: &mut [u8], peer: u32, message: u32) -> usize {
    struct Buf<'a> {
        out: &'a mut [u8],
        len: usize,
    }
    impl core::fmt::Write for Buf<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            for &b in s.as_bytes() {
                if let Some(slot) = self.out.get_mut(self.len) {
                    *slot = b;
                    self.len += 1;
                }
            }
            Ok(())
        }
    }
    let mut buf = Buf { out, len: 0 };
    let _ = core::fmt::write(
        &mut buf,
        format_args!("Hello from peer {peer}, message {message}"),
    );
    buf.len
}

/// Whether a cell answers a new hello text from `from` with its own:
/// only texts from lower IDs, so two demo cells never answer each other
/// in an endless loop while the root (ID 0) always gets an answer.
pub const fn answers_hello(me: u32, from: u32) -> bool {
    from < me
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    #[test]
    fn magics_spell_ping_and_pong() {
        assert_eq!(MAGIC_PING, 0x474e_4950);
        assert_eq!(MAGIC_PONG, 0x474e_4f50);
    }

    #[test]
    fn fnv1a_known_values() {
        assert_eq!(fnv1a(*b""), 0x811c_9dc5);
        assert_eq!(fnv1a(*b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(*b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn payload_hash_matches_the_bytes() {
        for seq in [1u32, 2, 999, 1000] {
            let len = payload_len(seq, 256, 8192);
            let bytes: Vec<u8> = (0..len).map(|i| payload_byte(seq, i)).collect();
            assert_eq!(payload_hash(seq, len), fnv1a(bytes));
        }
        // Different seqs give different payloads of the same length.
        assert_ne!(payload_hash(1, 64), payload_hash(2, 64));
    }

    #[test]
    fn payload_len_stays_in_the_section() {
        let lens: Vec<u32> = (1..=1000).map(|s| payload_len(s, 256, 8192)).collect();
        assert!(lens.iter().all(|&l| l <= 256));
        assert!(lens.contains(&0) && lens.contains(&256));
        assert!((1..100).all(|s| payload_len(s, 256, 20) <= 4));
        assert_eq!(payload_len(5, 256, 16), 0);
        assert_eq!(payload_len(5, 256, 0), 0);
    }

    #[test]
    fn ping_checks() {
        let h = Header {
            magic: MAGIC_PING,
            seq: 3,
            len: 8176,
            sum: 0,
        };
        assert_eq!(check_ping(&h, 8192), Ok(()));
        assert_eq!(
            check_ping(&Header { len: 8177, ..h }, 8192),
            Err(BadPing::Length {
                len: 8177,
                max: 8176
            })
        );
        assert_eq!(
            check_ping(&Header { seq: 0, ..h }, 8192),
            Err(BadPing::ZeroSeq)
        );
        assert!(check_ping(&Header { len: 1, ..h }, 8).is_err());
    }

    #[test]
    fn header_words_round_trip() {
        let h = Header {
            magic: MAGIC_PONG,
            seq: 7,
            len: 0,
            sum: 0xdead_beef,
        };
        assert_eq!(Header::from_words(h.words()), h);
        let p = pong_for(
            &Header {
                magic: MAGIC_PING,
                seq: 9,
                len: 4,
                sum: 1,
            },
            42,
        );
        assert_eq!(
            p,
            Header {
                magic: MAGIC_PONG,
                seq: 9,
                len: 0,
                sum: 42
            }
        );
    }

    #[test]
    fn answered_tracks_seq_per_peer() {
        let mut a = Answered::new();
        assert!(a.is_new(0, 1));
        a.record(0, 1, true);
        assert!(!a.is_new(0, 1));
        assert!(a.is_new(0, 2));
        assert!(a.is_new(2, 1));
        a.record(2, 5, false);
        assert_eq!(a.total, 1);
        a.forget(0);
        assert!(a.is_new(0, 1));
        assert!(!a.is_new(16, 1));
        a.record(16, 1, true);
        assert_eq!(a.total, 1);
    }

    #[test]
    fn hello_texts() {
        let mut buf = [0u8; 64];
        let n = format_hello(&mut buf, 1, 12);
        assert_eq!(&buf[..n], b"Hello from peer 1, message 12");
        assert_eq!(hello_text(&buf), Some("Hello from peer 1, message 12"));
        assert_eq!(hello_text(&[0u8; 16]), None);
        assert_eq!(hello_text(&MAGIC_PING.to_le_bytes()), Some("PING"));
        assert_eq!(hello_text(&[b'P', b'I', 0xff, 0]), None);
        let mut short = [0u8; 5];
        assert_eq!(format_hello(&mut short, 2, 3), 5);
        assert_eq!(hello_text(&[b'x'; 200]).map(str::len), Some(MAX_TEXT));
    }

    #[test]
    fn answers_are_matched_by_seq_and_sum() {
        let h = ping(5, 3, payload_hash(5, 3));
        assert_eq!(Header::from_words(h.words()), h);
        let pong = pong_for(&h, h.sum);
        assert_eq!(answer(&pong, 5, h.sum), Answer::Good);
        assert_eq!(answer(&pong, 6, h.sum), Answer::Pending);
        assert_eq!(answer(&Header { sum: 1, ..pong }, 5, h.sum), Answer::BadSum(1));
        assert_eq!(answer(&Header { magic: MAGIC_PING, ..pong }, 5, h.sum), Answer::Pending);
        assert_eq!(answer(&Header::default(), 5, h.sum), Answer::Pending);
    }

    #[test]
    fn records_are_not_texts() {
        assert!(is_record(b"PING\x01\x00"));
        assert!(is_record(b"PONG"));
        assert!(!is_record(b"PIN"));
        assert!(!is_record(b"Hello"));
    }

    #[test]
    fn only_lower_ids_get_answers() {
        assert!(answers_hello(1, 0));
        assert!(!answers_hello(1, 2));
        assert!(!answers_hello(1, 1));
    }
}

//! The pure part of docs/ivshmem.md's demo protocol: the 16-byte record
//! header at the start of an output section, the payload hash (FNV-1a,
//! 32 bits), the payload a pinger sends for a sequence number, and the
//! hello text of the basic demo.

/// "PING" and "PONG" read as little-endian u32.
pub const MAGIC_PING: u32 = u32::from_le_bytes(*b"PING");
pub const MAGIC_PONG: u32 = u32::from_le_bytes(*b"PONG");
/// Bytes of the record header: magic, seq, len, sum (u32 each).
pub const HEADER_LEN: usize = 16;
/// The longest payload this pinger sends: long enough to cross cache
/// lines, short enough to keep 1000 round trips quick under emulation.
pub const MAX_PAYLOAD: usize = 1024;
/// Longest hello text read from a peer.
pub const MAX_TEXT: usize = 80;

/// FNV-1a, 32 bits.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u32 {
    bytes
        .into_iter()
        .fold(0x811c_9dc5, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193))
}

/// A record header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub magic: u32,
    pub seq: u32,
    pub len: u32,
    pub sum: u32,
}

impl Header {
    pub fn from_words(w: [u32; 4]) -> Self {
        Self { magic: w[0], seq: w[1], len: w[2], sum: w[3] }
    }

    pub fn words(&self) -> [u32; 4] {
        [self.magic, self.seq, self.len, self.sum]
    }
}

/// Payload length of PING `seq` in an output section of `out_size` bytes:
/// varies with `seq` from 0 to the longest that fits (both ends occur).
pub fn payload_len(seq: u32, out_size: usize) -> usize {
    let max = out_size.saturating_sub(HEADER_LEN).min(MAX_PAYLOAD);
    (seq as usize).wrapping_mul(37) % (max + 1)
}

/// Byte `i` of PING `seq`'s payload: every byte depends on both, so a
/// stale or half-written payload hashes differently.
pub fn payload_byte(seq: u32, i: usize) -> u8 {
    let x = seq.wrapping_mul(0x2545_f491) ^ (i as u32).wrapping_mul(0x9e37_79b9);
    (x ^ (x >> 13) ^ (x >> 27)) as u8
}

/// The payload of PING `seq` for an output section of `out_size` bytes.
pub fn payload(seq: u32, out_size: usize) -> Vec<u8> {
    (0..payload_len(seq, out_size)).map(|i| payload_byte(seq, i)).collect()
}

/// The PING record for `payload`.
pub fn ping(seq: u32, payload: &[u8]) -> Header {
    Header {
        magic: MAGIC_PING,
        seq,
        len: payload.len() as u32,
        sum: fnv1a(payload.iter().copied()),
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

pub fn answer(h: &Header, seq: u32, sum: u32) -> Answer {
    match (h.magic, h.seq) {
        (MAGIC_PONG, s) if s == seq && h.sum == sum => Answer::Good,
        (MAGIC_PONG, s) if s == seq => Answer::BadSum(h.sum),
        _ => Answer::Pending,
    }
}

/// "Hello from peer N, message M", NUL-terminated, as the demo writes it.
pub fn hello(id: u32, message: u32) -> Vec<u8> {
    let mut text = format!("Hello from peer {id}, message {message}").into_bytes();
    text.push(0);
    text
}

/// The text at the start of a peer's output section: printable ASCII up
/// to the first NUL, at most [`MAX_TEXT`] bytes; `None` if it is not text
/// or a PING/PONG record.
pub fn text(bytes: &[u8]) -> Option<String> {
    if bytes.len() >= 4 && [b"PING", b"PONG"].contains(&&[bytes[0], bytes[1], bytes[2], bytes[3]]) {
        return None;
    }
    let bytes = &bytes[..bytes.len().min(MAX_TEXT)];
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let t = &bytes[..end];
    (!t.is_empty() && t.iter().all(|b| (0x20..0x7f).contains(b)))
        .then(|| String::from_utf8_lossy(t).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magics_and_hash_have_the_documented_values() {
        assert_eq!(MAGIC_PING, 0x474e_4950);
        assert_eq!(MAGIC_PONG, 0x474e_4f50);
        assert_eq!(fnv1a(*b""), 0x811c_9dc5);
        assert_eq!(fnv1a(*b"a"), 0xe40c_292c);
        assert_eq!(fnv1a(*b"foobar"), 0xbf9c_f968);
    }

    #[test]
    fn payloads_vary_and_fit() {
        let lens: Vec<usize> = (1..=1025).map(|s| payload_len(s, 8192)).collect();
        assert!(lens.iter().all(|&l| l <= MAX_PAYLOAD));
        assert!(lens.contains(&0) && lens.contains(&MAX_PAYLOAD));
        assert!((1..200).all(|s| payload_len(s, 20) <= 4));
        assert_eq!(payload_len(7, 16), 0);
        assert_eq!(payload_len(7, 0), 0);
        // Same length, other seq: other bytes and another hash.
        let p = |seq| (0..64).map(|i| payload_byte(seq, i)).collect::<Vec<_>>();
        assert_ne!(fnv1a(p(1)), fnv1a(p(2)));
    }

    #[test]
    fn answers_are_matched_by_seq_and_sum() {
        let h = ping(5, &payload(5, 8192));
        assert_eq!(Header::from_words(h.words()), h);
        let pong = Header { magic: MAGIC_PONG, seq: 5, len: 0, sum: h.sum };
        assert_eq!(answer(&pong, 5, h.sum), Answer::Good);
        assert_eq!(answer(&pong, 6, h.sum), Answer::Pending);
        assert_eq!(answer(&Header { sum: 1, ..pong }, 5, h.sum), Answer::BadSum(1));
        assert_eq!(answer(&Header { magic: MAGIC_PING, ..pong }, 5, h.sum), Answer::Pending);
        assert_eq!(answer(&Header::default(), 5, h.sum), Answer::Pending);
    }

    #[test]
    fn hello_texts_round_trip() {
        let mut section = vec![0u8; 128];
        let h = hello(1, 12);
        section[..h.len()].copy_from_slice(&h);
        assert_eq!(text(&section).as_deref(), Some("Hello from peer 1, message 12"));
        assert_eq!(text(&[0u8; 16]), None);
        assert_eq!(text(&[b'P', 0xff, 0]), None);
        assert_eq!(text(b"PONG\x01\x00\x00\x00"), None);
        assert_eq!(text(b"PINGS!\0").as_deref(), None);
        assert_eq!(text(b"PIN\0").as_deref(), Some("PIN"));
        assert_eq!(text(&[b'x'; 200]).map(|t| t.len()), Some(MAX_TEXT));
    }
}

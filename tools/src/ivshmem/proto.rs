//! The demo protocol (crates/ivshmem-proto, shared with the inmates), with
//! the owned buffers the root tool writes and shows.

pub use syshyper_ivshmem_proto::{answer, fnv1a, Answer, Header, HEADER_LEN, MAX_TEXT};
use syshyper_ivshmem_proto::{format_hello, hello_text, is_record, payload_byte, payload_len};

/// The longest payload this pinger sends: long enough to cross cache
/// lines, short enough to keep 1000 round trips quick under emulation.
pub const MAX_PAYLOAD: u32 = 1024;

/// The payload of PING `seq` for an output section of `out_size` bytes:
/// its length varies with `seq` from 0 to the longest that fits.
pub fn payload(seq: u32, out_size: usize) -> Vec<u8> {
    let len = payload_len(seq, MAX_PAYLOAD, out_size as u64);
    (0..len).map(|i| payload_byte(seq, i)).collect()
}

/// The PING record for `payload`.
pub fn ping(seq: u32, payload: &[u8]) -> Header {
    syshyper_ivshmem_proto::ping(seq, payload.len() as u32, fnv1a(payload.iter().copied()))
}

/// "Hello from peer N, message M", NUL-terminated, as the demo writes it.
pub fn hello(id: u32, message: u32) -> Vec<u8> {
    let mut text = vec![0u8; MAX_TEXT + 1];
    let n = format_hello(&mut text[..MAX_TEXT], id, message);
    text.truncate(n + 1);
    text
}

/// The text at the start of a peer's output section: printable ASCII up
/// to the first NUL, at most [`MAX_TEXT`] bytes; `None` if it is not text
/// or is a PING/PONG record.
pub fn text(bytes: &[u8]) -> Option<String> {
    if is_record(bytes) {
        return None;
    }
    hello_text(bytes).map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use syshyper_ivshmem_proto::MAGIC_PONG;

    #[test]
    fn payloads_vary_fit_and_hash_as_sent() {
        let lens: Vec<usize> = (1..=1025).map(|s| payload(s, 8192).len()).collect();
        assert!(lens.iter().all(|&l| l <= MAX_PAYLOAD as usize));
        assert!(lens.contains(&0) && lens.contains(&(MAX_PAYLOAD as usize)));
        assert!((1..200).all(|s| payload(s, 20).len() <= 4));
        let p = payload(5, 8192);
        let h = ping(5, &p);
        assert_eq!((h.seq, h.len as usize, h.sum), (5, p.len(), fnv1a(p.iter().copied())));
        let pong = Header { magic: MAGIC_PONG, seq: 5, len: 0, sum: h.sum };
        assert_eq!(answer(&pong, 5, h.sum), Answer::Good);
    }

    #[test]
    fn hello_texts_round_trip() {
        let mut section = vec![0u8; 128];
        let h = hello(1, 12);
        assert_eq!(h.last(), Some(&0));
        section[..h.len()].copy_from_slice(&h);
        assert_eq!(text(&section).as_deref(), Some("Hello from peer 1, message 12"));
        assert_eq!(text(&[0u8; 16]), None);
        assert_eq!(text(b"PONG\x01\x00\x00\x00"), None);
        assert_eq!(text(b"PINGS!\0"), None);
        assert_eq!(text(b"PIN\0").as_deref(), Some("PIN"));
    }
}

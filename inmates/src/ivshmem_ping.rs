//! The pinger side of the ping-pong exchange (docs/ivshmem.md), for the
//! boot-first root programs (root-test's ivshmem suite, bench-inmate):
//! write a PING into the own output section, ring the peer, wait for its
//! PONG with the same sequence number and check its sum.
use crate::ivshmem::Device;
use crate::ivshmem_proto::{
    payload_byte, Fnv1a, HEADER_LEN, MAGIC_PING, MAGIC_PONG, WORD_LEN, WORD_MAGIC, WORD_SEQ,
    WORD_SUM,
};
use crate::{barrier, ticks, timer};

/// A round trip that did not end with the right PONG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PingError {
    /// No PONG with this seq in time; `seen` is the seq the peer showed.
    Timeout { seq: u32, seen: u32 },
    /// The PONG's record is not a PONG.
    BadMagic { seq: u32, magic: u32 },
    /// The PONG's sum differs from the payload's hash.
    BadSum { seq: u32, want: u32, got: u32 },
}

impl core::fmt::Display for PingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            PingError::Timeout { seq, seen } => {
                write!(f, "seq {seq}: no PONG in time (peer shows seq {seen})")
            }
            PingError::BadMagic { seq, magic } => write!(f, "seq {seq}: magic {magic:#x}"),
            PingError::BadSum { seq, want, got } => {
                write!(f, "seq {seq}: sum {got:#x}, expected {want:#x}")
            }
        }
    }
}

/// Writes PING `seq` with `len` payload bytes into the own output section:
/// payload first, then the header with `seq` last, then the cache
/// maintenance (see `ivshmem`). Returns the payload's hash.
pub fn write_ping(dev: &Device, seq: u32, len: u32) -> u32 {
    let mut sum = Fnv1a::new();
    for i in 0..len {
        let b = payload_byte(seq, i);
        sum.byte(b);
        dev.write_out_byte(u64::from(HEADER_LEN + i), b);
    }
    barrier::dmb();
    dev.write_out_word(WORD_MAGIC, MAGIC_PING);
    dev.write_out_word(WORD_LEN, len);
    dev.write_out_word(WORD_SUM, sum.value());
    barrier::dmb();
    dev.write_out_word(WORD_SEQ, seq);
    dev.sync_out_after_write(0, u64::from(HEADER_LEN + len));
    sum.value()
}

/// The sequence number in `peer`'s output section.
pub fn peer_seq(dev: &Device, peer: u32) -> u32 {
    dev.out_word(peer, WORD_SEQ)
}

/// Checks `peer`'s PONG for `seq` (already seen in its seq word).
pub fn check_pong(dev: &Device, peer: u32, seq: u32, want: u32) -> Result<(), PingError> {
    barrier::dmb();
    let magic = dev.out_word(peer, WORD_MAGIC);
    if magic != MAGIC_PONG {
        return Err(PingError::BadMagic { seq, magic });
    }
    let got = dev.out_word(peer, WORD_SUM);
    if got != want {
        return Err(PingError::BadSum { seq, want, got });
    }
    Ok(())
}

/// Waits until `peer` shows `seq`, calling `idle` between looks, for at
/// most `timeout_ns` of counter time; then checks the PONG.
pub fn wait_pong(
    dev: &Device,
    peer: u32,
    seq: u32,
    want: u32,
    timeout_ns: u64,
    mut idle: impl FnMut(),
) -> Result<(), PingError> {
    let end = timer::counter().saturating_add(ticks::ns_to_ticks(timeout_ns, timer::frequency()));
    loop {
        if peer_seq(dev, peer) == seq {
            return check_pong(dev, peer, seq, want);
        }
        if timer::counter() > end {
            return Err(PingError::Timeout {
                seq,
                seen: peer_seq(dev, peer),
            });
        }
        idle();
    }
}

/// One round trip: PING `seq` with `len` bytes, ring `peer`, wait for it.
pub fn round_trip(
    dev: &Device,
    peer: u32,
    seq: u32,
    len: u32,
    timeout_ns: u64,
    idle: impl FnMut(),
) -> Result<(), PingError> {
    let want = write_ping(dev, seq, len);
    dev.ring(peer, 0);
    wait_pong(dev, peer, seq, want, timeout_ns, idle)
}

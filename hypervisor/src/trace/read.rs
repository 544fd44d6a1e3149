//! The root's reads of a CPU's trace (hypercalls 0x103 and 0x104, root
//! only: `hypercall::handle` asks for the root's proof first, so a
//! non-root cell gets -EPERM and never reaches these). Values go back in
//! x0, which must stay non-negative: 64-bit record words come as two
//! 32-bit halves.

use super::{rec, BUCKETS, HISTS};
use crate::errno::*;
use crate::percpu::{percpu, PerCpu};
use core::sync::atomic::Ordering;

fn present(cpu: u64) -> Result<&'static PerCpu, i64> {
    let pc = usize::try_from(cpu).ok().and_then(percpu).ok_or(-EINVAL)?;
    if !pc.present.load(Ordering::Acquire) {
        return Err(-EINVAL);
    }
    Ok(pc)
}

/// Half `index % 2` (0: low) of record word `index / 2` of `cpu`;
/// -ENOENT while the CPU has no record (it has not failed since it was
/// last handed to a cell), -EINVAL past the end.
pub fn record(cpu: u64, index: u64) -> i64 {
    let pc = match present(cpu) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let word = usize::try_from(index / 2).unwrap_or(usize::MAX);
    if word >= rec::WORDS {
        return -EINVAL;
    }
    match pc.trace.record_word(word) {
        Some(v) => i64::from(if index & 1 == 0 { v as u32 } else { (v >> 32) as u32 }),
        None => -ENOENT,
    }
}

/// Bucket `index % BUCKETS` of histogram `index / BUCKETS` of `cpu`.
pub fn latency(cpu: u64, index: u64) -> i64 {
    let pc = match present(cpu) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match usize::try_from(index).ok().filter(|&i| i < HISTS * BUCKETS).and_then(|i| pc.trace.hist_value(i)) {
        Some(v) => i64::from(v),
        None => -EINVAL,
    }
}

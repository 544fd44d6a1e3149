//! Any bytes as a trapped access: syndrome decoding and the GICD/GICR
//! emulation policy must not panic and must keep a cell inside what it owns
//! (properties in `mmio_props.rs`).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "mmio_props.rs"]
mod mmio_props;

fuzz_target!(|data: &[u8]| mmio_props::check(data));

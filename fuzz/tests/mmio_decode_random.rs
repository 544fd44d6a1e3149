//! The `mmio_decode` properties on stable Rust: a fixed number of inputs
//! from a seeded xorshift generator, plus hand-picked edge cases (no
//! nightly or sanitizer needed, so CI can always run it).

#[path = "../fuzz_targets/mmio_props.rs"]
mod mmio_props;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn random_inputs_keep_the_properties() {
    let mut s = 0x5eed_1234_abcd_0001u64;
    let mut buf = [0u8; 96];
    for _ in 0..200_000 {
        for chunk in buf.chunks_mut(8) {
            chunk.copy_from_slice(&xorshift(&mut s).to_le_bytes());
        }
        // Bias half the inputs towards small, aligned GIC offsets.
        if s & 1 == 0 {
            buf[32..40].copy_from_slice(&((xorshift(&mut s) % 0x1_2000) & !3).to_le_bytes());
            buf[49..57].copy_from_slice(&((0x1_0000 + xorshift(&mut s) % 0x1000) & !3).to_le_bytes());
        }
        mmio_props::check(&buf);
    }
}

#[test]
fn edge_cases_keep_the_properties() {
    mmio_props::check(&[]);
    mmio_props::check(&[0xff; 96]);
    for size in [1u8, 2, 4, 8] {
        for off in [0x1_0080u64, 0x1_0100, 0x1_0200, 0x1_040c, 0x1_040f, 0x1_0408] {
            let mut buf = [0u8; 96];
            buf[40] = size; // the access size byte
            buf[49..57].copy_from_slice(&off.to_le_bytes()); // GICR offset
            buf[57] = 1; // own frame
            mmio_props::check(&buf);
        }
    }
}

//! Generic-timer tick conversions (pure, host-tested).

const NS_PER_S: u128 = 1_000_000_000;

/// Nanoseconds in `ticks` of a counter running at `freq_hz`, exact (rounded
/// down); 0 for a zero frequency. Signed so that jitter may be negative.
pub fn ticks_to_ns(ticks: i64, freq_hz: u64) -> i64 {
    if freq_hz == 0 {
        return 0;
    }
    let ns = i128::from(ticks) * NS_PER_S as i128 / i128::from(freq_hz);
    ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Ticks in `ns` nanoseconds at `freq_hz` (rounded down, saturating).
pub fn ns_to_ticks(ns: u64, freq_hz: u64) -> u64 {
    let t = u128::from(ns) * u128::from(freq_hz) / NS_PER_S;
    u64::try_from(t).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU_VIRT_HZ: u64 = 62_500_000;

    #[test]
    fn qemu_virt_tick_is_16_ns() {
        assert_eq!(ticks_to_ns(1, QEMU_VIRT_HZ), 16);
        assert_eq!(ticks_to_ns(-3, QEMU_VIRT_HZ), -48);
        assert_eq!(ns_to_ticks(100_000_000, QEMU_VIRT_HZ), 6_250_000);
    }

    #[test]
    fn non_integer_mhz_is_exact() {
        // 19.2 MHz: a division by CNTFRQ/1_000_000 (= 19) would be 1% off.
        assert_eq!(ticks_to_ns(19_200_000, 19_200_000), 1_000_000_000);
        assert_eq!(ticks_to_ns(3, 19_200_000), 156);
    }

    #[test]
    fn degenerate_inputs_do_not_panic() {
        assert_eq!(ticks_to_ns(5, 0), 0);
        assert_eq!(ticks_to_ns(i64::MAX, 1), i64::MAX);
        assert_eq!(ns_to_ticks(u64::MAX, u64::MAX), u64::MAX);
    }
}

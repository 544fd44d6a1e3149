//! Event-queue records (ARM IHI 0070, 7.3): decoding, pure and
//! host-tested.

/// One event, as the driver reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Event {
    pub kind: u8,
    pub sid: u32,
    /// The input address of the faulting transaction (translation and
    /// permission faults; 0 for configuration errors).
    pub addr: u64,
    /// Whether it was a write (translation-related faults; bit 0x20 of
    /// word 1 is RnW: 1 = read).
    pub write: bool,
    /// Which translation stage faulted (translation-related faults:
    /// word 1 bit 39, S2), so a log says whether a stage-2 STE (the
    /// owner's own stage 2) or a stage-1 mirror blocked the transfer.
    pub stage: Option<u8>,
}

impl Event {
    pub fn decode(w: [u64; 4]) -> Self {
        let kind = w[0] as u8;
        // InputAddr lives in word 2 for the fault records; other records
        // put other things there, so it is reported only for faults.
        let fault = (0x10..=0x13).contains(&kind);
        Event {
            kind,
            sid: (w[0] >> 32) as u32,
            addr: if fault { w[2] } else { 0 },
            write: fault && w[1] & (1 << 35) == 0,
            stage: fault.then_some(if w[1] & (1 << 39) != 0 { 2 } else { 1 }),
        }
    }

    pub fn name(&self) -> &'static str {
        match self.kind {
            0x01 => "F_UUT",
            0x02 => "C_BAD_STREAMID",
            0x03 => "F_STE_FETCH",
            0x04 => "C_BAD_STE",
            0x06 => "F_STREAM_DISABLED",
            0x07 => "F_TRANSL_FORBIDDEN",
            0x08 => "C_BAD_SUBSTREAMID",
            0x09 => "F_CD_FETCH",
            0x0a => "C_BAD_CD",
            0x0b => "F_WALK_EABT",
            0x10 => "F_TRANSLATION",
            0x11 => "F_ADDR_SIZE",
            0x12 => "F_ACCESS",
            0x13 => "F_PERMISSION",
            0x20 => "F_TLB_CONFLICT",
            0x21 => "F_CFG_CONFLICT",
            _ => "event",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translation_fault() {
        let e = Event::decode([0x10 | 8 << 32, 0, 0x7fc0_0000, 0]);
        assert_eq!((e.kind, e.sid, e.addr, e.name()), (0x10, 8, 0x7fc0_0000, "F_TRANSLATION"));
        assert!(e.write);
        assert_eq!(e.stage, Some(1));
        let r = Event::decode([0x13 | 16 << 32, 1 << 35 | 1 << 39, 0x1000, 0]);
        assert!(!r.write);
        assert_eq!(r.stage, Some(2));
        assert_eq!(r.name(), "F_PERMISSION");
    }

    #[test]
    fn config_error_has_no_address() {
        let e = Event::decode([0x04 | 9 << 32, 0, 0xdead, 0]);
        assert_eq!((e.name(), e.sid, e.addr, e.stage), ("C_BAD_STE", 9, 0, None));
    }
}

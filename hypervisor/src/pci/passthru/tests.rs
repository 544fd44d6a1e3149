use super::*;

/// A config space in memory: edu-like header, a capability chain
/// 40h (PM, 8 bytes) -> 50h (MSI, writable in the test) -> 70h (PCIe),
/// extended capability at 100h (AER) -> 140h.
struct Fake {
    space: [u32; 1024],
    writes: usize,
}

impl Fake {
    fn new() -> Self {
        let mut space = [0u32; 1024];
        space[0] = 0x11e8_1234;
        space[1] = 0x0010_0000 | 0x0006;
        space[2] = 0x00ff_0010;
        space[3] = 0x0080_0000; // multi-function header
        space[4] = 0x1000_0000; // BAR0 at 256 MiB, 32-bit memory
        space[0x34 / 4] = 0x40;
        space[0x3c / 4] = 0x0000_0123;
        space[0x40 / 4] = 0x0003_5001;
        space[0x50 / 4] = 0x0080_7005;
        space[0x70 / 4] = 0x0002_0010;
        space[0x100 / 4] = 0x1401_0001;
        space[0x140 / 4] = 0x0001_0003;
        Self { space, writes: 0 }
    }
}

impl CfgHw for Fake {
    fn read32(&mut self, reg: u16) -> u32 {
        self.space[usize::from(reg / 4)]
    }

    fn write(&mut self, reg: u16, size: u8, value: u32) {
        self.writes += 1;
        let (shift, mask) = lanes(reg, size);
        let w = &mut self.space[usize::from(reg / 4)];
        *w = (*w & !mask) | ((value << shift) & mask);
    }
}

fn cap(id: u16, start: u16, len: u16, flags: u16) -> Cap {
    Cap { id, start, len, flags }
}

fn dev(caps: &[Cap]) -> PtDev {
    PtDev::new(0x28, [0xfff0_0000, 0, 0, 0, 0, 0], 0x40_1002_8000, caps.iter().copied()).unwrap()
}

#[test]
fn header_reads_pass_through_with_multifunction_cleared() {
    let (d, st, mut hw) = (dev(&[]), PtState::default(), Fake::new());
    assert_eq!(read(&d, &st, &mut hw, 0, 4), 0x11e8_1234);
    assert_eq!(read(&d, &st, &mut hw, 0x0e, 1), 0, "header type without the multi-function bit");
    assert_eq!(read(&d, &st, &mut hw, 0x3d, 1), 1, "pin INTA");
    assert_eq!(read(&d, &st, &mut hw, 0x10, 4), 0x1000_0000);
    assert_eq!(read(&d, &st, &mut hw, 0x30, 4), 0, "no expansion ROM");
}

#[test]
fn unlisted_capabilities_are_invisible() {
    let (d, st, mut hw) = (dev(&[]), PtState::default(), Fake::new());
    assert_eq!(read(&d, &st, &mut hw, 0x06, 2) & 0x10, 0, "no capability list");
    assert_eq!(read(&d, &st, &mut hw, 0x34, 1), 0);
    for reg in (0x40..0x1000).step_by(4) {
        assert_eq!(read(&d, &st, &mut hw, reg, 4), 0, "{reg:#x}");
    }
}

#[test]
fn listed_capabilities_are_chained_to_each_other() {
    // PM and PCIe listed, MSI between them not; AER's successor not.
    let d = dev(&[cap(0x01, 0x40, 8, 0), cap(0x10, 0x70, 0x3c, 0), cap(0x8001, 0x100, 0x40, 0)]);
    let (st, mut hw) = (PtState::default(), Fake::new());
    assert_eq!(read(&d, &st, &mut hw, 0x06, 2) & 0x10, 0x10);
    assert_eq!(read(&d, &st, &mut hw, 0x34, 1), 0x40);
    assert_eq!(read(&d, &st, &mut hw, 0x40, 4), 0x0003_7001, "PM -> PCIe, skipping MSI");
    assert_eq!(read(&d, &st, &mut hw, 0x41, 1), 0x70);
    assert_eq!(read(&d, &st, &mut hw, 0x50, 4), 0, "MSI hidden");
    assert_eq!(read(&d, &st, &mut hw, 0x70, 4), 0x0002_0010, "PCIe ends the chain");
    assert_eq!(read(&d, &st, &mut hw, 0x100, 4), 0x0001_0001, "AER ends the extended chain");
    assert_eq!(read(&d, &st, &mut hw, 0x140, 4), 0);
}

#[test]
fn command_bits_and_nothing_else() {
    let d = dev(&[cap(0x05, 0x50, 0x14, WRITE), cap(0x01, 0x40, 8, 0)]);
    let (mut st, mut hw) = (PtState::default(), Fake::new());
    write(&d, &mut st, &mut hw, 0x04, 4, 0xffff_ffff);
    assert_eq!(hw.space[1], 0x0010_0000 | u32::from(CMD_WRITABLE), "command bits only, status untouched");
    write(&d, &mut st, &mut hw, 0x04, 2, 0);
    assert_eq!(hw.space[1], 0x0010_0000);
    let before = hw.space;
    for reg in [0x00u16, 0x08, 0x0c, 0x2c, 0x30, 0x34, 0x40, 0x44, 0x70, 0x100, 0xffc] {
        write(&d, &mut st, &mut hw, reg, 4, 0xffff_ffff);
    }
    assert_eq!(hw.space, before, "header, read-only capabilities and unlisted space unchanged");
    // Inside the writable MSI capability: whole accesses only.
    write(&d, &mut st, &mut hw, 0x54, 4, 0x0800_0040);
    assert_eq!(hw.space[0x54 / 4], 0x0800_0040);
    write(&d, &mut st, &mut hw, 0x64, 4, 0xffff_ffff);
    assert_eq!(hw.space[0x64 / 4], 0, "beyond the capability's 14h bytes");
    write(&d, &mut st, &mut hw, 0x3c, 1, 0x55);
    assert_eq!(hw.space[0x3c / 4], 0x0000_0155, "line writable, pin not");
}

#[test]
fn bars_size_from_the_mask_and_never_move() {
    let (d, mut st, mut hw) = (dev(&[]), PtState::default(), Fake::new());
    let writes = hw.writes;
    write(&d, &mut st, &mut hw, 0x10, 4, 0xffff_ffff);
    assert_eq!(read(&d, &st, &mut hw, 0x10, 4), 0xfff0_0000, "1 MiB, 32-bit memory BAR");
    assert_eq!(read(&d, &st, &mut hw, 0x14, 4), 0, "BAR1 unused");
    write(&d, &mut st, &mut hw, 0x10, 4, 0x1000_0000);
    assert_eq!(read(&d, &st, &mut hw, 0x10, 4), 0x1000_0000);
    write(&d, &mut st, &mut hw, 0x10, 4, 0x2000_0000);
    assert_eq!(read(&d, &st, &mut hw, 0x10, 4), 0x1000_0000, "fixed at its physical address");
    assert_eq!(hw.writes, writes, "no BAR write reaches the device");
}

#[test]
fn quiesce_stops_decoding_and_dma() {
    let mut hw = Fake::new();
    quiesce(&mut hw);
    assert_eq!(hw.space[1], 0x0010_0000 | u32::from(CMD_QUIESCED));
}

#[test]
fn quiesce_turns_msi_and_msix_off() {
    let mut hw = Fake::new();
    // MSI (50h) enabled, the last capability (70h) made MSI-X, enabled
    // with its function mask; PM (40h) left alone.
    hw.space[0x50 / 4] |= 1 << 16;
    hw.space[0x70 / 4] = 0xc002_0011;
    let pm = hw.space[0x40 / 4];
    quiesce(&mut hw);
    assert_eq!(hw.space[0x50 / 4], 0x0080_7005, "MSI enable cleared");
    assert_eq!(hw.space[0x70 / 4], 0x4002_0011, "MSI-X enable cleared, the mask kept");
    assert_eq!(hw.space[0x40 / 4], pm);
    // A circular list ends (bounded walk).
    hw.space[0x70 / 4] = 0x8002_4011;
    quiesce(&mut hw);
    assert_eq!(hw.space[0x70 / 4], 0x0002_4011);
}

#[test]
fn bad_capability_lists_are_refused() {
    let one = |c: Cap| PtDev::new(0, [0; 6], 0, [c].into_iter());
    assert_eq!(one(cap(1, 0x42, 4, 0)), Err(Bad::Cap(0)));
    assert_eq!(one(cap(1, 0x3c, 4, 0)), Err(Bad::Cap(0)));
    assert_eq!(one(cap(1, 0xfc, 8, 0)), Err(Bad::Cap(0)));
    assert_eq!(one(cap(0x8001, 0x40, 4, 0)), Err(Bad::Cap(0)));
    assert_eq!(one(cap(1, 0x40, 0, 0)), Err(Bad::Cap(0)));
    let many = (0..17).map(|i| cap(1, 0x40 + 4 * i, 4, 0));
    assert_eq!(PtDev::new(0, [0; 6], 0, many), Err(Bad::TooManyCaps));
}

#[test]
fn random_accesses_never_write_bars_or_header() {
    let d = dev(&[cap(0x01, 0x40, 8, WRITE)]);
    let (mut st, mut hw) = (PtState::default(), Fake::new());
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let size = [1u8, 2, 4][(x % 3) as usize];
        let reg = ((x >> 8) & 0xfff) as u16 & !(u16::from(size) - 1);
        write(&d, &mut st, &mut hw, reg, size, (x >> 32) as u32);
        assert_eq!(hw.space[0], 0x11e8_1234);
        assert_eq!(&hw.space[4..10], &[0x1000_0000, 0, 0, 0, 0, 0]);
        assert_eq!(hw.space[0x50 / 4], 0x0080_7005);
        assert_eq!(hw.space[1] & 0xffff & !u32::from(CMD_WRITABLE), 0);
    }
}

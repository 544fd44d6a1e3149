//! Properties of the hypervisor's trap decoding and GIC access policy that
//! must hold for every input a guest controls (ESR/FAR/HPFAR syndromes,
//! register values, MMIO offsets and sizes). Shared by the `mmio_decode`
//! fuzz target and the stable randomized test `tests/mmio_decode_random.rs`.

use syshyper_hv::irqchip::gicv3::dist::{self, Action};
use syshyper_hv::irqchip::gicv3::redist::{self, RAction, MGMT_SGI};
use syshyper_hv::trap::esr::{DataAbort, Esr};

/// Little-endian reader over the input; missing bytes read as 0.
pub struct Input<'a> {
    data: &'a [u8],
    at: usize,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self { data, at: 0 }
    }

    pub fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        for x in &mut b {
            *x = self.data.get(self.at).copied().unwrap_or(0);
            self.at += 1;
        }
        u64::from_le_bytes(b)
    }

    pub fn u8(&mut self) -> u8 {
        let v = self.data.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        v
    }
}

/// Mask of the bytes an access of `size` bytes can carry.
fn width_mask(size: u8) -> u64 {
    if size >= 8 { u64::MAX } else { (1u64 << (u32::from(size) * 8)) - 1 }
}

/// Runs every property on one input; panics on a violation.
pub fn check(data: &[u8]) {
    let mut inp = Input::new(data);
    let esr = Esr(inp.u64());
    let (far, hpfar, value) = (inp.u64(), inp.u64(), inp.u64());
    syndrome(esr, far, hpfar, value);

    // An access to the distributor, with the cell owning the SPIs whose
    // bits are set in `owned` (INTID % 64).
    let (off, size, owned) = (inp.u64() % 0x1_2000, inp.u8() % 10, inp.u64());
    let owns = |irq: u32| owned & (1u64 << (irq % 64)) != 0;
    distributor(off, size, owns);
    distributor(off, size, |_| false);

    let (roff, own, last) = (inp.u64() % 0x2_2000, inp.u8() & 1 != 0, inp.u8() & 1 != 0);
    redistributor(roff, size, own, last);

    let (cur, written, mask) = (inp.u64(), inp.u64(), inp.u64());
    let merged = dist::merge(cur, written, mask);
    assert_eq!(merged & !mask, cur & !mask, "merge changed bits outside the mask");
    assert_eq!(merged & mask, written & mask, "merge dropped bits inside the mask");
}

fn syndrome(esr: Esr, far: u64, hpfar: u64, value: u64) {
    assert!(esr.ec() < 64);
    assert!(esr.iss() < 1 << 25);
    let da = DataAbort::decode(esr);
    assert!(matches!(da.size, 1 | 2 | 4 | 8), "size {}", da.size);
    assert!(da.reg <= 31);
    assert!(da.dfsc < 64);
    let ipa = DataAbort::ipa(hpfar, far);
    assert_eq!(ipa & 0xfff, far & 0xfff, "IPA page offset comes from FAR");
    assert!(ipa < 1 << 52, "IPA {ipa:#x} beyond 52 bits");
    let v = da.extend(value);
    if !da.sixty_four {
        assert!(v <= u64::from(u32::MAX), "32-bit load wrote the upper half");
    }
    if !da.sign_extend {
        let reg = if da.sixty_four { u64::MAX } else { u64::from(u32::MAX) };
        assert_eq!(v, value & width_mask(da.size) & reg, "zero-extended load changed bits");
    }
}

fn distributor(off: u64, size: u8, owns: impl Fn(u32) -> bool + Copy) {
    let Ok(action) = dist::classify(off, size, owns) else {
        return;
    };
    assert!(off < dist::GICD_SIZE && matches!(size, 1 | 2 | 4 | 8));
    assert_eq!(off % u64::from(size), 0, "misaligned access accepted");
    match action {
        Action::Masked(m) | Action::Merge(m) | Action::Priority(m) => {
            assert_eq!(m & !width_mask(size), 0, "mask {m:#x} wider than the access");
            if !owns(32) && (32..1020).all(|i| !owns(i)) {
                assert_eq!(m, 0, "a cell owning no SPI may change bits at {off:#x}");
            }
        }
        Action::Route(irq) => assert!(irq >= 32 && owns(irq), "route of INTID {irq} not owned"),
        // Read as a constant, writes ignored: nothing the cell can change.
        Action::Const(v) => assert_eq!(v & !width_mask(size), 0, "constant {v:#x} wider than the access"),
        Action::Hide | Action::ReadOnly => {}
    }
}

fn redistributor(off: u64, size: u8, own: bool, last: bool) {
    let Ok(action) = redist::classify(off, size, own, last) else {
        return;
    };
    assert!(off < redist::FRAME_SIZE);
    let m = match action {
        RAction::Typer { last: l } => {
            assert_eq!(l, last);
            return;
        }
        RAction::Plain(Action::Masked(m) | Action::Merge(m) | Action::Priority(m)) => m,
        RAction::Plain(Action::Route(_)) => panic!("redistributor access routed"),
        RAction::Plain(Action::Hide | Action::ReadOnly | Action::Const(_)) => return,
    };
    assert!(own, "another CPU's frame is writable at {off:#x}");
    assert_eq!(m & !width_mask(size), 0, "mask wider than the access");
    // The management SGI's enable/pending/active/group bit and its
    // priority byte stay the hypervisor's.
    if (0x1_0080..0x1_0400).contains(&off) || off == 0x1_0d00 {
        assert_eq!(m & (1 << MGMT_SGI), 0, "management SGI bit writable at {off:#x}");
    }
    let prio = 0x1_0400 + u64::from(MGMT_SGI);
    if (off..off + u64::from(size)).contains(&prio) {
        let byte = prio - off;
        assert_eq!((m >> (8 * byte)) & 0xff, 0, "management SGI priority writable");
    }
}

//! PCI configuration space through an ECAM (memory-mapped, 4 KiB per
//! function: bus << 20 | device << 15 | function << 12). In a cell the ECAM
//! is the hypervisor's virtual PCI host at the comm region's
//! `pci_mmconfig_base` (docs/ivshmem.md): every access traps and is
//! emulated, so only aligned 32-bit accesses are used, the width every
//! emulation must support. Absent functions read all ones.

/// Standard configuration header offsets.
pub const CFG_VENDOR_DEVICE: u16 = 0x00;
pub const CFG_COMMAND: u16 = 0x04;
pub const CFG_CLASS_REV: u16 = 0x08;
pub const CFG_BAR0: u16 = 0x10;
pub const CFG_CAP_PTR: u16 = 0x34;
pub const CFG_INT_LINE: u16 = 0x3c;
/// Command register bits.
pub const CMD_MEMORY: u32 = 1 << 1;
pub const CMD_MASTER: u32 = 1 << 2;
pub const CMD_INTX_DISABLE: u32 = 1 << 10;
/// Status register (upper half of the word at 04h): capability list.
pub const STATUS_CAP_LIST: u32 = 1 << (16 + 4);
/// Capability ID of a vendor-specific capability.
pub const CAP_VENDOR: u8 = 0x09;

/// Bytes of one bus in the ECAM.
pub const BUS_SIZE: usize = 1 << 20;
/// Bytes of one function's configuration space.
pub const FUNCTION_SIZE: usize = 1 << 12;
/// Functions on one bus (32 devices x 8 functions).
pub const FUNCTIONS_PER_BUS: u16 = 256;
/// Capabilities followed at most (a list that loops must end).
const MAX_CAPS: usize = 48;

/// A bus/device/function number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bdf(pub u16);

impl Bdf {
    pub const fn new(bus: u8, dev: u8, func: u8) -> Self {
        Self(((bus as u16) << 8) | (((dev & 0x1f) as u16) << 3) | (func & 7) as u16)
    }
    pub const fn bus(self) -> u8 {
        (self.0 >> 8) as u8
    }
    pub const fn dev(self) -> u8 {
        ((self.0 >> 3) & 0x1f) as u8
    }
    pub const fn func(self) -> u8 {
        (self.0 & 7) as u8
    }
    /// Offset of this function's configuration space in the ECAM.
    pub const fn ecam_offset(self) -> usize {
        (self.0 as usize) * FUNCTION_SIZE
    }
}

impl core::fmt::Display for Bdf {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:02x}:{:02x}.{:x}", self.bus(), self.dev(), self.func())
    }
}

/// An ECAM window of `buses` buses starting at bus 0.
#[derive(Debug, Clone, Copy)]
pub struct Ecam {
    base: usize,
    buses: usize,
}

impl Ecam {
    /// # Safety
    /// `base .. base + buses * BUS_SIZE` must be an ECAM (mapped or trapped)
    /// that may be read and written with aligned 32-bit volatile accesses.
    pub const unsafe fn at(base: usize, buses: usize) -> Self {
        Self { base, buses }
    }

    pub const fn base(&self) -> usize {
        self.base
    }

    /// Address of register `reg` (rounded down to 4) of `bdf`, if inside.
    fn addr(&self, bdf: Bdf, reg: u16) -> Option<usize> {
        if usize::from(bdf.bus()) >= self.buses || usize::from(reg) >= FUNCTION_SIZE {
            return None;
        }
        Some(self.base + bdf.ecam_offset() + usize::from(reg & !3))
    }

    /// The 32-bit register at `reg`; all ones outside the window.
    pub fn read32(&self, bdf: Bdf, reg: u16) -> u32 {
        match self.addr(bdf, reg) {
            // SAFETY: `at`'s contract; the address lies inside the window
            // and is 4-byte aligned.
            Some(a) => unsafe { (a as *const u32).read_volatile() },
            None => u32::MAX,
        }
    }

    /// Writes the 32-bit register at `reg` (ignored outside the window).
    pub fn write32(&self, bdf: Bdf, reg: u16, value: u32) {
        if let Some(a) = self.addr(bdf, reg) {
            // SAFETY: as in `read32`.
            unsafe { (a as *mut u32).write_volatile(value) }
        }
    }

    /// Two 32-bit registers as one 64-bit value (low word first).
    pub fn read64(&self, bdf: Bdf, reg: u16) -> u64 {
        u64::from(self.read32(bdf, reg)) | (u64::from(self.read32(bdf, reg.wrapping_add(4))) << 32)
    }

    /// Byte `reg` of the configuration space.
    pub fn read8(&self, bdf: Bdf, reg: u16) -> u8 {
        (self.read32(bdf, reg) >> (8 * (reg & 3))) as u8
    }

    pub fn vendor_device(&self, bdf: Bdf) -> (u16, u16) {
        let v = self.read32(bdf, CFG_VENDOR_DEVICE);
        (v as u16, (v >> 16) as u16)
    }

    /// Functions with `vendor`/`device` on `bus`, in bdf order.
    pub fn find(&self, bus: u8, vendor: u16, device: u16) -> impl Iterator<Item = Bdf> + '_ {
        (0..FUNCTIONS_PER_BUS)
            .map(move |n| Bdf((u16::from(bus) << 8) | n))
            .filter(move |&b| self.vendor_device(b) == (vendor, device))
    }

    /// Offset of the first capability with `id`, following the list.
    pub fn find_cap(&self, bdf: Bdf, id: u8) -> Option<u16> {
        if self.read32(bdf, CFG_COMMAND) & STATUS_CAP_LIST == 0 {
            return None;
        }
        let mut ptr = self.read8(bdf, CFG_CAP_PTR) & !3;
        for _ in 0..MAX_CAPS {
            if ptr < 0x40 {
                return None;
            }
            let head = self.read32(bdf, u16::from(ptr));
            if head as u8 == id {
                return Some(u16::from(ptr));
            }
            ptr = (head >> 8) as u8 & !3;
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod fake {
    //! A RAM-backed ECAM of one bus for host tests.
    use super::*;

    pub struct FakeEcam {
        pub words: Vec<u32>,
    }

    impl FakeEcam {
        /// One bus where every function reads all ones.
        pub fn new() -> Self {
            Self {
                words: vec![u32::MAX; BUS_SIZE / 4],
            }
        }

        pub fn set(&mut self, bdf: Bdf, reg: u16, value: u32) {
            self.words[(bdf.ecam_offset() + usize::from(reg)) / 4] = value;
        }

        pub fn get(&self, bdf: Bdf, reg: u16) -> u32 {
            self.words[(bdf.ecam_offset() + usize::from(reg)) / 4]
        }

        /// Zeroes a function's header (a present function, no capabilities).
        pub fn clear(&mut self, bdf: Bdf) {
            for r in (0..FUNCTION_SIZE as u16).step_by(4) {
                self.set(bdf, r, 0);
            }
        }

        pub fn ecam(&mut self) -> Ecam {
            // SAFETY: the vector is one bus of aligned words and outlives
            // every use in the tests.
            unsafe { Ecam::at(self.words.as_mut_ptr() as usize, 1) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fake::FakeEcam;
    use super::*;

    #[test]
    fn bdf_fields_and_offsets() {
        let b = Bdf::new(0, 1, 0);
        assert_eq!(b.0, 0x08);
        assert_eq!(b.ecam_offset(), 0x8000);
        assert_eq!(
            Bdf::new(1, 31, 7).ecam_offset(),
            (1 << 20) | (31 << 15) | (7 << 12)
        );
        assert_eq!(format!("{}", Bdf::new(0, 2, 1)), "00:02.1");
    }

    #[test]
    fn finds_functions_and_capabilities() {
        let mut f = FakeEcam::new();
        let a = Bdf::new(0, 0, 0);
        let b = Bdf::new(0, 3, 0);
        for d in [a, b] {
            f.clear(d);
            f.set(d, CFG_VENDOR_DEVICE, 0x4106_110a);
        }
        f.set(b, CFG_COMMAND, STATUS_CAP_LIST);
        f.set(b, CFG_CAP_PTR, 0x40);
        f.set(b, 0x40, 0x0000_5005); // MSI, next 50h
        f.set(b, 0x50, 0x0120_0009); // vendor, last, length 20h
        let e = f.ecam();
        let found: Vec<Bdf> = e.find(0, 0x110a, 0x4106).collect();
        assert_eq!(found, vec![a, b]);
        assert_eq!(e.find_cap(b, CAP_VENDOR), Some(0x50));
        assert_eq!(e.find_cap(b, 0x11), None);
        assert_eq!(e.find_cap(a, CAP_VENDOR), None, "no capability list bit");
        assert_eq!(e.read8(b, 0x52), 0x20);
        assert_eq!(e.read8(b, 0x53), 0x01);
        assert_eq!(
            e.read32(Bdf::new(1, 0, 0), 0),
            u32::MAX,
            "outside the window"
        );
        assert_eq!(e.vendor_device(Bdf::new(0, 9, 0)), (0xffff, 0xffff));
    }

    #[test]
    fn looping_capability_list_ends() {
        let mut f = FakeEcam::new();
        let a = Bdf::new(0, 0, 0);
        f.clear(a);
        f.set(a, CFG_COMMAND, STATUS_CAP_LIST);
        f.set(a, CFG_CAP_PTR, 0x40);
        f.set(a, 0x40, 0x0000_4005); // points at itself
        assert_eq!(f.ecam().find_cap(a, CAP_VENDOR), None);
    }

    #[test]
    fn writes_and_64_bit_reads() {
        let mut f = FakeEcam::new();
        let a = Bdf::new(0, 0, 0);
        f.clear(a);
        let e = f.ecam();
        e.write32(a, CFG_BAR0, 0x08f0_0000);
        e.write32(Bdf::new(2, 0, 0), CFG_BAR0, 1);
        f.set(a, 0x58, 0x7faf_0000);
        f.set(a, 0x5c, 0x1);
        assert_eq!(f.get(a, CFG_BAR0), 0x08f0_0000);
        assert_eq!(f.ecam().read64(a, 0x58), 0x1_7faf_0000);
    }
}

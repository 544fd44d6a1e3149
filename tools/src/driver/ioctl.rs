//! The /dev/jailhouse ioctls (Jailhouse's numbers and argument layouts).
//! Arguments are encoded as little-endian byte buffers; only the call itself
//! is unsafe.

use rustix::io::Errno;
use rustix::ioctl::{ioctl, Ioctl, IoctlOutput, Opcode};
use std::ffi::c_void;
use std::fs::File;
use std::os::fd::AsFd;

pub const DEVICE: &str = "/dev/jailhouse";
pub const CELL_NAME_LEN: usize = 32;

const fn iow(nr: u32, size: u32) -> Opcode {
    // _IOC(_IOC_WRITE = 1, type 0, nr, size) with the generic Linux layout.
    (1 << 30) | (size << 16) | nr
}

pub const ENABLE: Opcode = iow(0, 8);
pub const DISABLE: Opcode = 1;
pub const CELL_CREATE: Opcode = iow(2, 16);
pub const CELL_LOAD: Opcode = iow(3, 48);
pub const CELL_START: Opcode = iow(4, 40);
pub const CELL_DESTROY: Opcode = iow(5, 40);
/// sysHyper extension: `struct sh_forced` (driver/jailhouse_abi.h).
pub const FORCED: Opcode = iow(6, 16);

/// Which cell an ioctl means: an id, or a name (id -1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CellRef {
    Id(u32),
    Name(String),
}

/// `struct jailhouse_cell_id` {s32 id; u32 pad; char name[32]}.
pub fn cell_id(cell: &CellRef) -> anyhow::Result<Vec<u8>> {
    let mut out = vec![0u8; 8 + CELL_NAME_LEN];
    match cell {
        CellRef::Id(id) => {
            let id = i32::try_from(*id).map_err(|_| anyhow::anyhow!("cell id {id} is too large"))?;
            out[..4].copy_from_slice(&id.to_le_bytes());
        }
        CellRef::Name(name) => {
            if name.len() >= CELL_NAME_LEN || name.contains('\0') {
                anyhow::bail!("cell name {name:?} is longer than {} bytes", CELL_NAME_LEN - 1);
            }
            out[..4].copy_from_slice(&(-1i32).to_le_bytes());
            out[8..8 + name.len()].copy_from_slice(name.as_bytes());
        }
    }
    Ok(out)
}

/// One image for CELL_LOAD: where its bytes are in this process and where
/// they go in the cell.
#[derive(Debug)]
pub struct Image<'a> {
    pub data: &'a [u8],
    pub target: u64,
}

/// `struct jailhouse_cell_load` followed by its `jailhouse_preload_image`s.
pub fn cell_load(cell: &CellRef, images: &[Image<'_>]) -> anyhow::Result<Vec<u8>> {
    let mut out = cell_id(cell)?;
    out.extend_from_slice(&(images.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    for img in images {
        out.extend_from_slice(&(img.data.as_ptr() as u64).to_le_bytes());
        out.extend_from_slice(&(img.data.len() as u64).to_le_bytes());
        out.extend_from_slice(&img.target.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
    }
    Ok(out)
}

/// `struct jailhouse_cell_create` {u64 config_address; u32 size; u32 pad}.
pub fn cell_create(config: &[u8]) -> Vec<u8> {
    let mut out = (config.as_ptr() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&(config.len() as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out
}

/// An ioctl whose argument is a pointer to a buffer the caller keeps alive.
struct PtrArg<'a> {
    opcode: Opcode,
    arg: Option<&'a [u8]>,
}

// SAFETY: the driver only reads through the pointer (all sysHyper ioctls are
// _IOW or _IO), `arg` outlives the call, and the output is the return value.
unsafe impl Ioctl for PtrArg<'_> {
    type Output = ();
    const IS_MUTATING: bool = false;

    fn opcode(&self) -> Opcode {
        self.opcode
    }

    fn as_ptr(&mut self) -> *mut c_void {
        self.arg.map_or(std::ptr::null_mut(), |a| a.as_ptr() as *mut c_void)
    }

    unsafe fn output_from_ptr(_: IoctlOutput, _: *mut c_void) -> rustix::io::Result<()> {
        Ok(())
    }
}

/// The open driver device.
pub struct Device(File);

/// What to do when the driver is not loaded.
pub const LOAD_DRIVER: &str = "the sysHyper driver is not loaded: modprobe syshyper (package syshyper-dkms) or insmod syshyper.ko";

/// One line for an error opening the device: what is wrong and the fix.
pub fn open_error(e: &std::io::Error) -> anyhow::Error {
    match e.kind() {
        std::io::ErrorKind::NotFound => anyhow::anyhow!("{DEVICE} does not exist: {LOAD_DRIVER}"),
        std::io::ErrorKind::PermissionDenied => anyhow::anyhow!("cannot open {DEVICE}: permission denied (run as root)"),
        _ => anyhow::anyhow!("cannot open {DEVICE}: {e}"),
    }
}

impl Device {
    pub fn open() -> anyhow::Result<Self> {
        File::open(DEVICE).map(Device).map_err(|e| open_error(&e))
    }

    /// Issues `opcode`; `arg` holds the bytes the pointer argument points
    /// at (the embedded user pointers must stay valid for the call too).
    pub fn call(&self, opcode: Opcode, arg: Option<&[u8]>) -> Result<(), Errno> {
        // SAFETY: see `PtrArg`: the buffers are borrowed for the whole call and
        // the driver validates their contents.
        unsafe { ioctl(self.0.as_fd(), PtrArg { opcode, arg }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_errors_name_the_fix() {
        let m = open_error(&std::io::Error::from(std::io::ErrorKind::PermissionDenied)).to_string();
        assert!(m.contains("run as root") && !m.contains('\n'), "{m}");
        let m = open_error(&std::io::Error::from(std::io::ErrorKind::NotFound)).to_string();
        assert!(m.contains("modprobe syshyper") && !m.contains('\n'), "{m}");
    }

    #[test]
    fn opcodes_match_jailhouse() {
        assert_eq!(ENABLE, 0x4008_0000);
        assert_eq!(DISABLE, 0x0000_0001);
        assert_eq!(CELL_CREATE, 0x4010_0002);
        assert_eq!(CELL_LOAD, 0x4030_0003);
        assert_eq!(CELL_START, 0x4028_0004);
        assert_eq!(CELL_DESTROY, 0x4028_0005);
        assert_eq!(FORCED, 0x4010_0006);
    }

    #[test]
    fn cell_id_by_name_uses_minus_one() {
        let b = cell_id(&CellRef::Name("gic-demo".into())).unwrap();
        assert_eq!(b.len(), 40);
        assert_eq!(&b[..4], &[0xff; 4]);
        assert_eq!(&b[8..16], b"gic-demo");
        assert_eq!(b[16], 0);
        assert!(cell_id(&CellRef::Name("x".repeat(32))).is_err());
        assert_eq!(&cell_id(&CellRef::Id(3)).unwrap()[..4], &[3, 0, 0, 0]);
    }

    #[test]
    fn load_layout_has_header_then_images() {
        let data = [1u8, 2, 3];
        let b = cell_load(&CellRef::Id(1), &[Image { data: &data, target: 0x1000 }]).unwrap();
        assert_eq!(b.len(), 48 + 32);
        assert_eq!(&b[40..44], &[1, 0, 0, 0], "num_preload_images");
        assert_eq!(u64::from_le_bytes(b[48..56].try_into().unwrap()), data.as_ptr() as u64);
        assert_eq!(u64::from_le_bytes(b[56..64].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(b[64..72].try_into().unwrap()), 0x1000);
    }
}

//! Bounds-checked little-endian reads and writes on byte buffers from files.

use anyhow::{anyhow, Result};

fn field<const N: usize>(buf: &[u8], off: usize, what: &str) -> Result<[u8; N]> {
    off.checked_add(N)
        .and_then(|end| buf.get(off..end))
        .and_then(|s| s.try_into().ok())
        .ok_or_else(|| {
            anyhow!(
                "{what}: field at offset {off} lies beyond the end ({} bytes)",
                buf.len()
            )
        })
}

pub fn u16_at(buf: &[u8], off: usize, what: &str) -> Result<u16> {
    field::<2>(buf, off, what).map(u16::from_le_bytes)
}

pub fn u32_at(buf: &[u8], off: usize, what: &str) -> Result<u32> {
    field::<4>(buf, off, what).map(u32::from_le_bytes)
}

pub fn u64_at(buf: &[u8], off: usize, what: &str) -> Result<u64> {
    field::<8>(buf, off, what).map(u64::from_le_bytes)
}

pub fn put(buf: &mut [u8], off: usize, bytes: &[u8], what: &str) -> Result<()> {
    let len = buf.len();
    off.checked_add(bytes.len())
        .and_then(|end| buf.get_mut(off..end))
        .ok_or_else(|| anyhow!("{what}: offset {off} lies beyond the end ({len} bytes)"))?
        .copy_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_inside_and_refuses_outside() {
        let buf = [1u8, 0, 0, 0, 0, 0, 0, 0, 2];
        assert_eq!(u64_at(&buf, 0, "t").unwrap(), 1);
        assert_eq!(u16_at(&buf, 7, "t").unwrap(), 0x200);
        assert!(u64_at(&buf, 2, "t").is_err());
        assert!(u32_at(&buf, usize::MAX - 1, "t").is_err());
    }

    #[test]
    fn put_refuses_outside() {
        let mut buf = [0u8; 4];
        put(&mut buf, 2, &[7, 8], "t").unwrap();
        assert_eq!(buf, [0, 0, 7, 8]);
        assert!(put(&mut buf, 3, &[1, 2], "t").is_err());
    }
}

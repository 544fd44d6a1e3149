//! The arm64 `Image` header (Linux's Documentation/arch/arm64/booting.rst):
//! where the kernel wants to sit and how much memory it takes.

use anyhow::{bail, Result};

/// "ARM\x64" at offset 56.
const MAGIC: u32 = 0x644d_5241;

/// What the header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Offset from a 2 MiB aligned base at which the image is loaded.
    pub text_offset: u64,
    /// Bytes the kernel occupies from its load address (BSS included).
    pub image_size: u64,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut v = [0u8; 8];
    v.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(v)
}

/// Parses the header of `image`.
pub fn parse(image: &[u8]) -> Result<Header> {
    if image.len() < 64 {
        bail!("kernel image too short for an arm64 Image header");
    }
    let magic = u32::from_le_bytes([image[56], image[57], image[58], image[59]]);
    if magic != MAGIC {
        bail!("not an arm64 Image (no ARM\\x64 magic; a compressed vmlinuz must be unpacked first)");
    }
    let mut h = Header { text_offset: u64_at(image, 8), image_size: u64_at(image, 16) };
    // image_size 0: a kernel older than 3.17, whose text_offset is 0x80000
    // by convention and whose size is the file's (booting.rst).
    if h.image_size == 0 {
        h.text_offset = 0x8_0000;
        h.image_size = image.len() as u64;
    }
    if h.image_size < image.len() as u64 {
        bail!("Image header says {} bytes, the file has {}", h.image_size, image.len());
    }
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    pub fn fake(text_offset: u64, image_size: u64, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len.max(64)];
        v[8..16].copy_from_slice(&text_offset.to_le_bytes());
        v[16..24].copy_from_slice(&image_size.to_le_bytes());
        v[56..60].copy_from_slice(b"ARM\x64");
        v
    }

    #[test]
    fn header_fields() {
        assert_eq!(parse(&fake(0, 0x10_0000, 4096)).unwrap(), Header { text_offset: 0, image_size: 0x10_0000 });
        assert_eq!(parse(&fake(0, 0, 4096)).unwrap(), Header { text_offset: 0x8_0000, image_size: 4096 });
        assert!(parse(&[0u8; 64]).is_err());
        assert!(parse(&fake(0, 100, 4096)).is_err());
    }
}

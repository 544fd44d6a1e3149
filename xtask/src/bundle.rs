//! The bundle of files handed to a boot-first root program (contracts.md "The bundle").

use anyhow::{bail, Result};

pub const MAGIC: &[u8; 8] = b"SHBUNDL1";
/// Guest-physical load address of the bundle.
pub const LOAD_ADDR: u64 = 0x4800_0000;
/// The bundle must end below 0x4c00_0000.
pub const MAX_SIZE: usize = 64 << 20;
const ENTRY: usize = 48;
const NAME: usize = 32;
const ALIGN: usize = 4096;

/// Lays out `files` (name, contents) as a bundle.
pub fn build(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&u32::try_from(files.len())?.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let mut offset = align(16 + files.len() * ENTRY);
    for (name, data) in files {
        // One byte is kept for the NUL so readers can treat names as C strings.
        if name.is_empty() || name.len() >= NAME || name.as_bytes().contains(&0) {
            bail!("bundle: file name {name:?} must be 1..=31 bytes without NUL");
        }
        let mut field = [0u8; NAME];
        field[..name.len()].copy_from_slice(name.as_bytes());
        out.extend_from_slice(&field);
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        offset = align(offset + data.len());
    }
    for (_, data) in files {
        out.resize(align(out.len()), 0);
        out.extend_from_slice(data);
    }
    if out.len() > MAX_SIZE {
        bail!(
            "bundle: {} bytes exceed the {} MiB limit",
            out.len(),
            MAX_SIZE >> 20
        );
    }
    Ok(out)
}

fn align(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::le::{u32_at, u64_at};

    #[test]
    fn lays_out_header_entries_and_aligned_data() {
        let b = build(&[
            ("a.cell".into(), vec![1, 2, 3]),
            ("b.bin".into(), vec![9; 5000]),
        ])
        .unwrap();
        assert_eq!(&b[..8], MAGIC);
        assert_eq!(u32_at(&b, 8, "t").unwrap(), 2);
        assert_eq!(&b[16..22], b"a.cell");
        assert_eq!(b[22], 0);
        let (off_a, len_a) = (u64_at(&b, 48, "t").unwrap(), u64_at(&b, 56, "t").unwrap());
        let (off_b, len_b) = (
            u64_at(&b, 64 + 32, "t").unwrap(),
            u64_at(&b, 64 + 40, "t").unwrap(),
        );
        assert_eq!((off_a, len_a), (4096, 3));
        assert_eq!((off_b, len_b), (8192, 5000));
        assert_eq!(&b[4096..4099], &[1, 2, 3]);
        assert_eq!(b[8192 + 4999], 9);
        assert_eq!(b.len(), 8192 + 5000);
    }

    #[test]
    fn refuses_bad_names_and_oversize() {
        assert!(build(&[("x".repeat(32), vec![])]).is_err());
        assert!(build(&[(String::new(), vec![])]).is_err());
        assert!(build(&[("big".into(), vec![0; MAX_SIZE])]).is_err());
        assert!(build(&[]).is_ok());
    }
}

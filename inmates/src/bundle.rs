//! Reader of the file bundle handed to a bare-metal root program
//! (contracts.md "The bundle"): header, 48-byte entries, page-aligned data.
//! Every offset and size is checked against the bundle's bytes.

pub const MAGIC: [u8; 8] = *b"SHBUNDL1";
/// Physical address the boot loader (xtask) puts the bundle at.
pub const BUNDLE_ADDR: usize = 0x4800_0000;
/// The bundle must end below 0x4c00_0000.
pub const BUNDLE_MAX_SIZE: usize = 0x0400_0000;

const HEADER_SIZE: usize = 16;
const ENTRY_SIZE: usize = 48;
const NAME_SIZE: usize = 32;
const DATA_ALIGN: u64 = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleError {
    /// Fewer bytes than a header.
    Truncated,
    BadMagic,
    /// The entry table does not fit in the bundle.
    TableOutOfBounds {
        count: u32,
    },
    /// Entry `index`'s data does not lie inside the bundle.
    DataOutOfBounds {
        index: usize,
    },
    /// Entry `index`'s data does not start on a 4096-byte boundary.
    Misaligned {
        index: usize,
    },
    /// Entry `index`'s name is not UTF-8.
    BadName {
        index: usize,
    },
}

impl core::fmt::Display for BundleError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BundleError::Truncated => f.write_str("bundle shorter than its header"),
            BundleError::BadMagic => f.write_str("bundle magic is not SHBUNDL1"),
            BundleError::TableOutOfBounds { count } => {
                write!(f, "table of {count} entries exceeds the bundle")
            }
            BundleError::DataOutOfBounds { index } => {
                write!(f, "entry {index}: data exceeds the bundle")
            }
            BundleError::Misaligned { index } => {
                write!(f, "entry {index}: data offset not 4096-aligned")
            }
            BundleError::BadName { index } => write!(f, "entry {index}: name is not UTF-8"),
        }
    }
}

/// One file of the bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleFile<'a> {
    pub name: &'a str,
    /// Offset of the data from the bundle start.
    pub offset: usize,
    pub data: &'a [u8],
}

/// A validated bundle.
#[derive(Debug, Clone, Copy)]
pub struct Bundle<'a> {
    bytes: &'a [u8],
    count: usize,
}

/// True when `bytes` starts with the bundle magic.
pub fn has_magic(bytes: &[u8]) -> bool {
    bytes.get(..MAGIC.len()) == Some(&MAGIC[..])
}

fn u32_at(bytes: &[u8], off: usize) -> Option<u32> {
    let b = bytes.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(bytes: &[u8], off: usize) -> Option<u64> {
    let b = bytes.get(off..off.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

impl<'a> Bundle<'a> {
    /// Validates the header and every entry of the bundle in `bytes` (which
    /// may extend past the bundle's end).
    pub fn parse(bytes: &'a [u8]) -> Result<Self, BundleError> {
        if bytes.len() < HEADER_SIZE {
            return Err(BundleError::Truncated);
        }
        if !has_magic(bytes) {
            return Err(BundleError::BadMagic);
        }
        let count32 = u32_at(bytes, 8).ok_or(BundleError::Truncated)?;
        let count = count32 as usize;
        let table_end = count
            .checked_mul(ENTRY_SIZE)
            .and_then(|t| t.checked_add(HEADER_SIZE))
            .ok_or(BundleError::TableOutOfBounds { count: count32 })?;
        if table_end > bytes.len() {
            return Err(BundleError::TableOutOfBounds { count: count32 });
        }
        let bundle = Self { bytes, count };
        for index in 0..count {
            bundle.entry(index)?;
        }
        Ok(bundle)
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    fn entry(&self, index: usize) -> Result<BundleFile<'a>, BundleError> {
        let oob = BundleError::DataOutOfBounds { index };
        let base = HEADER_SIZE + index * ENTRY_SIZE;
        let raw_name = self.bytes.get(base..base + NAME_SIZE).ok_or(oob)?;
        let name_len = raw_name.iter().position(|&b| b == 0).unwrap_or(NAME_SIZE);
        let name = core::str::from_utf8(&raw_name[..name_len])
            .map_err(|_| BundleError::BadName { index })?;
        let offset = u64_at(self.bytes, base + NAME_SIZE).ok_or(oob)?;
        let size = u64_at(self.bytes, base + NAME_SIZE + 8).ok_or(oob)?;
        if offset % DATA_ALIGN != 0 {
            return Err(BundleError::Misaligned { index });
        }
        let start = usize::try_from(offset).map_err(|_| oob)?;
        let end = usize::try_from(size)
            .ok()
            .and_then(|s| start.checked_add(s))
            .ok_or(oob)?;
        let data = self.bytes.get(start..end).ok_or(oob)?;
        Ok(BundleFile {
            name,
            offset: start,
            data,
        })
    }

    /// File `index` (0-based), if it exists.
    pub fn get(&self, index: usize) -> Option<BundleFile<'a>> {
        if index < self.count {
            self.entry(index).ok()
        } else {
            None
        }
    }

    /// The first file called `name`.
    pub fn find(&self, name: &str) -> Option<BundleFile<'a>> {
        self.files().find(|f| f.name == name)
    }

    pub fn files(&self) -> impl Iterator<Item = BundleFile<'a>> + '_ {
        (0..self.count).filter_map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&(files.len() as u32).to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let mut offset = (HEADER_SIZE + files.len() * ENTRY_SIZE).next_multiple_of(4096);
        let mut data = Vec::new();
        for (name, content) in files {
            let mut n = [0u8; NAME_SIZE];
            n[..name.len()].copy_from_slice(name.as_bytes());
            out.extend_from_slice(&n);
            out.extend_from_slice(&(offset as u64).to_le_bytes());
            out.extend_from_slice(&(content.len() as u64).to_le_bytes());
            data.push((offset, *content));
            offset = (offset + content.len()).next_multiple_of(4096);
        }
        for (off, content) in data {
            out.resize(off, 0);
            out.extend_from_slice(content);
        }
        out
    }

    #[test]
    fn finds_files_by_name() {
        let raw = build(&[("gic-demo.cell", b"JHCLL..."), ("gic-demo.bin", &[1, 2, 3])]);
        let b = Bundle::parse(&raw).unwrap();
        assert_eq!(b.len(), 2);
        let f = b.find("gic-demo.bin").unwrap();
        assert_eq!(f.data, &[1, 2, 3]);
        assert_eq!(f.offset % 4096, 0);
        assert_eq!(b.find("gic-demo.cell").unwrap().data, b"JHCLL...");
        assert!(b.find("missing").is_none());
        assert_eq!(b.files().count(), 2);
    }

    #[test]
    fn accepts_trailing_bytes_and_empty_bundle() {
        let mut raw = build(&[]);
        raw.extend_from_slice(&[0xff; 100]);
        assert!(Bundle::parse(&raw).unwrap().is_empty());
    }

    #[test]
    fn rejects_bad_headers() {
        assert_eq!(
            Bundle::parse(b"SHBUNDL1").unwrap_err(),
            BundleError::Truncated
        );
        let mut raw = build(&[]);
        raw[0] = b'X';
        assert_eq!(Bundle::parse(&raw).unwrap_err(), BundleError::BadMagic);
        let mut raw = build(&[]);
        raw[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Bundle::parse(&raw).unwrap_err(),
            BundleError::TableOutOfBounds { count: u32::MAX }
        );
    }

    #[test]
    fn rejects_bad_entries() {
        let good = build(&[("a", &[7; 10])]);
        let field = HEADER_SIZE + NAME_SIZE;

        let mut raw = good.clone();
        raw[field + 8..field + 16].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(
            Bundle::parse(&raw).unwrap_err(),
            BundleError::DataOutOfBounds { index: 0 }
        );

        let mut raw = good.clone();
        raw[field..field + 8].copy_from_slice(&(u64::MAX - 4095).to_le_bytes());
        assert_eq!(
            Bundle::parse(&raw).unwrap_err(),
            BundleError::DataOutOfBounds { index: 0 }
        );

        let mut raw = good.clone();
        raw[field..field + 8].copy_from_slice(&8u64.to_le_bytes());
        assert_eq!(
            Bundle::parse(&raw).unwrap_err(),
            BundleError::Misaligned { index: 0 }
        );

        let mut raw = good;
        raw[HEADER_SIZE] = 0xff;
        assert_eq!(
            Bundle::parse(&raw).unwrap_err(),
            BundleError::BadName { index: 0 }
        );
    }

    #[test]
    fn full_length_name_has_no_nul() {
        let name = "n".repeat(NAME_SIZE);
        let raw = build(&[(&name, b"x")]);
        assert_eq!(Bundle::parse(&raw).unwrap().get(0).unwrap().name, name);
    }
}

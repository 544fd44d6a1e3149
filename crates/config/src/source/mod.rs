//! The TOML source format: `compile` turns it into a `.cell` file, `show`
//! turns any valid `.cell` file back into it, byte for byte.

mod convert;
pub mod model;
pub mod units;

use crate::owned::{CellBuf, SystemBuf};
use crate::{CellConfig, ConfigError, Kind, SystemConfig};
use std::fmt;

pub use model::Document;

/// A problem in a TOML source or a `.cell` file, as one line of text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceError(String);

impl SourceError {
    pub fn new(msg: impl Into<String>) -> Self {
        Self(msg.into())
    }
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SourceError {}

impl From<ConfigError> for SourceError {
    fn from(e: ConfigError) -> Self {
        Self(e.to_string())
    }
}

/// Builds the binary configuration described by a TOML text and validates it.
pub fn compile(text: &str) -> Result<Vec<u8>, SourceError> {
    // toml's messages span several lines (with a source excerpt); keep them
    // on one line as the tools print one line per error.
    let doc: Document = toml::from_str(text).map_err(|e| {
        SourceError::new(
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    })?;
    compile_document(&doc)
}

/// Builds and validates the binary form of a parsed document.
pub fn compile_document(doc: &Document) -> Result<Vec<u8>, SourceError> {
    let bytes = match &doc.system {
        Some(sys) => {
            let bytes = convert::system_from_toml(sys, &doc.cell)?.to_bytes()?;
            SystemConfig::parse_exact(&bytes)?;
            bytes
        }
        None => {
            let bytes = convert::cell_from_toml(&doc.cell, true)?.to_bytes()?;
            CellConfig::parse_exact(&bytes)?;
            bytes
        }
    };
    Ok(bytes)
}

/// Decodes and validates a `.cell` file (system or cell) into the model.
pub fn decode(bytes: &[u8]) -> Result<Document, SourceError> {
    match crate::kind_of(bytes) {
        Some(Kind::System) => {
            let sys = SystemConfig::parse_exact(bytes)?;
            Ok(convert::system_to_toml(&SystemBuf::from_config(&sys)))
        }
        Some(Kind::Cell) => {
            let cell = CellConfig::parse_exact(bytes)?;
            Ok(Document {
                system: None,
                // Without the system, an id with its high half set is most
                // likely an MMU-500 id/mask pair (SMMUv3 ids are smaller).
                cell: convert::cell_to_toml(&CellBuf::from_config(&cell), true),
            })
        }
        None => {
            let found = bytes.get(..5).unwrap_or(bytes);
            Err(SourceError::new(format!(
                "header: signature {} found, JHSYS (system) or JHCLL (cell) expected",
                found.escape_ascii()
            )))
        }
    }
}

/// Prints a document as TOML.
pub fn to_toml(doc: &Document) -> Result<String, SourceError> {
    toml::to_string(doc).map_err(|e| SourceError::new(format!("cannot print TOML: {e}")))
}

/// `decode` followed by `to_toml`, with a header comment.
pub fn show(bytes: &[u8]) -> Result<String, SourceError> {
    let doc = decode(bytes)?;
    let kind = if doc.system.is_some() {
        "system"
    } else {
        "cell"
    };
    Ok(format!(
        "# sysHyper {kind} configuration (Jailhouse .cell revision {})\n{}",
        crate::flags::REVISION,
        name_streams(&to_toml(&doc)?)
    ))
}

/// After a `stream_ids` line of plain numbers, a comment naming each as
/// the PCI function it is when read as a requester id (bus << 8 |
/// device << 3 | function: the stream id of a PCI device behind an
/// SMMUv3), e.g. `# 0x8 = 00:01.0`.
fn name_streams(toml: &str) -> String {
    let mut out = String::with_capacity(toml.len());
    for line in toml.lines() {
        out.push_str(line);
        out.push('\n');
        let Some(list) = line.strip_prefix("stream_ids = [").and_then(|l| l.strip_suffix(']')) else { continue };
        let ids: Option<Vec<u32>> = list
            .split(',')
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(|x| match x.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None => x.parse().ok(),
            })
            .collect();
        if let Some(ids) = ids.filter(|v| !v.is_empty()) {
            let names: Vec<String> = ids
                .iter()
                .map(|&i| format!("{i:#x} = {:02x}:{:02x}.{}", (i >> 8) & 0xff, (i >> 3) & 0x1f, i & 7))
                .collect();
            out.push_str(&format!("# as PCI requester ids (SMMUv3 stream ids): {}\n", names.join(", ")));
        }
    }
    out
}

#[cfg(test)]
mod stream_name_tests {
    #[test]
    fn plain_stream_ids_are_named_as_pci_functions() {
        let t = super::name_streams("[cell]\nstream_ids = [8, 16, 0x109]\nname = \"x\"\n");
        assert!(t.contains("# as PCI requester ids (SMMUv3 stream ids): 0x8 = 00:01.0, 0x10 = 00:02.0, 0x109 = 01:01.1\nname"), "{t}");
        // Anything but plain numbers (MMU-500 id/mask pairs) is left alone.
        let t = super::name_streams("stream_ids = [{ id = 1, mask = 2 }]\n");
        assert!(!t.contains('#'), "{t}");
    }
}

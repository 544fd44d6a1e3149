//! `--cell NAME`: the bundle entries that make the hypervisor create, load
//! and start a cell at boot (hypervisor/src/boot_cells.rs): `cell:NAME` is
//! the compiled config, `image:NAME:<hex>` the inmate image at the config's
//! first LOADABLE region's guest address.

use crate::le::{u16_at, u32_at, u64_at};
use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

const CELL_DESC_SIZE: usize = 132;
const REGION_SIZE: usize = 32;
const LOADABLE: u64 = 0x40;
const REVISION: u16 = 14;

/// Guest-physical start of the first LOADABLE memory region of a cell config
/// (`jailhouse_cell_desc`, revision 14).
pub fn first_loadable_addr(cfg: &[u8]) -> Result<u64> {
    const W: &str = "cell config";
    if cfg.get(..5) != Some(b"JHCLL".as_slice()) {
        bail!("{W}: signature is not \"JHCLL\" (a system config?)");
    }
    let revision = u16_at(cfg, 6, W)?;
    if revision != REVISION {
        bail!("{W}: revision {revision}, expected {REVISION}");
    }
    let cpu_set_size = u32_at(cfg, 48, W)? as usize;
    let regions = u32_at(cfg, 52, W)? as usize;
    let first = CELL_DESC_SIZE
        .checked_add(cpu_set_size)
        .context("cell config: cpu_set_size overflows")?;
    for i in 0..regions {
        let at = i
            .checked_mul(REGION_SIZE)
            .and_then(|o| o.checked_add(first))
            .context("cell config: memory regions overflow")?;
        if u64_at(cfg, at + 24, W)? & LOADABLE != 0 {
            return u64_at(cfg, at + 8, W);
        }
    }
    bail!("{W}: no LOADABLE memory region to load an image into")
}

/// Bundle entries (name in the bundle, file) for the boot cells `names`,
/// from `configs/NAME.cell` and `inmates/NAME.bin`.
pub fn bundle_entries(
    names: &[String],
    configs: &Path,
    inmates: &Path,
) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for (i, name) in names.iter().enumerate() {
        if name.is_empty() || name.contains([':', '/', '\0']) {
            bail!("--cell {name:?}: a cell name must be non-empty without ':', '/' or NUL");
        }
        if names[..i].contains(name) {
            bail!("--cell {name} is given twice");
        }
        let cfg = configs.join(format!("{name}.cell"));
        let image = inmates.join(format!("{name}.bin"));
        let bytes = std::fs::read(&cfg)
            .with_context(|| format!("--cell {name}: cannot read {}", cfg.display()))?;
        let addr = first_loadable_addr(&bytes)
            .with_context(|| format!("--cell {name}: {}", cfg.display()))?;
        if !image.is_file() {
            bail!(
                "--cell {name}: the image {} is missing (cargo xtask build makes inmates/<name>.bin)",
                image.display()
            );
        }
        out.push((format!("cell:{name}"), cfg));
        out.push((format!("image:{name}:{addr:x}"), image));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cell config with a 8-byte cpu_set and `regions` as (virt, flags).
    fn cell(regions: &[(u64, u64)]) -> Vec<u8> {
        let mut c = vec![0u8; CELL_DESC_SIZE + 8];
        c[..5].copy_from_slice(b"JHCLL");
        c[6..8].copy_from_slice(&REVISION.to_le_bytes());
        c[48..52].copy_from_slice(&8u32.to_le_bytes());
        c[52..56].copy_from_slice(&(regions.len() as u32).to_le_bytes());
        for (virt, flags) in regions {
            let mut r = [0u8; REGION_SIZE];
            r[8..16].copy_from_slice(&virt.to_le_bytes());
            r[24..32].copy_from_slice(&flags.to_le_bytes());
            c.extend_from_slice(&r);
        }
        c
    }

    #[test]
    fn finds_the_first_loadable_region() {
        assert_eq!(
            first_loadable_addr(&cell(&[(0x8000_0000, 0x23), (0, 0x47), (0x1000, 0x43)])).unwrap(),
            0
        );
        assert_eq!(
            first_loadable_addr(&cell(&[(0x9000, 0x43)])).unwrap(),
            0x9000
        );
        assert!(first_loadable_addr(&cell(&[(0, 0x3)])).is_err());
    }

    #[test]
    fn refuses_bad_configs() {
        let good = cell(&[(0, 0x47)]);
        assert!(
            first_loadable_addr(&good[..good.len() - 1]).is_err(),
            "truncated region"
        );
        let mut c = good.clone();
        c[0] = b'X';
        assert!(first_loadable_addr(&c).is_err());
        let mut c = good.clone();
        c[6] = 12;
        assert!(first_loadable_addr(&c).is_err());
        let mut c = good;
        c[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
        c[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(first_loadable_addr(&c).is_err());
    }

    #[test]
    fn names_entries_for_the_hypervisor() {
        let dir = std::env::temp_dir().join(format!("xtask-bootcells-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("demo.cell"), cell(&[(0x2000, 0x47)])).unwrap();
        std::fs::write(dir.join("demo.bin"), b"code").unwrap();
        let e = bundle_entries(&["demo".into()], &dir, &dir).unwrap();
        assert_eq!(
            e,
            vec![
                ("cell:demo".into(), dir.join("demo.cell")),
                ("image:demo:2000".into(), dir.join("demo.bin"))
            ]
        );
        assert!(bundle_entries(&["demo".into(), "demo".into()], &dir, &dir).is_err());
        assert!(bundle_entries(&["a:b".into()], &dir, &dir).is_err());
        assert!(bundle_entries(&["missing".into()], &dir, &dir).is_err());
        std::fs::remove_file(dir.join("demo.bin")).unwrap();
        assert!(bundle_entries(&["demo".into()], &dir, &dir).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

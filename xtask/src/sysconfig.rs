//! The few fields of a system configuration (.cell, revision 14,
//! jailhouse-abi.md §4) that a boot loader needs, read with bounds checks.

use crate::le::{u16_at, u32_at, u64_at};
use anyhow::{bail, Result};

const SYSTEM_SIZE: usize = 488;
const ROOT_CELL: usize = 356;
const REVISION: u16 = 14;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemInfo {
    pub hv_phys_start: u64,
    pub hv_size: u64,
    pub cpu_reset_address: u64,
    /// Root cell CPUs, ascending.
    pub root_cpus: Vec<u32>,
}

impl SystemInfo {
    pub fn parse(cfg: &[u8]) -> Result<Self> {
        const W: &str = "system config";
        if cfg.get(..5) != Some(b"JHSYS".as_slice()) {
            bail!("{W}: signature is not \"JHSYS\" (is this a cell config rather than a system config?)");
        }
        let revision = u16_at(cfg, 6, W)?;
        if revision != REVISION {
            bail!("{W}: revision {revision}, expected {REVISION}");
        }
        let cpu_set_size = u32_at(cfg, ROOT_CELL + 48, W)? as usize;
        let set = SYSTEM_SIZE
            .checked_add(cpu_set_size)
            .and_then(|end| cfg.get(SYSTEM_SIZE..end))
            .ok_or_else(|| {
                anyhow::anyhow!("{W}: root cpu_set ({cpu_set_size} bytes) lies beyond the end")
            })?;
        let root_cpus: Vec<u32> = (0..set.len() * 8)
            .filter(|&bit| set[bit / 8] & (1 << (bit % 8)) != 0)
            .filter_map(|bit| u32::try_from(bit).ok())
            .collect();
        if root_cpus.is_empty() {
            bail!("{W}: the root cell has no CPUs");
        }
        Ok(SystemInfo {
            hv_phys_start: u64_at(cfg, 12, W)?,
            hv_size: u64_at(cfg, 12 + 16, W)?,
            cpu_reset_address: u64_at(cfg, ROOT_CELL + 84, W)?,
            root_cpus,
        })
    }

    /// Highest root CPU + 1, as the driver computes it.
    pub fn max_cpus(&self) -> u32 {
        self.root_cpus.last().map_or(0, |c| c + 1)
    }

    /// Number of root CPUs (all of them are "online" in boot-first mode).
    pub fn online_cpus(&self) -> u32 {
        self.root_cpus.len() as u32
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A system config with hypervisor memory at 0x7fc00000 (4 MiB), root CPUs
    /// from `cpus`, reset address 0x40000000.
    pub fn fake_config(cpus: u8) -> Vec<u8> {
        let mut c = vec![0u8; SYSTEM_SIZE + 8];
        c[..5].copy_from_slice(b"JHSYS");
        c[5] = 2;
        c[6..8].copy_from_slice(&REVISION.to_le_bytes());
        c[12..20].copy_from_slice(&0x7fc0_0000u64.to_le_bytes());
        c[28..36].copy_from_slice(&0x40_0000u64.to_le_bytes());
        c[ROOT_CELL..ROOT_CELL + 5].copy_from_slice(b"JHCLL");
        c[ROOT_CELL + 48..ROOT_CELL + 52].copy_from_slice(&8u32.to_le_bytes());
        c[ROOT_CELL + 84..ROOT_CELL + 92].copy_from_slice(&0x4000_0000u64.to_le_bytes());
        c[SYSTEM_SIZE] = cpus;
        c
    }

    #[test]
    fn reads_the_boot_fields() {
        let info = SystemInfo::parse(&fake_config(0b1011)).unwrap();
        assert_eq!(info.hv_phys_start, 0x7fc0_0000);
        assert_eq!(info.hv_size, 0x40_0000);
        assert_eq!(info.cpu_reset_address, 0x4000_0000);
        assert_eq!(info.root_cpus, vec![0, 1, 3]);
        assert_eq!(info.max_cpus(), 4);
        assert_eq!(info.online_cpus(), 3);
    }

    #[test]
    fn refuses_truncated_wrong_signature_revision_and_empty_set() {
        let good = fake_config(1);
        assert!(SystemInfo::parse(&good[..SYSTEM_SIZE + 4]).is_err());
        assert!(SystemInfo::parse(&good[..100]).is_err());
        let mut c = good.clone();
        c[0] = b'X';
        assert!(SystemInfo::parse(&c).is_err());
        let mut c = good.clone();
        c[6] = 12;
        assert!(SystemInfo::parse(&c).is_err());
        assert!(SystemInfo::parse(&fake_config(0)).is_err());
        let mut c = good;
        c[ROOT_CELL + 48..ROOT_CELL + 52].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(SystemInfo::parse(&c).is_err());
    }
}

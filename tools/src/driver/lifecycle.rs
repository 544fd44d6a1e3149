//! Cooperative shutdown as the tool sees it (docs/lifecycle.md): `--force`
//! (sysHyper extension: the FORCED ioctl wraps Jailhouse's), and one clear
//! line when a cell refuses, names it and says how to override.

use super::ioctl::{self, CellRef, Device};
use super::sysfs;
use rustix::io::Errno;
use rustix::ioctl::Opcode;

/// Removes every `--force` from a hand-parsed argument list.
pub fn take_force(args: &[String]) -> (bool, Vec<String>) {
    let rest: Vec<String> = args.iter().filter(|a| *a != "--force").cloned().collect();
    (rest.len() != args.len(), rest)
}

/// `struct sh_forced` {u32 nr; u32 pad; u64 arg}: Jailhouse's ioctl
/// `opcode` with its argument at `arg`.
pub fn forced(opcode: Opcode, arg: Option<&[u8]>) -> Vec<u8> {
    let nr: u32 = opcode & 0xff;
    let mut out = nr.to_le_bytes().to_vec();
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&(arg.map_or(0, |a| a.as_ptr() as u64)).to_le_bytes());
    out
}

/// Issues `opcode` (forced if `force`); a refusal by the cells becomes one
/// line naming the cell; other errors go to `explain`.
pub fn call(what: &str, opcode: Opcode, arg: Option<&[u8]>, force: bool, cell: Option<&CellRef>) -> anyhow::Result<()> {
    let dev = Device::open()?;
    let r = if force {
        let f = forced(opcode, arg);
        dev.call(ioctl::FORCED, Some(&f))
    } else {
        dev.call(opcode, arg)
    };
    r.map_err(|e| {
        let cells = sysfs::root().and_then(|r| sysfs::cells(&r)).unwrap_or_default();
        anyhow::anyhow!(refusal(what, e, cell, &cells).unwrap_or_else(|| super::explain(what, e)))
    })
}

/// The line for a refusal by the cells, if `e` is one (EPERM: a cell
/// denied or one is locked; ETIMEDOUT: no answer). `cells`: what sysfs
/// shows now.
pub fn refusal(what: &str, e: Errno, cell: Option<&CellRef>, cells: &[sysfs::Cell]) -> Option<String> {
    // `disable` in boot-first mode is EPERM too, before any cell is
    // asked: `explain` names both causes.
    if e != Errno::PERM && e != Errno::TIMEDOUT || what == "disable" && e == Errno::PERM {
        return None;
    }
    let target = cell.and_then(|c| {
        cells.iter().find(|x| match c {
            CellRef::Id(id) => x.id == *id,
            CellRef::Name(n) => &x.name == n,
        })
    });
    let name = |c: &sysfs::Cell| format!("cell \"{}\" (id {})", c.name, c.id);
    let this = target.map_or_else(|| "a cell".to_string(), name);
    if e == Errno::TIMEDOUT {
        return Some(format!(
            "{what} failed: {this} did not answer the shutdown request in time and keeps running; --force stops it anyway"
        ));
    }
    let locked = cells.iter().find(|c| c.id != 0 && c.state == "running/locked" && Some(c.id) != target.map(|t| t.id));
    Some(match locked {
        Some(l) => format!(
            "{what} failed: {} is locked (running/locked): no cell can be created, loaded or destroyed meanwhile; --force overrides",
            name(l)
        ),
        None => format!("{what} failed: {this} denied the shutdown request; --force overrides"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn c(id: u32, name: &str, state: &str) -> sysfs::Cell {
        sysfs::Cell {
            id,
            name: name.into(),
            state: state.into(),
            cpus: String::new(),
            failed: String::new(),
            restarts: "0".into(),
            dma_faults: "0".into(),
            dma_unconfined: "0".into(),
            dir: PathBuf::new(),
        }
    }

    #[test]
    fn force_is_taken_anywhere() {
        let v = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(take_force(&v(&["--force", "1"])), (true, v(&["1"])));
        assert_eq!(take_force(&v(&["gic-demo", "--force"])), (true, v(&["gic-demo"])));
        assert_eq!(take_force(&v(&["gic-demo"])), (false, v(&["gic-demo"])));
    }

    #[test]
    fn forced_wraps_the_opcode_number_and_pointer() {
        let inner = [0u8; 40];
        let b = forced(ioctl::CELL_DESTROY, Some(&inner));
        assert_eq!(b.len(), 16);
        assert_eq!(&b[..4], &[5, 0, 0, 0]);
        assert_eq!(u64::from_le_bytes(b[8..16].try_into().unwrap()), inner.as_ptr() as u64);
        assert_eq!(&forced(ioctl::DISABLE, None)[..], &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn refusals_name_the_cell_and_the_override() {
        let cells = [c(0, "QEMU-VIRT", "running"), c(1, "deny", "running"), c(2, "lock", "running/locked")];
        let m = refusal("cell destroy", Errno::PERM, Some(&CellRef::Name("lock".into())), &cells[..2]).unwrap();
        assert!(m.contains("denied") && m.contains("--force") && !m.contains('\n'), "{m}");
        let m = refusal("cell destroy", Errno::PERM, Some(&CellRef::Id(1)), &cells).unwrap();
        assert!(m.contains("cell \"lock\" (id 2) is locked") && m.contains("--force"), "{m}");
        let m = refusal("cell destroy", Errno::PERM, Some(&CellRef::Id(2)), &cells).unwrap();
        assert!(m.contains("cell \"lock\" (id 2) denied"), "{m}");
        let m = refusal("cell shutdown", Errno::TIMEDOUT, Some(&CellRef::Name("deny".into())), &cells).unwrap();
        assert!(m.contains("cell \"deny\" (id 1) did not answer") && m.contains("--force"), "{m}");
        assert!(refusal("cell start", Errno::NOENT, None, &cells).is_none());
        assert!(refusal("disable", Errno::PERM, None, &cells).is_none());
        assert!(refusal("disable", Errno::TIMEDOUT, None, &cells).unwrap().contains("a cell did not answer"));
    }
}

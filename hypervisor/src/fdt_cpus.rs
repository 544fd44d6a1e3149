//! The CPUs a flattened device tree lists: the MPIDR of each `/cpus/cpu@…`
//! node (its `reg`), in tree order. A boot-first start has no Linux to
//! number the CPUs; the boot loader's device tree (the root's x0) is the
//! platform's own statement of which CPUs exist and their affinities, as
//! it is for Linux, so the hypervisor numbers them the way Linux does:
//! index 0 is the CPU that booted, the others follow in tree order.
//!
//! Pure parsing over bytes (host-tested); the caller copies the header and
//! the structure and strings blocks out of guest memory.

/// `FDT_MAGIC`, big-endian at offset 0.
const MAGIC: u32 = 0xd00d_feed;
const BEGIN_NODE: u32 = 1;
const END_NODE: u32 = 2;
const PROP: u32 = 3;
const NOP: u32 = 4;
const END: u32 = 9;
/// Bytes of the header fields read here.
pub const HEADER_SIZE: usize = 40;

/// Where the blocks are, from the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Blocks {
    /// Offset and size of the structure block.
    pub structs: (u32, u32),
    /// Offset and size of the strings block.
    pub strings: (u32, u32),
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    s.try_into().ok().map(u32::from_be_bytes)
}

/// The blocks of the tree whose first [`HEADER_SIZE`] bytes are `hdr`;
/// `None` if it is no device tree or the blocks lie outside `totalsize`.
pub fn blocks(hdr: &[u8]) -> Option<Blocks> {
    if be32(hdr, 0)? != MAGIC {
        return None;
    }
    let total = be32(hdr, 4)?;
    let structs = (be32(hdr, 8)?, be32(hdr, 36)?);
    let strings = (be32(hdr, 12)?, be32(hdr, 32)?);
    let inside = |(off, len): (u32, u32)| off.checked_add(len).is_some_and(|e| e <= total);
    (inside(structs) && inside(strings)).then_some(Blocks { structs, strings })
}

fn cstr(b: &[u8], at: usize) -> Option<&[u8]> {
    let rest = b.get(at..)?;
    let n = rest.iter().position(|&c| c == 0)?;
    rest.get(..n)
}

fn align4(n: usize) -> Option<usize> {
    Some(n.checked_add(3)? & !3)
}

/// Writes the MPIDR (the `reg` value, 1 or 2 cells per `/cpus`'s
/// `#address-cells`) of each CPU node under `/cpus` into `out`, in tree
/// order, and returns how many; `None` for a malformed tree. Nodes whose
/// `device_type` is not "cpu" (cpu-map, caches) are skipped; more CPUs
/// than `out` holds are left out.
pub fn cpu_mpidrs(structs: &[u8], strings: &[u8], out: &mut [u64]) -> Option<usize> {
    let mut at = 0usize;
    let mut depth = 0u32;
    let mut in_cpus = false;
    let mut addr_cells = 2u32;
    // The CPU node being read: (its reg, whether device_type is "cpu").
    let mut node: Option<(Option<u64>, bool)> = None;
    let mut n = 0usize;
    loop {
        let token = be32(structs, at)?;
        at = at.checked_add(4)?;
        match token {
            BEGIN_NODE => {
                let name = cstr(structs, at)?;
                at = align4(at.checked_add(name.len())?.checked_add(1)?)?;
                depth = depth.checked_add(1)?;
                if depth == 2 && name == b"cpus" {
                    in_cpus = true;
                } else if in_cpus && depth == 3 {
                    node = Some((None, false));
                }
            }
            END_NODE => {
                if in_cpus && depth == 3 {
                    if let Some((Some(reg), true)) = node.take() {
                        if let Some(slot) = out.get_mut(n) {
                            *slot = reg;
                            n = n.checked_add(1)?;
                        }
                    }
                } else if in_cpus && depth == 2 {
                    in_cpus = false;
                }
                depth = depth.checked_sub(1)?;
            }
            PROP => {
                let len = be32(structs, at)? as usize;
                let nameoff = be32(structs, at.checked_add(4)?)? as usize;
                let val_at = at.checked_add(8)?;
                let val = structs.get(val_at..val_at.checked_add(len)?)?;
                at = align4(val_at.checked_add(len)?)?;
                let name = cstr(strings, nameoff)?;
                if in_cpus && depth == 2 && name == b"#address-cells" {
                    addr_cells = be32(val, 0)?;
                } else if let (true, 3, Some(cur)) = (in_cpus, depth, node.as_mut()) {
                    if name == b"device_type" {
                        cur.1 = cstr(val, 0) == Some(b"cpu");
                    } else if name == b"reg" {
                        cur.0 = match addr_cells {
                            1 => Some(u64::from(be32(val, 0)?)),
                            2 => Some(u64::from(be32(val, 0)?) << 32 | u64::from(be32(val, 4)?)),
                            _ => return None,
                        };
                    }
                }
            }
            NOP => {}
            END => return Some(n),
            _ => return None,
        }
    }
}

/// The CPU index → MPIDR table of a boot-first start: `boot` (the booting
/// CPU's own MPIDR_EL1) at index 0, then the tree's other CPUs in order.
/// Affinity bits only are compared (MPIDR_EL1 has RES1 and MT/U bits the
/// tree's `reg` leaves out). Returns the number of entries; a tree that
/// does not list the booting CPU gives just it.
pub fn boot_order(tree: &[u64], boot: u64, out: &mut [u64]) -> usize {
    const AFF: u64 = 0xff_00ff_ffff;
    let Some(first) = out.first_mut() else { return 0 };
    *first = boot & AFF;
    if !tree.iter().any(|&m| m & AFF == boot & AFF) {
        return 1;
    }
    let others = tree.iter().filter(|&&m| m & AFF != boot & AFF);
    let mut n = 1;
    for (slot, &m) in out.iter_mut().skip(1).zip(others) {
        *slot = m & AFF;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a device tree: `/cpus` with `#address-cells = cells` and one
    /// node per (name, device_type, reg), plus an unrelated node.
    fn tree(cells: u32, cpus: &[(&str, &str, u64)]) -> Vec<u8> {
        let mut strings = Vec::new();
        let mut names = std::collections::HashMap::new();
        let mut off = |s: &str, strings: &mut Vec<u8>| {
            *names.entry(s.to_string()).or_insert_with(|| {
                let o = strings.len() as u32;
                strings.extend_from_slice(s.as_bytes());
                strings.push(0);
                o
            })
        };
        let mut st = Vec::new();
        let word = |st: &mut Vec<u8>, w: u32| st.extend_from_slice(&w.to_be_bytes());
        let begin = |st: &mut Vec<u8>, name: &str| {
            st.extend_from_slice(&BEGIN_NODE.to_be_bytes());
            st.extend_from_slice(name.as_bytes());
            st.push(0);
            while !st.len().is_multiple_of(4) {
                st.push(0);
            }
        };
        let prop = |st: &mut Vec<u8>, nameoff: u32, val: &[u8]| {
            st.extend_from_slice(&PROP.to_be_bytes());
            st.extend_from_slice(&(val.len() as u32).to_be_bytes());
            st.extend_from_slice(&nameoff.to_be_bytes());
            st.extend_from_slice(val);
            while !st.len().is_multiple_of(4) {
                st.push(0);
            }
        };
        begin(&mut st, "");
        let o = off("#address-cells", &mut strings);
        prop(&mut st, o, &2u32.to_be_bytes());
        begin(&mut st, "memory@40000000");
        let o = off("reg", &mut strings);
        prop(&mut st, o, &[0, 0, 0, 0, 0x40, 0, 0, 0]);
        word(&mut st, END_NODE);
        begin(&mut st, "cpus");
        let o = off("#address-cells", &mut strings);
        prop(&mut st, o, &cells.to_be_bytes());
        for (name, ty, reg) in cpus {
            begin(&mut st, name);
            word(&mut st, NOP);
            let o = off("device_type", &mut strings);
            prop(&mut st, o, format!("{ty}\0").as_bytes());
            let o = off("reg", &mut strings);
            let v = if cells == 1 { (*reg as u32).to_be_bytes().to_vec() } else { reg.to_be_bytes().to_vec() };
            prop(&mut st, o, &v);
            word(&mut st, END_NODE);
        }
        word(&mut st, END_NODE);
        word(&mut st, END_NODE);
        word(&mut st, END);
        let off_struct = HEADER_SIZE as u32;
        let off_strings = off_struct + st.len() as u32;
        let total = off_strings + strings.len() as u32;
        let mut blob = Vec::new();
        for w in [MAGIC, total, off_struct, off_strings, 0x28, 17, 16, 0, strings.len() as u32, st.len() as u32] {
            blob.extend_from_slice(&w.to_be_bytes());
        }
        blob.extend_from_slice(&st);
        blob.extend_from_slice(&strings);
        blob
    }

    fn parse(blob: &[u8], out: &mut [u64]) -> Option<usize> {
        let b = blocks(blob.get(..HEADER_SIZE)?)?;
        let s = blob.get(b.structs.0 as usize..(b.structs.0 + b.structs.1) as usize)?;
        let t = blob.get(b.strings.0 as usize..(b.strings.0 + b.strings.1) as usize)?;
        cpu_mpidrs(s, t, out)
    }

    #[test]
    fn cpu_nodes_in_tree_order_with_two_cells() {
        let blob = tree(2, &[("cpu@0", "cpu", 0x0), ("cpu@100", "cpu", 0x100), ("cpu@1", "cpu", 0x1), ("cpu-map", "x", 0)]);
        let mut out = [0u64; 8];
        assert_eq!(parse(&blob, &mut out), Some(3));
        assert_eq!(&out[..3], &[0x0, 0x100, 0x1]);
    }

    #[test]
    fn one_cell_reg_and_aff3() {
        let blob = tree(1, &[("cpu@0", "cpu", 0x0), ("cpu@3", "cpu", 0x3)]);
        let mut out = [0u64; 8];
        assert_eq!(parse(&blob, &mut out), Some(2));
        assert_eq!(&out[..2], &[0, 3]);
        let blob = tree(2, &[("cpu@100000000", "cpu", 0x1_0000_0000)]);
        assert_eq!(parse(&blob, &mut out), Some(1));
        assert_eq!(out[0], 0x1_0000_0000);
    }

    #[test]
    fn more_cpus_than_slots_are_left_out() {
        let blob = tree(1, &[("cpu@0", "cpu", 0), ("cpu@1", "cpu", 1), ("cpu@2", "cpu", 2)]);
        let mut out = [0u64; 2];
        assert_eq!(parse(&blob, &mut out), Some(2));
    }

    #[test]
    fn malformed_trees_are_refused() {
        let blob = tree(1, &[("cpu@0", "cpu", 0)]);
        let mut bad = blob.clone();
        bad[0] = 0;
        assert_eq!(blocks(&bad[..HEADER_SIZE]), None, "magic");
        let mut short = blob.clone();
        short[4..8].copy_from_slice(&10u32.to_be_bytes());
        assert_eq!(blocks(&short[..HEADER_SIZE]), None, "blocks beyond totalsize");
        let b = blocks(&blob[..HEADER_SIZE]).unwrap();
        let s = &blob[b.structs.0 as usize..(b.structs.0 + b.structs.1) as usize];
        let t = &blob[b.strings.0 as usize..(b.strings.0 + b.strings.1) as usize];
        let mut out = [0u64; 4];
        // Cut anywhere: never a panic, and no END token means no answer.
        for cut in 0..s.len() - 4 {
            assert_eq!(cpu_mpidrs(&s[..cut], t, &mut out), None, "cut at {cut}");
        }
        let mut unknown = s.to_vec();
        unknown[0..4].copy_from_slice(&7u32.to_be_bytes());
        assert_eq!(cpu_mpidrs(&unknown, t, &mut out), None);
        assert_eq!(cpu_mpidrs(s, &[], &mut out), None, "property names outside the strings");
    }

    #[test]
    fn boot_cpu_first_then_the_others_in_tree_order() {
        let mut out = [0u64; 8];
        // Booting on the tree's third CPU; MPIDR_EL1 has bit 31 (RES1) set.
        let n = boot_order(&[0x0, 0x1, 0x100, 0x101], 0x8000_0100, &mut out);
        assert_eq!(&out[..n], &[0x100, 0x0, 0x1, 0x101]);
        // A tree without the booting CPU: nothing else is trusted.
        assert_eq!(boot_order(&[0x1, 0x2], 0x8000_0000, &mut out), 1);
        assert_eq!(out[0], 0);
        assert_eq!(boot_order(&[0, 1, 2], 0, &mut out[..2]), 2, "as many as fit");
        assert_eq!(boot_order(&[0], 0, &mut []), 0);
    }
}

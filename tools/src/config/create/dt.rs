//! One device-tree model for both forms a tree comes in: a flattened blob
//! (.dtb: the host tests use Debian's; /sys/firmware/fdt for /memreserve/)
//! and the live directory form Linux exports (/proc/device-tree: a folder
//! per node, a file per property). Everything above works on [`Node`].
//!
//! The blob reader is our own (the format is five token kinds): the `fdt`
//! crate (0.1.5) panics on NOP tokens between properties, which QEMU's
//! blob has after it edits /chosen, and this tool aborts on a panic.

use anyhow::{bail, Context};
use std::collections::BTreeMap;
use std::path::Path;

/// A node with its properties (raw big-endian bytes) and children in order.
#[derive(Clone, Debug, Default)]
pub struct Node {
    /// Name with unit address, e.g. `pl011@9000000` (`` for the root).
    pub name: String,
    pub props: BTreeMap<String, Vec<u8>>,
    pub children: Vec<Node>,
}

/// A tree and the FDT header's /memreserve/ entries (only a blob has them).
#[derive(Clone, Debug, Default)]
pub struct Tree {
    pub root: Node,
    pub memreserve: Vec<(u64, u64)>,
}

impl Tree {
    /// Parses a flattened device tree (the devicetree specification's
    /// format: header, /memreserve/ block, structure and strings blocks).
    /// Every offset is checked; a malformed blob is an error, never a panic.
    pub fn from_dtb(bytes: &[u8]) -> anyhow::Result<Tree> {
        let be32 = |off: usize| -> Option<u32> {
            let b = bytes.get(off..off.checked_add(4)?)?;
            Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        };
        let be64 = |off: usize| -> Option<u64> { Some(u64::from(be32(off)?) << 32 | u64::from(be32(off + 4)?)) };
        let bad = |what: &str| anyhow::anyhow!("not a valid device-tree blob: {what}");
        if be32(0) != Some(0xd00d_feed) {
            bail!(bad("no magic"));
        }
        let field = |i: usize| be32(4 * i).map(|v| v as usize).ok_or_else(|| bad("short header"));
        let total = field(1)?.min(bytes.len());
        let (structs, strings, rsv) = (field(2)?, field(3)?, field(4)?);
        let cstr = |off: usize| -> Option<&str> {
            let tail = bytes.get(off..total)?;
            std::str::from_utf8(&tail[..tail.iter().position(|b| *b == 0)?]).ok()
        };
        let mut memreserve = Vec::new();
        let mut off = rsv;
        loop {
            let (addr, size) = (be64(off).ok_or_else(|| bad("memreserve block"))?, be64(off + 8).ok_or_else(|| bad("memreserve block"))?);
            if addr == 0 && size == 0 {
                break;
            }
            memreserve.push((addr, size));
            off += 16;
        }
        let align = |v: usize| v.checked_add(3).map(|v| v & !3).ok_or_else(|| bad("offset"));
        let mut stack: Vec<Node> = Vec::new();
        let mut pos = structs;
        loop {
            let token = be32(pos).ok_or_else(|| bad("structure block ends early"))?;
            pos += 4;
            match token {
                1 => {
                    let name = cstr(pos).ok_or_else(|| bad("node name"))?;
                    pos = align(pos + name.len() + 1)?;
                    stack.push(Node { name: name.to_string(), ..Node::default() });
                }
                2 => {
                    let node = stack.pop().ok_or_else(|| bad("unbalanced END_NODE"))?;
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(node),
                        None => {
                            let root = Node { name: String::new(), ..node };
                            return Ok(Tree { root, memreserve });
                        }
                    }
                }
                3 => {
                    let len = be32(pos).ok_or_else(|| bad("property"))? as usize;
                    let name_off = be32(pos + 4).ok_or_else(|| bad("property"))? as usize;
                    let value = bytes.get(pos + 8..pos + 8 + len).filter(|_| pos + 8 + len <= total).ok_or_else(|| bad("property value"))?;
                    let name = strings.checked_add(name_off).and_then(cstr).ok_or_else(|| bad("property name"))?;
                    stack.last_mut().ok_or_else(|| bad("property outside a node"))?.props.insert(name.to_string(), value.to_vec());
                    pos = align(pos + 8 + len)?;
                }
                4 => {} // NOP: left where a property was removed (QEMU's /chosen)
                9 => bail!(bad("END before the root node closed")),
                t => bail!(bad(&format!("token {t:#x} at {pos:#x}"))),
            }
        }
    }

    /// Reads the live tree (a folder such as /proc/device-tree).
    pub fn from_dir(dir: &Path) -> anyhow::Result<Tree> {
        Ok(Tree { root: from_dir_node(dir, String::new())?, memreserve: Vec::new() })
    }

    /// The node at an absolute path (`/soc/serial@7e201000`) or an alias.
    pub fn find(&self, path: &str) -> Option<(String, &Node)> {
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            let (alias, rest) = path.split_once('/').map_or((path, ""), |(a, r)| (a, r));
            let target = self.root.child("aliases")?.prop_str(alias)?;
            if rest.is_empty() { target.to_string() } else { format!("{target}/{rest}") }
        };
        let mut node = &self.root;
        for part in path.split('/').filter(|p| !p.is_empty()) {
            node = node.children.iter().find(|c| c.name == part || c.name.split('@').next() == Some(part) && !part.contains('@'))?;
        }
        Some((if path.len() > 1 { path.trim_end_matches('/').to_string() } else { path }, node))
    }

    /// Every node with its path and its ancestors (nearest last), in tree order.
    pub fn walk(&self) -> Vec<Visit<'_>> {
        fn go<'a>(node: &'a Node, path: &str, parents: &[&'a Node], out: &mut Vec<Visit<'a>>) {
            let shown = if path.is_empty() { "/".to_string() } else { path.to_string() };
            out.push(Visit { path: shown, node, parents: parents.to_vec() });
            let mut up = parents.to_vec();
            up.push(node);
            for c in &node.children {
                go(c, &format!("{path}/{}", c.name), &up, out);
            }
        }
        let mut out = Vec::new();
        go(&self.root, "", &[], &mut out);
        out
    }

    /// The node a phandle names.
    pub fn by_phandle(&self, phandle: u32) -> Option<&Node> {
        fn go(n: &Node, ph: u32) -> Option<&Node> {
            if n.prop_u32("phandle") == Some(ph) || n.prop_u32("linux,phandle") == Some(ph) {
                return Some(n);
            }
            n.children.iter().find_map(|c| go(c, ph))
        }
        go(&self.root, phandle)
    }
}

/// A node reached by [`Tree::walk`].
#[derive(Clone, Debug)]
pub struct Visit<'a> {
    pub path: String,
    pub node: &'a Node,
    /// Root first, the direct parent last.
    pub parents: Vec<&'a Node>,
}

fn from_dir_node(dir: &Path, name: String) -> anyhow::Result<Node> {
    let mut node = Node { name, ..Node::default() };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("{}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{}", dir.display()))?;
    // The directory order is not the tree's; name order is stable.
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let fname = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        // symlink_metadata: never follow a link out of the tree.
        let meta = std::fs::symlink_metadata(&path).with_context(|| format!("{}", path.display()))?;
        if meta.is_dir() {
            node.children.push(from_dir_node(&path, fname)?);
        } else if meta.is_file() {
            let value = std::fs::read(&path).with_context(|| format!("{}", path.display()))?;
            node.props.insert(fname, value);
        }
    }
    Ok(node)
}

impl Node {
    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn prop(&self, name: &str) -> Option<&[u8]> {
        self.props.get(name).map(Vec::as_slice)
    }

    /// The first string of a string property.
    pub fn prop_str(&self, name: &str) -> Option<&str> {
        self.prop_strs(name).into_iter().next()
    }

    /// A string list (NUL-separated).
    pub fn prop_strs(&self, name: &str) -> Vec<&str> {
        self.prop(name)
            .map(|v| v.split(|b| *b == 0).filter(|s| !s.is_empty()).filter_map(|s| std::str::from_utf8(s).ok()).collect())
            .unwrap_or_default()
    }

    pub fn prop_u32s(&self, name: &str) -> Option<Vec<u32>> {
        let v = self.prop(name)?;
        Some(v.chunks_exact(4).map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]])).collect())
    }

    pub fn prop_u32(&self, name: &str) -> Option<u32> {
        self.prop_u32s(name).and_then(|v| v.first().copied())
    }

    pub fn compatible(&self) -> Vec<&str> {
        self.prop_strs("compatible")
    }

    pub fn is_compatible(&self, any: &[&str]) -> bool {
        self.compatible().iter().any(|c| any.contains(c))
    }

    /// `status` absent, "okay" or "ok".
    pub fn enabled(&self) -> bool {
        matches!(self.prop_str("status"), None | Some("okay") | Some("ok"))
    }

    /// #address-cells / #size-cells this node sets for its children
    /// (the specification's defaults 2 and 1 when absent).
    pub fn child_cells(&self) -> (usize, usize) {
        (
            self.prop_u32("#address-cells").map_or(2, |v| v as usize),
            self.prop_u32("#size-cells").map_or(1, |v| v as usize),
        )
    }
}

/// Reads `cells` big-endian u32 cells from the front of `v` as one number.
pub fn read_cells(v: &mut &[u32], cells: usize) -> Option<u64> {
    if v.len() < cells {
        return None;
    }
    let (num, rest) = v.split_at(cells);
    *v = rest;
    // A 3-cell PCI address keeps its low 64 bits (the space code is read apart).
    Some(num.iter().fold(0u64, |acc, c| (acc << 32) | u64::from(*c)))
}

/// The `reg` ranges of a node in the CPU's physical address space, or None
/// when some ancestor bus does not map its children's addresses there (no
/// `ranges`: I2C, SPI, MDIO ... ) or the property is malformed.
pub fn reg_cpu(v: &Visit<'_>) -> Option<Vec<(u64, u64)>> {
    let parent = v.parents.last()?;
    let (ac, sc) = parent.child_cells();
    let mut cells = &v.node.prop_u32s("reg")?[..];
    let mut out = Vec::new();
    while !cells.is_empty() {
        let addr = read_cells(&mut cells, ac)?;
        let size = if sc == 0 { 0 } else { read_cells(&mut cells, sc)? };
        if size == 0 {
            continue;
        }
        out.push((translate(addr, &v.parents)?, size));
    }
    Some(out)
}

/// Translates an address on the bus of `parents.last()` up to the root.
pub fn translate(mut addr: u64, parents: &[&Node]) -> Option<u64> {
    // parents[i] is the bus; parents[i-1] is its own parent, whose cells
    // give the width of the parent-address part of parents[i]'s `ranges`.
    for i in (1..parents.len()).rev() {
        let bus = parents[i];
        let (cac, csc) = bus.child_cells();
        let (pac, _) = parents[i - 1].child_cells();
        let ranges = bus.prop_u32s("ranges")?;
        if ranges.is_empty() {
            continue; // identity
        }
        let mut r = &ranges[..];
        let mut mapped = None;
        while !r.is_empty() {
            let child = read_cells(&mut r, cac)?;
            let par = read_cells(&mut r, pac)?;
            let len = read_cells(&mut r, csc)?;
            if addr >= child && addr - child < len {
                mapped = Some(par + (addr - child));
                break;
            }
        }
        addr = mapped?;
    }
    Some(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, props: &[(&str, Vec<u8>)], children: Vec<Node>) -> Node {
        Node { name: name.into(), props: props.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(), children }
    }
    fn cells(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|c| c.to_be_bytes()).collect()
    }

    /// A blob by hand: NOPs between properties, a /memreserve/ entry.
    #[test]
    fn blob_with_nops_and_memreserve() {
        let strings = b"reg\0compatible\0";
        let mut st: Vec<u8> = Vec::new();
        let tok = |st: &mut Vec<u8>, v: u32| st.extend(v.to_be_bytes());
        let name = |st: &mut Vec<u8>, n: &str| {
            st.extend(n.as_bytes());
            st.push(0);
            while !st.len().is_multiple_of(4) {
                st.push(0);
            }
        };
        tok(&mut st, 1);
        name(&mut st, "");
        tok(&mut st, 4);
        tok(&mut st, 1);
        name(&mut st, "uart@9000000");
        tok(&mut st, 3);
        tok(&mut st, 8);
        tok(&mut st, 0);
        st.extend(cells(&[0x0900_0000, 0x1000]));
        tok(&mut st, 4);
        tok(&mut st, 3);
        tok(&mut st, 10);
        tok(&mut st, 4);
        name(&mut st, "arm,pl011");
        tok(&mut st, 2);
        tok(&mut st, 2);
        tok(&mut st, 9);
        let rsv: Vec<u8> = [0x1000u64, 0x2000, 0, 0].iter().flat_map(|v| v.to_be_bytes()).collect();
        let (rsv_off, st_off) = (40u32, 40 + rsv.len() as u32);
        let str_off = st_off + st.len() as u32;
        let total = str_off + strings.len() as u32;
        let mut blob = cells(&[0xd00d_feed, total, st_off, str_off, rsv_off, 17, 16, 0, strings.len() as u32, st.len() as u32]);
        blob.extend(rsv);
        blob.extend(&st);
        blob.extend(strings);
        let t = Tree::from_dtb(&blob).unwrap();
        assert_eq!(t.memreserve, vec![(0x1000, 0x2000)]);
        let (path, uart) = t.find("/uart@9000000").unwrap();
        assert_eq!(path, "/uart@9000000");
        assert_eq!(uart.compatible(), vec!["arm,pl011"]);
        assert_eq!(uart.prop_u32s("reg"), Some(vec![0x0900_0000, 0x1000]));
        // Cut anywhere: an error, never a panic.
        for n in 0..blob.len() {
            let _ = Tree::from_dtb(&blob[..n]);
        }
    }

    #[test]
    fn reg_goes_through_ranges_and_stops_at_buses_without_them() {
        let uart = node("serial@7e201000", &[("reg", cells(&[0x7e20_1000, 0x200]))], vec![]);
        let eeprom = node("eeprom@50", &[("reg", cells(&[0x50]))], vec![]);
        let i2c = node("i2c@7e804000", &[("reg", cells(&[0x7e80_4000, 0x1000])), ("#address-cells", cells(&[1])), ("#size-cells", cells(&[0]))], vec![eeprom]);
        let soc = node(
            "soc",
            &[("#address-cells", cells(&[1])), ("#size-cells", cells(&[1])), ("ranges", cells(&[0x7e00_0000, 0, 0xfe00_0000, 0x0180_0000]))],
            vec![uart, i2c],
        );
        let root = node("", &[("#address-cells", cells(&[2])), ("#size-cells", cells(&[1]))], vec![soc]);
        let tree = Tree { root, memreserve: vec![] };
        let walk = tree.walk();
        let find = |p: &str| walk.iter().find(|v| v.path == p).unwrap();
        assert_eq!(reg_cpu(find("/soc/serial@7e201000")), Some(vec![(0xfe20_1000, 0x200)]));
        assert_eq!(reg_cpu(find("/soc/i2c@7e804000")), Some(vec![(0xfe80_4000, 0x1000)]));
        // Size-less reg on a bus without ranges: nothing in CPU space.
        assert_eq!(reg_cpu(find("/soc/i2c@7e804000/eeprom@50")), Some(vec![]));
        assert!(tree.find("/soc/serial@7e201000").is_some());
    }
}

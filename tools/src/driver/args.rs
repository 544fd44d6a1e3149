//! Jailhouse's argument forms: `{ID | [--name] NAME}` and the load list
//! `{IMAGE | -s STRING} [-a ADDRESS] ...`, parsed by hand because their
//! meaning depends on order.

use super::ioctl::CellRef;
use anyhow::{bail, Context, Result};
use std::path::PathBuf;

/// A number as Jailhouse's tool takes it: decimal or 0x hex.
pub fn parse_number(s: &str) -> Option<u64> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Takes the cell reference from the front of `args`; returns the rest.
pub fn cell_ref(args: &[String]) -> Result<(CellRef, &[String])> {
    match args {
        [flag, name, rest @ ..] if flag == "--name" || flag == "-n" => Ok((CellRef::Name(name.clone()), rest)),
        [flag] if flag == "--name" || flag == "-n" => bail!("--name needs a cell name"),
        [first, rest @ ..] => {
            let cell = match first.parse::<u32>() {
                Ok(id) => CellRef::Id(id),
                Err(_) => CellRef::Name(first.clone()),
            };
            Ok((cell, rest))
        }
        [] => bail!("missing cell: give its ID or [--name] NAME"),
    }
}

/// A cell given alone (start, shutdown, destroy).
pub fn only_cell_ref(args: &[String]) -> Result<CellRef> {
    let (cell, rest) = cell_ref(args)?;
    if let Some(extra) = rest.first() {
        bail!("unexpected argument {extra:?} after the cell");
    }
    Ok(cell)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    File(PathBuf),
    /// Loaded with its terminating NUL, as Jailhouse does.
    String(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadItem {
    pub source: Source,
    pub address: u64,
}

/// The images after the cell in `cell load`; each defaults to address 0.
pub fn load_items(args: &[String]) -> Result<Vec<LoadItem>> {
    let mut items: Vec<LoadItem> = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-a" | "--address" => {
                let value = it.next().context("-a needs an address")?;
                let address = parse_number(value).with_context(|| format!("invalid address {value:?}"))?;
                let last = items.last_mut().context("-a must follow an image or -s STRING")?;
                last.address = address;
            }
            "-s" | "--string" => {
                let s = it.next().context("-s needs a string")?;
                items.push(LoadItem { source: Source::String(s.clone()), address: 0 });
            }
            file => items.push(LoadItem { source: Source::File(PathBuf::from(file)), address: 0 }),
        }
    }
    if items.is_empty() {
        bail!("cell load needs at least one IMAGE or -s STRING");
    }
    Ok(items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn numbers_are_ids_and_words_are_names() {
        assert_eq!(only_cell_ref(&v(&["1"])).unwrap(), CellRef::Id(1));
        assert_eq!(only_cell_ref(&v(&["gic-demo"])).unwrap(), CellRef::Name("gic-demo".into()));
        assert_eq!(only_cell_ref(&v(&["--name", "7"])).unwrap(), CellRef::Name("7".into()));
        assert!(only_cell_ref(&v(&[])).is_err());
        assert!(only_cell_ref(&v(&["1", "2"])).is_err());
    }

    #[test]
    fn addresses_bind_to_the_image_before_them() {
        let items = load_items(&v(&["a.bin", "-a", "0x1000", "-s", "hi", "--address", "16", "b.bin"])).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0], LoadItem { source: Source::File("a.bin".into()), address: 0x1000 });
        assert_eq!(items[1], LoadItem { source: Source::String("hi".into()), address: 16 });
        assert_eq!(items[2].address, 0);
    }

    #[test]
    fn load_argument_errors_are_reported() {
        assert!(load_items(&v(&[])).is_err());
        assert!(load_items(&v(&["-a", "0"])).is_err());
        assert!(load_items(&v(&["x", "-a", "zz"])).is_err());
        assert!(load_items(&v(&["x", "-s"])).is_err());
    }
}

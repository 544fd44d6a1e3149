//! Property tests: mutated and random inputs give an error or a valid
//! configuration, never a panic; whatever is accepted survives
//! show -> compile byte for byte.

use proptest::prelude::*;
use syshyper_config::cross::{check, NamedCell};
use syshyper_config::{source, CellConfig, SystemConfig};

fn shipped() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    names
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| source::compile(&std::fs::read_to_string(p).unwrap()).unwrap())
        .collect()
}

/// Whatever the parsers accept must decode and re-encode to the same bytes.
fn exercise(bytes: &[u8]) {
    let _ = CellConfig::parse(bytes);
    let _ = CellConfig::parse_with_limit(bytes, 4096);
    let _ = CellConfig::size_from_header(bytes);
    let sys = SystemConfig::parse(bytes);
    if let Ok(sys) = &sys {
        let _ = check("s", sys, &[]);
    }
    if let Ok(text) = source::show(bytes) {
        let again = source::compile(&text)
            .unwrap_or_else(|e| panic!("show output does not compile: {e}\n{text}"));
        assert_eq!(again, bytes, "show -> compile changed the bytes\n{text}");
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    SetByte(usize, u8),
    FlipBit(usize, u8),
    SetU32(usize, u32),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::SetByte(i, v)),
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::FlipBit(i, b)),
        // Small values hit counts and sizes more often than random ones.
        (any::<usize>(), prop_oneof![0u32..64, any::<u32>()])
            .prop_map(|(i, v)| Mutation::SetU32(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match *m {
        Mutation::SetByte(i, v) => bytes[i % len] = v,
        Mutation::FlipBit(i, b) => bytes[i % len] ^= 1 << b,
        Mutation::SetU32(i, v) => {
            let at = (i % (len / 4)) * 4;
            bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
        }
        Mutation::Truncate(i) => bytes.truncate(i % len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn mutated_configs(which in any::<usize>(), muts in prop::collection::vec(mutation(), 1..4)) {
        let configs = shipped();
        let mut bytes = configs[which % configs.len()].clone();
        for m in &muts {
            if bytes.len() < 4 {
                break;
            }
            apply(&mut bytes, m);
        }
        exercise(&bytes);
    }

    #[test]
    fn random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..1200)) {
        exercise(&bytes);
    }

    #[test]
    fn random_bytes_behind_valid_headers(kind in 0usize..2, tail in prop::collection::vec(any::<u8>(), 0..1200)) {
        // Keep the signature so that parsing goes past the first check.
        let configs = shipped();
        let base = &configs[kind * 2 % configs.len()];
        let mut bytes = base[..8].to_vec();
        bytes.extend_from_slice(&tail);
        exercise(&bytes);
    }

    #[test]
    fn mutated_cells_against_system(muts in prop::collection::vec(mutation(), 1..4)) {
        let sys_bytes = shipped().into_iter().find(|b| b.starts_with(b"JHSYS")).unwrap();
        let sys = SystemConfig::parse(&sys_bytes).unwrap();
        let cell_bytes = shipped().into_iter().filter(|b| b.starts_with(b"JHCLL")).collect::<Vec<_>>();
        let mut mutated = cell_bytes[0].clone();
        for m in &muts {
            if mutated.len() < 4 {
                break;
            }
            apply(&mut mutated, m);
        }
        let mut named = Vec::new();
        for b in cell_bytes.iter().chain([&mutated]) {
            if let Ok(config) = CellConfig::parse(b) {
                named.push(NamedCell { file: "x.cell", config });
            }
        }
        let _ = check("s", &sys, &named);
    }
}

//! Every shipped configuration round-trips: TOML -> bin -> TOML -> bin gives
//! the same bytes, and bin -> TOML -> bin -> TOML the same text.

use syshyper_config::source;

fn shipped() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../configs");
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .map(|p| {
            (
                p.display().to_string(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn all_expected_configs_are_shipped() {
    let names: Vec<String> = shipped()
        .iter()
        .map(|(p, _)| p.rsplit('/').next().unwrap().to_string())
        .collect();
    for want in [
        "qemu-virt.toml",
        "qemu-virt-16cpu.toml",
        "gic-demo.toml",
        "uart-demo.toml",
        "linux-demo.toml",
        "zcu102.toml",
        "zcu102-gic-demo.toml",
        "zcu102-uart-demo.toml",
        "rpi4.toml",
        "rpi4-gic-demo.toml",
        "rpi4-uart-demo.toml",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from configs/"
        );
    }
}

#[test]
fn toml_bin_toml_bin() {
    for (path, text) in shipped() {
        let bin = source::compile(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        let shown = source::show(&bin).unwrap_or_else(|e| panic!("{path}: {e}"));
        let again = source::compile(&shown).unwrap_or_else(|e| panic!("{path}: {e}\n{shown}"));
        assert_eq!(
            bin, again,
            "{path}: show then compile changed the bytes\n{shown}"
        );
        // The decoded model of the source equals that of the shown text.
        assert_eq!(
            source::decode(&bin).unwrap(),
            source::decode(&again).unwrap(),
            "{path}"
        );
    }
}

#[test]
fn bin_toml_bin_toml_is_stable() {
    for (path, text) in shipped() {
        let bin = source::compile(&text).unwrap();
        let shown = source::show(&bin).unwrap();
        let shown_again = source::show(&source::compile(&shown).unwrap()).unwrap();
        assert_eq!(shown, shown_again, "{path}");
    }
}

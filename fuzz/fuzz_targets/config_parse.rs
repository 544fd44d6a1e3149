//! Any byte string: parsing returns an error or a configuration, and an
//! accepted configuration survives show -> compile byte for byte.
#![no_main]

use libfuzzer_sys::fuzz_target;
use syshyper_config::{cross, source, CellConfig, SystemConfig};

fuzz_target!(|data: &[u8]| {
    let _ = CellConfig::parse_with_limit(data, syshyper_config::MAX_CELL_CONFIG_SIZE);
    if let Ok(sys) = SystemConfig::parse(data) {
        let _ = cross::check("s", &sys, &[]);
    }
    if let Ok(text) = source::show(data) {
        let again = source::compile(&text).expect("show output compiles");
        assert_eq!(again, data, "show -> compile changed the bytes");
    }
});

//! One libFuzzer binary for every reader: `GANTRY_FUZZ_TARGET` names the target (see
//! `gantry_fuzz::TARGETS`). Run through `cargo xtask fuzz`.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

static TARGET: OnceLock<gantry_fuzz::Target> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let t = TARGET.get_or_init(|| {
        gantry_fuzz::init();
        let name = std::env::var("GANTRY_FUZZ_TARGET").expect("GANTRY_FUZZ_TARGET names a target");
        gantry_fuzz::target(&name).unwrap_or_else(|| panic!("no fuzz target '{name}'"))
    });
    let _ = (t.run)(data);
});

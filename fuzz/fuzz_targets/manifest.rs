//! Any bytes through manifest loading and diagnostic rendering: no panic, no hang. Seed the
//! corpus with `manifests/*.yaml` and `tests/manifests/invalid/*.yaml`.

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(err) = entraform::manifest::parse(Path::new("manifests/fuzzed.yaml"), data) {
        let _ = err.to_string();
    }
});

//! mlrb.toml text of any shape: parsing and validation never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = mlrb::config::parse(text, std::path::Path::new("mlrb.toml"));
    }
});

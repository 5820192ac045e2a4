//! An embedded registry file of any bytes: reads never panic, and a refused file is never rewritten.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mlrb::registry::Registry;
use mlrb::registry::file::FileRegistry;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("registry.json");
    std::fs::write(&p, data).unwrap();
    let reg = FileRegistry::new(&p);
    let _ = reg.get_model("m");
    let _ = reg.search_versions("m", &mlrb::registry::VersionQuery::all());
    if reg.list_models().is_err() {
        let _ = reg.set_version_tag("m", 1, "k", "v");
        assert_eq!(std::fs::read(&p).unwrap(), data);
    }
});

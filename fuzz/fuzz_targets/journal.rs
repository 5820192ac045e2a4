//! A journal file of any bytes: the reader never panics and never yields more records than lines.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("journal.jsonl"), data).unwrap();
    let (records, bad) = mlrb::journal::read_all(dir.path()).unwrap();
    assert!(records.len() + bad <= data.split(|b| *b == b'\n').count());
    for r in &records {
        let _ = mlrb::journal::unfinished(&records, &r.event, "x");
    }
});

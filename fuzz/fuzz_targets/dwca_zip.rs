//! Zip DwC-A: arbitrary bytes written as `archive.zip`, then `read_dwca` on the file. The seeds are real
//! small archives (a cut of the NOAA GU1901 fixture, a zipped table folder), so mutations reach the member
//! reader, meta.xml, the CSV parser and the join. Zip-bomb limits are small (see `common::limits`).
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let p = dir().path().join("archive.zip");
    std::fs::write(&p, data).unwrap();
    common::check_dwca(&p);
});

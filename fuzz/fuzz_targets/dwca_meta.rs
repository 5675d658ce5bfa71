//! meta.xml: arbitrary bytes as the meta.xml of an unpacked archive whose data files are real (a tiny
//! cut of the NOAA GU1901 fixture, under its own names and under generic ones), then `read_dwca` on the
//! folder. Checks what the records look like (see `common::CheckingSink`) besides the absence of panics.
#![no_main]

mod common;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const CORE: &[u8] = include_bytes!("../seeds/dwca_tiny/occurrence_core_worms_GU19_leg1.csv");
const DNA: &[u8] = include_bytes!("../seeds/dwca_tiny/dna_derived_extension_GU19_leg1.csv");

fn dir() -> &'static tempfile::TempDir {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = tempfile::tempdir().unwrap();
        for (name, bytes) in [
            ("occurrence_core_worms_GU19_leg1.csv", CORE),
            ("dna_derived_extension_GU19_leg1.csv", DNA),
            ("occurrence.txt", CORE),
            ("dna.txt", DNA),
            ("event.txt", CORE),
        ] {
            std::fs::write(d.path().join(name), bytes).unwrap();
        }
        std::fs::write(
            d.path().join("eml.xml"),
            b"<eml:eml packageId=\"k\"><dataset><title>t</title></dataset></eml:eml>",
        )
        .unwrap();
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    std::fs::write(d.path().join("meta.xml"), data).unwrap();
    common::check_dwca(d.path());
});

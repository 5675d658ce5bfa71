//! FASTA/FASTQ reader on arbitrary bytes (plain, or gzip when the bytes start with the gzip magic).
//!
//! Invariants: the reader ends within (lines + 2) records and stays ended after an error; sequences hold
//! no whitespace or control bytes; FASTQ qualities are as long as their sequences; header line numbers
//! increase; and records written back out as FASTA/FASTQ read back identically.
#![no_main]

use std::io::BufRead;

use edna_seq::fastx::{Format, Reader, Record};
use libfuzzer_sys::fuzz_target;

fn read_all<R: BufRead>(reader: &mut Reader<R>, bound: usize) -> (Vec<Record>, bool) {
    let mut out = Vec::new();
    let mut last_line = 0;
    for _ in 0..bound {
        match reader.next_record() {
            None => return (out, false),
            Some(Err(e)) => {
                assert!(!e.to_string().is_empty());
                assert!(reader.next_record().is_none(), "reader goes on after an error");
                return (out, true);
            }
            Some(Ok(r)) => {
                assert!(r.line > last_line, "line {} after {}", r.line, last_line);
                last_line = r.line;
                assert!(
                    !r.seq.iter().any(|&b| b.is_ascii_whitespace() || b < 0x20 || b == 0x7f),
                    "whitespace or control byte in {:?}",
                    r.seq
                );
                assert!(!r.id.contains([' ', '\t']), "id {:?}", r.id);
                if let Some(q) = &r.qual {
                    assert_eq!(q.len(), r.seq.len());
                }
                out.push(r);
            }
        }
    }
    panic!("reader did not finish within {bound} records");
}

fn write_back(records: &[Record], format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    for r in records {
        out.push(if format == Format::Fasta { b'>' } else { b'@' });
        out.extend_from_slice(r.id.as_bytes());
        if let Some(d) = &r.desc {
            out.push(b' ');
            out.extend_from_slice(d.as_bytes());
        }
        // A leading space keeps a sequence that starts with '>', '@' or '+' from reading as a header or
        // separator; the reader drops it with the other whitespace.
        out.extend_from_slice(b"\n ");
        out.extend_from_slice(&r.seq);
        out.push(b'\n');
        if let Some(q) = &r.qual {
            out.extend_from_slice(b"+\n ");
            out.extend_from_slice(q);
            out.push(b'\n');
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let lines = data.iter().filter(|&&b| b == b'\n').count();
    let mut reader = Reader::new(data, "input".to_string());
    let (records, _failed) = read_all(&mut reader, lines + 3);
    if let Some(format) = reader.format() {
        let again = write_back(&records, format);
        let mut r2 = Reader::new(&again[..], "again".to_string());
        let n2 = again.iter().filter(|&&b| b == b'\n').count();
        let (back, failed) = read_all(&mut r2, n2 + 3);
        assert!(
            !failed,
            "written-back records do not parse: {:?}",
            String::from_utf8_lossy(&again)
        );
        assert_eq!(back.len(), records.len());
        for (a, b) in records.iter().zip(&back) {
            assert_eq!((&a.id, &a.desc, &a.seq, &a.qual), (&b.id, &b.desc, &b.seq, &b.qual));
        }
    }
    // The gzip path: compressed input goes through the same reader (sniffed by magic bytes).
    if data.starts_with(&[0x1f, 0x8b]) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.fastq.gz");
        std::fs::write(&p, data).unwrap();
        if let Ok(mut r) = Reader::from_path(&p) {
            // Decompressed size is unknown: bound by a generous record count.
            let mut n = 0;
            while let Some(rec) = r.next_record() {
                n += 1;
                if rec.is_err() || n > 100_000 {
                    break;
                }
            }
        }
    }
});

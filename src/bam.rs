//! BAM output: SAM text (as [`crate::output`] writes it) encoded on the fly into BGZF-compressed BAM, so
//! both formats come from one writer and samtools/IGV read either.
//!
//! Layout per the SAM/BAM specification (v1.6 §4): BGZF blocks (gzip members with a `BC` extra field and
//! at most 64 KiB of input each, then the 28-byte EOF block); `BAM\1`, header text, references; then one
//! binary record per alignment line.

use std::collections::HashMap;
use std::io::{self, Write};

use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};

/// Input bytes per BGZF block (below the 64 KiB limit so compressed blocks always fit too).
const BLOCK_INPUT: usize = 0xff00;
/// The fixed empty block that ends every BGZF file.
const EOF_BLOCK: [u8; 28] = [
    0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0, 0x1b, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Compresses a byte stream into BGZF blocks.
struct Bgzf<W: Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: Write> Bgzf<W> {
    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let take = (BLOCK_INPUT - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == BLOCK_INPUT {
                self.block()?;
            }
        }
        Ok(())
    }

    fn block(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let mut enc = DeflateEncoder::new(Vec::with_capacity(self.buf.len()), Compression::default());
        enc.write_all(&self.buf)?;
        let deflated = enc.finish()?;
        let mut crc = Crc::new();
        crc.update(&self.buf);
        let bsize = (deflated.len() + 25) as u16; // total block size - 1
        let mut header = [
            0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0, 0, 0,
        ];
        header[16..18].copy_from_slice(&bsize.to_le_bytes());
        self.inner.write_all(&header)?;
        self.inner.write_all(&deflated)?;
        self.inner.write_all(&crc.sum().to_le_bytes())?;
        self.inner.write_all(&(self.buf.len() as u32).to_le_bytes())?;
        self.buf.clear();
        Ok(())
    }
}

/// Accepts SAM text and writes BAM. Call [`BamWriter::finish`] at the end (dropping without it loses the
/// last block).
pub struct BamWriter<W: Write> {
    out: Bgzf<W>,
    pending: Vec<u8>,
    header_text: String,
    refs: Vec<(String, i32)>,
    ref_ids: HashMap<String, i32>,
    header_written: bool,
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<W: Write> BamWriter<W> {
    /// A BAM writer over `inner`.
    pub fn new(inner: W) -> Self {
        BamWriter {
            out: Bgzf { inner, buf: Vec::new() },
            pending: Vec::new(),
            header_text: String::new(),
            refs: Vec::new(),
            ref_ids: HashMap::new(),
            header_written: false,
        }
    }

    fn write_header(&mut self) -> io::Result<()> {
        let mut h = Vec::new();
        h.extend_from_slice(b"BAM\x01");
        h.extend_from_slice(&(self.header_text.len() as i32).to_le_bytes());
        h.extend_from_slice(self.header_text.as_bytes());
        h.extend_from_slice(&(self.refs.len() as i32).to_le_bytes());
        for (name, len) in &self.refs {
            h.extend_from_slice(&(name.len() as i32 + 1).to_le_bytes());
            h.extend_from_slice(name.as_bytes());
            h.push(0);
            h.extend_from_slice(&len.to_le_bytes());
        }
        self.out.write_all(&h)?;
        self.header_written = true;
        Ok(())
    }

    fn line(&mut self, line: &str) -> io::Result<()> {
        if let Some(rest) = line.strip_prefix('@') {
            if self.header_written {
                return Err(bad("SAM header line after the first record".into()));
            }
            self.header_text.push_str(line);
            self.header_text.push('\n');
            if rest.starts_with("SQ") {
                let field = |tag: &str| line.split('\t').find_map(|f| f.strip_prefix(tag));
                let name = field("SN:")
                    .ok_or_else(|| bad(format!("@SQ without SN: {line}")))?
                    .to_string();
                let len: i32 = field("LN:").and_then(|l| l.parse().ok()).unwrap_or(0);
                self.ref_ids.entry(name.clone()).or_insert(self.refs.len() as i32);
                self.refs.push((name, len));
            }
            return Ok(());
        }
        if !self.header_written {
            self.write_header()?;
        }
        let rec = self.record(line)?;
        self.out.write_all(&(rec.len() as i32).to_le_bytes())?;
        self.out.write_all(&rec)
    }

    fn record(&self, line: &str) -> io::Result<Vec<u8>> {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 11 {
            return Err(bad(format!("SAM line with {} fields", f.len())));
        }
        let flag: u16 = f[1].parse().map_err(|_| bad(format!("bad flag {}", f[1])))?;
        let ref_id = if f[2] == "*" {
            -1
        } else {
            *self
                .ref_ids
                .get(f[2])
                .ok_or_else(|| bad(format!("no @SQ for {}", f[2])))?
        };
        let pos = f[3].parse::<i32>().unwrap_or(0) - 1;
        let mapq: u8 = f[4].parse().unwrap_or(255);
        let mut cigar = Vec::new();
        if f[5] != "*" {
            let mut n = 0u32;
            for c in f[5].bytes() {
                if c.is_ascii_digit() {
                    n = n * 10 + (c - b'0') as u32;
                    continue;
                }
                let op = b"MIDNSHP=X"
                    .iter()
                    .position(|&o| o == c)
                    .ok_or_else(|| bad(format!("bad CIGAR {}", f[5])))?;
                cigar.push(n << 4 | op as u32);
                n = 0;
            }
        }
        let seq = if f[9] == "*" { "" } else { f[9] };
        // Reference span for the bin: M, D, N, =, X consume the reference.
        let ref_len: i32 = cigar
            .iter()
            .filter(|&&c| matches!(c & 15, 0 | 2 | 3 | 7 | 8))
            .map(|&c| (c >> 4) as i32)
            .sum();
        let end = if ref_len > 0 { pos + ref_len } else { pos + 1 };
        let bin = if ref_id < 0 {
            4680
        } else {
            reg2bin(pos.max(0), end.max(1))
        };
        let mut r = Vec::with_capacity(64 + seq.len());
        r.extend_from_slice(&ref_id.to_le_bytes());
        r.extend_from_slice(&pos.to_le_bytes());
        r.push((f[0].len() + 1) as u8);
        r.push(mapq);
        r.extend_from_slice(&bin.to_le_bytes());
        r.extend_from_slice(&(cigar.len() as u16).to_le_bytes());
        r.extend_from_slice(&flag.to_le_bytes());
        r.extend_from_slice(&(seq.len() as i32).to_le_bytes());
        r.extend_from_slice(&(-1i32).to_le_bytes()); // next refID
        r.extend_from_slice(&(-1i32).to_le_bytes()); // next pos
        r.extend_from_slice(&0i32.to_le_bytes()); // tlen
        r.extend_from_slice(f[0].as_bytes());
        r.push(0);
        for c in &cigar {
            r.extend_from_slice(&c.to_le_bytes());
        }
        const CODES: &[u8] = b"=ACMGRSVTWYHKDBN";
        let code = |b: u8| CODES.iter().position(|&c| c == b.to_ascii_uppercase()).unwrap_or(15) as u8;
        for pair in seq.as_bytes().chunks(2) {
            r.push(code(pair[0]) << 4 | pair.get(1).map_or(0, |&b| code(b)));
        }
        r.extend(std::iter::repeat_n(0xffu8, seq.len()));
        for tag in &f[11..] {
            let mut parts = tag.splitn(3, ':');
            let (Some(name), Some(ty), Some(value)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if name.len() != 2 {
                continue;
            }
            r.extend_from_slice(name.as_bytes());
            match ty {
                "i" => {
                    r.push(b'i');
                    r.extend_from_slice(&value.parse::<i32>().unwrap_or(0).to_le_bytes());
                }
                "f" => {
                    r.push(b'f');
                    r.extend_from_slice(&value.parse::<f32>().unwrap_or(0.0).to_le_bytes());
                }
                _ => {
                    r.push(b'Z');
                    r.extend_from_slice(value.as_bytes());
                    r.push(0);
                }
            }
        }
        Ok(r)
    }

    /// Writes what is pending, the last block and the EOF marker; returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.line(String::from_utf8_lossy(&rest).trim_end_matches('\r'))?;
        }
        if !self.header_written {
            self.write_header()?;
        }
        self.out.block()?;
        self.out.inner.write_all(&EOF_BLOCK)?;
        self.out.inner.flush()?;
        Ok(self.out.inner)
    }
}

impl<W: Write> Write for BamWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(data);
        while let Some(nl) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=nl).collect();
            let text = String::from_utf8_lossy(&line[..line.len() - 1]).into_owned();
            self.line(text.trim_end_matches('\r'))?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Blocks are emitted when full or at finish(): flushing must not cut BGZF blocks short.
        Ok(())
    }
}

/// UCSC binning scheme (SAM spec §5.3), 0-based half-open region.
fn reg2bin(beg: i32, end: i32) -> u16 {
    let end = end - 1;
    let b = if beg >> 14 == end >> 14 {
        ((1 << 15) - 1) / 7 + (beg >> 14)
    } else if beg >> 17 == end >> 17 {
        ((1 << 12) - 1) / 7 + (beg >> 17)
    } else if beg >> 20 == end >> 20 {
        ((1 << 9) - 1) / 7 + (beg >> 20)
    } else if beg >> 23 == end >> 23 {
        ((1 << 6) - 1) / 7 + (beg >> 23)
    } else if beg >> 26 == end >> 26 {
        1 + (beg >> 26)
    } else {
        0
    };
    b as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn writes_readable_bgzf_bam() {
        let mut w = BamWriter::new(Vec::new());
        w.write_all(b"@HD\tVN:1.6\n@SQ\tSN:ref1\tLN:100\n").unwrap();
        w.write_all(b"q1\t0\tref1\t5\t255\t2S10=1X\t*\t0\t0\tACGTACGTACGTA\t*\tAS:i:20\tNM:i:1\tZI:f:0.9091\n")
            .unwrap();
        w.write_all(b"q2\t4\t*\t0\t0\t*\t*\t0\t0\tACGT\t*\n").unwrap();
        let bytes = w.finish().unwrap();
        assert!(bytes.ends_with(&EOF_BLOCK));
        let mut plain = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .unwrap();
        assert_eq!(&plain[..4], b"BAM\x01");
        let l_text = i32::from_le_bytes(plain[4..8].try_into().unwrap()) as usize;
        let text = std::str::from_utf8(&plain[8..8 + l_text]).unwrap();
        assert!(text.contains("@SQ\tSN:ref1\tLN:100"));
        let mut p = 8 + l_text;
        assert_eq!(i32::from_le_bytes(plain[p..p + 4].try_into().unwrap()), 1);
        p += 4;
        let l_name = i32::from_le_bytes(plain[p..p + 4].try_into().unwrap()) as usize;
        p += 4 + l_name + 4;
        // First record: refID 0, pos 4 (0-based), name q1, 3 CIGAR ops, 13 bases.
        let block = i32::from_le_bytes(plain[p..p + 4].try_into().unwrap()) as usize;
        let rec = &plain[p + 4..p + 4 + block];
        assert_eq!(i32::from_le_bytes(rec[0..4].try_into().unwrap()), 0);
        assert_eq!(i32::from_le_bytes(rec[4..8].try_into().unwrap()), 4);
        assert_eq!(u16::from_le_bytes(rec[12..14].try_into().unwrap()), 3);
        assert_eq!(i32::from_le_bytes(rec[16..20].try_into().unwrap()), 13);
        assert_eq!(&rec[32..35], b"q1\0");
        // Second record is unmapped.
        let p2 = p + 4 + block;
        let rec2 = &plain[p2 + 4..];
        assert_eq!(i32::from_le_bytes(rec2[0..4].try_into().unwrap()), -1);
        assert_eq!(u16::from_le_bytes(rec2[14..16].try_into().unwrap()), 4);
    }

    #[test]
    fn bins_match_the_spec() {
        assert_eq!(reg2bin(0, 1), 4681);
        assert_eq!(reg2bin(0, 1 << 14), 4681);
        assert_eq!(reg2bin(0, (1 << 14) + 1), 585);
    }
}

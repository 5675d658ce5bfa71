//! Streaming FASTA/FASTQ reading, plain or gzip-compressed, that names file and line in every error.
//!
//! [`open`] turns a path (or `-` for stdin) into a buffered byte stream, decompressing gzip when the
//! data starts with the gzip magic bytes. [`Reader`] turns such a stream into [`Record`]s one at a
//! time; the format (FASTA or FASTQ) is taken from the first non-blank byte.
//!
//! The reader does not judge sequence content: letters are kept as they are (case preserved, no
//! IUPAC check), only whitespace is removed. It does reject what cannot be text (control bytes),
//! because a binary file read as FASTA would otherwise turn into garbage records.
//!
//! ```
//! use edna_seq::fastx::Reader;
//! let data = b">a first\nACGT\nAC\n>b\n\n";
//! let mut reader = Reader::new(&data[..], "example.fasta".to_string());
//! let a = reader.next_record().unwrap().unwrap();
//! assert_eq!((a.id.as_str(), a.seq.as_slice(), a.line), ("a", &b"ACGTAC"[..], 1));
//! let b = reader.next_record().unwrap().unwrap();
//! assert!(b.seq.is_empty()); // an empty record is returned, not an error
//! assert!(reader.next_record().is_none());
//! ```

use std::error::Error as StdError;
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::mem;
use std::path::Path;

/// Buffer size for file and decompressed streams: large enough that syscalls and decoder calls are
/// a small fraction of the work.
const BUF_SIZE: usize = 256 * 1024;

/// gzip magic bytes (RFC 1952).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// UTF-8 byte-order mark, tolerated at the very start of a file (some Windows tools write one).
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// A FASTA or FASTQ record.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    /// First word of the header (up to the first space or tab), without `>`/`@`.
    pub id: String,
    /// Rest of the header after the separator that ends the id, as is (may contain tabs).
    pub desc: Option<String>,
    /// Sequence lines joined, whitespace and CR removed, case preserved. May be empty.
    pub seq: Vec<u8>,
    /// FASTQ quality string (same length as `seq`); `None` for FASTA.
    pub qual: Option<Vec<u8>>,
    /// 1-based line number of the header.
    pub line: u64,
}

/// The two formats the reader understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `>` headers, sequence on any number of lines.
    Fasta,
    /// `@` header, sequence, `+` line, quality.
    Fastq,
}

/// What went wrong, without the location (see [`FastxError`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum FastxErrorKind {
    /// The file could not be opened.
    Open(io::Error),
    /// Reading failed.
    Io(io::Error),
    /// The gzip stream ended before its end marker (a cut-off download or copy).
    TruncatedGzip,
    /// The gzip stream is not valid gzip/deflate data.
    CorruptGzip(String),
    /// A record does not start with `>` (FASTA) or `@` (FASTQ): e.g. sequence before the first header.
    NoHeader {
        /// The byte found instead.
        found: u8,
        /// The format already detected, if any.
        expected: Option<Format>,
    },
    /// A control byte (other than tab, CR, LF) in a header, sequence or quality line.
    Binary {
        /// The offending byte.
        byte: u8,
    },
    /// The file ends inside a FASTQ record.
    TruncatedFastq {
        /// What is missing: `"'+' line"`, `"quality"`.
        missing: &'static str,
    },
    /// A FASTQ record whose sequence is followed by a new `@` header instead of a `+` line.
    MissingPlus,
    /// A FASTQ record whose quality is not as long as its sequence.
    QualityLength {
        /// Sequence length.
        seq_len: usize,
        /// Quality length.
        qual_len: usize,
    },
}

/// A FASTA/FASTQ reading error, with the file and the line it happened at.
#[derive(Debug)]
pub struct FastxError {
    /// File label given to [`Reader::new`] (usually the path).
    pub file: String,
    /// 1-based line number (0 when the error is not about a line, e.g. opening the file).
    pub line: u64,
    /// What went wrong.
    pub kind: FastxErrorKind,
}

impl FastxError {
    fn new(file: &str, line: u64, kind: FastxErrorKind) -> Self {
        Self {
            file: file.to_string(),
            line,
            kind,
        }
    }

    /// Classifies an I/O error from a stream made by [`open`] (truncated or corrupt gzip, or plain
    /// I/O), so other line readers (taxonomy tables, CSV) report it like the FASTA reader does.
    pub fn from_io(file: &str, line: u64, e: io::Error) -> Self {
        let problem = e.get_ref().and_then(|i| i.downcast_ref::<GzipProblem>());
        let kind = match problem {
            Some(GzipProblem::Truncated) => FastxErrorKind::TruncatedGzip,
            Some(GzipProblem::Corrupt(d)) => FastxErrorKind::CorruptGzip(d.clone()),
            None => FastxErrorKind::Io(e),
        };
        Self::new(file, line, kind)
    }
}

fn printable(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("byte 0x{b:02x}")
    }
}

impl fmt::Display for FastxErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Open(e) => write!(f, "cannot open: {e}"),
            Self::Io(e) => write!(f, "read error: {e}"),
            Self::TruncatedGzip => write!(
                f,
                "truncated gzip: the compressed stream ends before its end marker (incomplete file?)"
            ),
            Self::CorruptGzip(d) => write!(f, "corrupt gzip data: {d}"),
            Self::NoHeader { found, expected } => {
                let want = match expected {
                    None => "'>' or '@'",
                    Some(Format::Fasta) => "'>'",
                    Some(Format::Fastq) => "'@'",
                };
                write!(f, "expected {want} at start of record, found {}", printable(*found))?;
                if expected.is_none() && found.is_ascii_alphabetic() {
                    write!(f, " (sequence before the first header?)")?;
                }
                Ok(())
            }
            Self::Binary { byte } => write!(
                f,
                "binary data (control byte 0x{byte:02x}): not a FASTA/FASTQ text file"
            ),
            Self::TruncatedFastq { missing } => {
                write!(f, "truncated FASTQ record: file ends before its {missing}")
            }
            Self::MissingPlus => write!(f, "FASTQ record has no '+' line before the next '@' header"),
            Self::QualityLength { seq_len, qual_len } => write!(
                f,
                "FASTQ quality length {qual_len} differs from sequence length {seq_len}"
            ),
        }
    }
}

impl fmt::Display for FastxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "file {} line {}: {}", self.file, self.line, self.kind)
        } else {
            write!(f, "file {}: {}", self.file, self.kind)
        }
    }
}

impl StdError for FastxError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            FastxErrorKind::Open(e) | FastxErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

/// Marker carried inside `io::Error`s from the gzip layer, so the reader can tell a damaged gzip
/// stream from an ordinary read error (the decoder only reports generic I/O error kinds).
#[derive(Debug)]
enum GzipProblem {
    Truncated,
    Corrupt(String),
}

impl fmt::Display for GzipProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => write!(f, "truncated gzip stream"),
            Self::Corrupt(d) => write!(f, "corrupt gzip stream: {d}"),
        }
    }
}

impl StdError for GzipProblem {}

/// A multi-member gzip decoder whose errors are tagged with [`GzipProblem`].
struct GzipSource<R: BufRead>(flate2::bufread::MultiGzDecoder<R>);

impl<R: BufRead> Read for GzipSource<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| match e.kind() {
            // flate2 reports a stream cut short as UnexpectedEof and bad data as InvalidInput/Data.
            io::ErrorKind::UnexpectedEof => io::Error::new(io::ErrorKind::UnexpectedEof, GzipProblem::Truncated),
            io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
                io::Error::new(io::ErrorKind::InvalidData, GzipProblem::Corrupt(e.to_string()))
            }
            _ => e,
        })
    }
}

/// Opens `path` for reading (`-` = stdin), transparently decompressing gzip.
///
/// Compression is recognised by the gzip magic bytes, not the file name, so a `.fa` that is really
/// gzip and a `.gz` that is really plain text both work. Concatenated gzip members (`cat a.gz b.gz`,
/// bgzip) are read as one stream.
pub fn open(path: &Path) -> Result<Box<dyn BufRead + Send>, FastxError> {
    if path.as_os_str() == "-" {
        return sniff(io::stdin(), "<stdin>");
    }
    let label = path.display().to_string();
    let file = File::open(path).map_err(|e| FastxError::new(&label, 0, FastxErrorKind::Open(e)))?;
    sniff(file, &label)
}

/// Reads the first two bytes to choose between plain and gzip, then puts them back in front.
fn sniff<R: Read + Send + 'static>(mut r: R, label: &str) -> Result<Box<dyn BufRead + Send>, FastxError> {
    let mut magic = [0u8; 2];
    let mut got = 0;
    // A pipe may deliver one byte at a time: loop until two bytes or end of input.
    while got < magic.len() {
        match r.read(&mut magic[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(FastxError::new(label, 0, FastxErrorKind::Io(e))),
        }
    }
    let head = io::Cursor::new(magic[..got].to_vec());
    let raw = BufReader::with_capacity(BUF_SIZE, head.chain(r));
    if got == magic.len() && magic == GZIP_MAGIC {
        let gz = GzipSource(flate2::bufread::MultiGzDecoder::new(raw));
        Ok(Box::new(BufReader::with_capacity(BUF_SIZE, gz)))
    } else {
        Ok(Box::new(raw))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Nothing read yet.
    Start,
    /// Reading records of this format.
    Reading(Format),
    /// End of input or after an error.
    Done,
}

/// Streaming FASTA/FASTQ reader over any [`BufRead`].
///
/// Iterate with [`Reader::next_record`] or as an [`Iterator`] of `Result<Record, FastxError>`.
/// After the first error the reader stops (returns `None`).
pub struct Reader<R: BufRead> {
    inner: R,
    file: String,
    /// Lines consumed so far (so the line just read is `line`).
    line: u64,
    state: State,
    /// A header line already read (without the `>`/`@`, line end included), waiting for its record.
    header: Vec<u8>,
    header_line: u64,
    has_header: bool,
    /// Scratch line buffer (FASTQ headers, blank-line skipping).
    scratch: Vec<u8>,
    /// Length of the previous sequence, to size the next one's buffer in one allocation.
    seq_hint: usize,
}

impl Reader<Box<dyn BufRead + Send>> {
    /// Opens `path` with [`open`] and labels errors with the path.
    pub fn from_path(path: &Path) -> Result<Self, FastxError> {
        let label = if path.as_os_str() == "-" {
            "<stdin>".to_string()
        } else {
            path.display().to_string()
        };
        Ok(Reader::new(open(path)?, label))
    }
}

impl<R: BufRead> Reader<R> {
    /// Wraps `inner`; `file_label` names the source in error messages.
    pub fn new(inner: R, file_label: String) -> Self {
        Self {
            inner,
            file: file_label,
            line: 0,
            state: State::Start,
            header: Vec::new(),
            header_line: 0,
            has_header: false,
            scratch: Vec::new(),
            seq_hint: 0,
        }
    }

    /// The file label used in errors.
    pub fn file_label(&self) -> &str {
        &self.file
    }

    /// The detected format, once the first record has been looked at.
    pub fn format(&self) -> Option<Format> {
        match self.state {
            State::Reading(f) => Some(f),
            _ => None,
        }
    }

    /// Number of lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    /// The next record, `None` at the end of input or after an error.
    pub fn next_record(&mut self) -> Option<Result<Record, FastxError>> {
        match self.read_next() {
            Ok(Some(r)) => Some(Ok(r)),
            Ok(None) => {
                self.state = State::Done;
                None
            }
            Err(e) => {
                self.state = State::Done;
                Some(Err(e))
            }
        }
    }

    fn err(&self, line: u64, kind: FastxErrorKind) -> FastxError {
        FastxError::new(&self.file, line, kind)
    }

    fn io_err(&self, e: io::Error) -> FastxError {
        // The error happened while reading the next line.
        FastxError::from_io(&self.file, self.line + 1, e)
    }

    /// Appends one line (with its `\n`, if any) to `buf`; returns the bytes read (0 at end of input).
    fn read_line(&mut self, buf: &mut Vec<u8>) -> Result<usize, FastxError> {
        match self.inner.read_until(b'\n', buf) {
            Ok(0) => Ok(0),
            Ok(n) => {
                self.line += 1;
                Ok(n)
            }
            Err(e) => Err(self.io_err(e)),
        }
    }

    fn read_next(&mut self) -> Result<Option<Record>, FastxError> {
        match self.state {
            State::Done => Ok(None),
            State::Start => {
                if !self.find_first_header()? {
                    return Ok(None);
                }
                self.read_next()
            }
            State::Reading(Format::Fasta) => self.next_fasta(),
            State::Reading(Format::Fastq) => self.next_fastq(),
        }
    }

    /// Skips blank lines and detects the format from the first non-blank byte.
    fn find_first_header(&mut self) -> Result<bool, FastxError> {
        let mut buf = mem::take(&mut self.scratch);
        let found = loop {
            buf.clear();
            if self.read_line(&mut buf)? == 0 {
                break false;
            }
            let mut s = buf.as_slice();
            if self.line == 1 && s.starts_with(BOM) {
                s = &s[BOM.len()..];
            }
            let Some(i) = s.iter().position(|&b| !is_blank(b)) else {
                continue;
            };
            let format = match s[i] {
                b'>' => Format::Fasta,
                b'@' => Format::Fastq,
                // Not a record start: control bytes or invalid UTF-8 mean a binary file.
                b if s.iter().any(|&c| is_control(c)) || std::str::from_utf8(s).is_err() => {
                    let byte = s.iter().copied().find(|&c| is_control(c)).unwrap_or(b);
                    return Err(self.err(self.line, FastxErrorKind::Binary { byte }));
                }
                b => {
                    return Err(self.err(
                        self.line,
                        FastxErrorKind::NoHeader {
                            found: b,
                            expected: None,
                        },
                    ))
                }
            };
            self.header.clear();
            self.header.extend_from_slice(&s[i + 1..]);
            self.header_line = self.line;
            self.has_header = true;
            self.state = State::Reading(format);
            break true;
        };
        self.scratch = buf;
        Ok(found)
    }

    /// Splits a raw header line (marker removed) into id and description.
    fn parse_header(&self, raw: &[u8], line: u64) -> Result<(String, Option<String>), FastxError> {
        let raw = trim_eol(raw);
        if let Some(&b) = raw.iter().find(|&&b| is_control(b)) {
            return Err(self.err(line, FastxErrorKind::Binary { byte: b }));
        }
        // Tolerate `> id`: some tools put a space after the marker. The id ends at any whitespace, a lone
        // carriage return or form feed included, so that it never carries one into tabular output.
        let space = |b: u8| b.is_ascii_whitespace();
        let start = raw.iter().position(|&b| !space(b)).unwrap_or(raw.len());
        let raw = &raw[start..];
        let (id, desc) = match raw.iter().position(|&b| space(b)) {
            Some(p) => (&raw[..p], Some(&raw[p + 1..])),
            None => (raw, None),
        };
        let desc = desc
            .filter(|d| !d.is_empty())
            .map(|d| String::from_utf8_lossy(d).into_owned());
        Ok((String::from_utf8_lossy(id).into_owned(), desc))
    }

    fn next_fasta(&mut self) -> Result<Option<Record>, FastxError> {
        if !self.has_header {
            return Ok(None);
        }
        self.has_header = false;
        let line = self.header_line;
        let (id, desc) = self.parse_header(&self.header, line)?;
        self.header.clear();

        let mut seq = Vec::with_capacity(self.seq_hint);
        loop {
            let start = seq.len();
            if self.read_line(&mut seq)? == 0 {
                break;
            }
            if seq[start] == b'>' {
                self.header.extend_from_slice(&seq[start + 1..]);
                seq.truncate(start);
                self.header_line = self.line;
                self.has_header = true;
                break;
            }
            if let Err(byte) = compact_line(&mut seq, start) {
                return Err(self.err(self.line, FastxErrorKind::Binary { byte }));
            }
        }
        // Capped so one huge record does not make every later record over-allocate.
        self.seq_hint = seq.len().min(1 << 20) + 128;
        Ok(Some(Record {
            id,
            desc,
            seq,
            qual: None,
            line,
        }))
    }

    fn next_fastq(&mut self) -> Result<Option<Record>, FastxError> {
        if !self.has_header {
            let mut buf = mem::take(&mut self.scratch);
            let found = self.next_nonblank_line(&mut buf);
            self.scratch = buf;
            if !found? {
                return Ok(None);
            }
        }
        self.has_header = false;
        let line = self.header_line;
        let (id, desc) = self.parse_header(&self.header, line)?;

        let mut seq = Vec::with_capacity(self.seq_hint);
        let mut seq_lines = 0u32;
        loop {
            let start = seq.len();
            if self.read_line(&mut seq)? == 0 {
                return Err(self.err(line, FastxErrorKind::TruncatedFastq { missing: "'+' line" }));
            }
            match seq[start] {
                b'+' => {
                    seq.truncate(start);
                    break;
                }
                // '@' is no nucleotide code: this is the next record, so the '+' line is missing.
                b'@' => return Err(self.err(self.line, FastxErrorKind::MissingPlus)),
                _ => {}
            }
            if let Err(byte) = compact_line(&mut seq, start) {
                return Err(self.err(self.line, FastxErrorKind::Binary { byte }));
            }
            seq_lines += 1;
        }

        let mut qual = Vec::with_capacity(seq.len() + 2);
        // One sequence line → exactly one quality line, so a short quality line is reported as such
        // instead of swallowing the next header. Multi-line records read until the length is reached.
        let single = seq_lines <= 1;
        loop {
            let start = qual.len();
            if self.read_line(&mut qual)? == 0 {
                if seq.is_empty() && qual.is_empty() {
                    break;
                }
                if single || qual.len() < seq.len() {
                    return Err(self.err(line, FastxErrorKind::TruncatedFastq { missing: "quality" }));
                }
                break;
            }
            if let Err(byte) = compact_line(&mut qual, start) {
                return Err(self.err(self.line, FastxErrorKind::Binary { byte }));
            }
            if single || qual.len() >= seq.len() {
                break;
            }
        }
        if qual.len() != seq.len() {
            return Err(self.err(
                self.line,
                FastxErrorKind::QualityLength {
                    seq_len: seq.len(),
                    qual_len: qual.len(),
                },
            ));
        }
        self.seq_hint = seq.len().min(1 << 20) + 128;
        Ok(Some(Record {
            id,
            desc,
            seq,
            qual: Some(qual),
            line,
        }))
    }

    /// Reads the next non-blank line as a FASTQ header into `self.header`; false at end of input.
    fn next_nonblank_line(&mut self, buf: &mut Vec<u8>) -> Result<bool, FastxError> {
        loop {
            buf.clear();
            if self.read_line(buf)? == 0 {
                return Ok(false);
            }
            let Some(i) = buf.iter().position(|&b| !is_blank(b)) else {
                continue;
            };
            let first = buf[i];
            if first != b'@' {
                let kind = if is_control(first) {
                    FastxErrorKind::Binary { byte: first }
                } else {
                    FastxErrorKind::NoHeader {
                        found: first,
                        expected: Some(Format::Fastq),
                    }
                };
                return Err(self.err(self.line, kind));
            }
            self.header.clear();
            self.header.extend_from_slice(&buf[i + 1..]);
            self.header_line = self.line;
            return Ok(true);
        }
    }
}

impl<R: BufRead> Iterator for Reader<R> {
    type Item = Result<Record, FastxError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record()
    }
}

/// Space, tab, CR, LF, form feed: what a line may contain besides data.
#[inline]
fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0c)
}

/// Control bytes that never occur in text files (NUL, escape, DEL, ...).
#[inline]
fn is_control(b: u8) -> bool {
    (b < 0x20 && !is_blank(b)) || b == 0x7f
}

fn trim_eol(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r'] = s {
        s = rest;
    }
    s
}

/// Removes whitespace from `v[start..]` in place; `Err(byte)` on a control byte.
#[inline]
fn compact_line(v: &mut Vec<u8>, start: usize) -> Result<(), u8> {
    let mut end = v.len();
    while end > start && matches!(v[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    // Fast path: a typical line is printable ASCII only. `fold` (no early exit) lets the compiler
    // vectorise the check.
    let clean = v[start..end]
        .iter()
        .fold(true, |ok, &b| ok & (b.wrapping_sub(0x21) < 0x5e));
    if clean {
        v.truncate(end);
        return Ok(());
    }
    let mut w = start;
    for r in start..end {
        let b = v[r];
        if is_blank(b) {
            continue;
        }
        if is_control(b) {
            return Err(b);
        }
        v[w] = b;
        w += 1;
    }
    v.truncate(w);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn read_all(data: &[u8]) -> Vec<Result<Record, FastxError>> {
        Reader::new(data, "t.fa".to_string()).collect()
    }

    fn ok_all(data: &[u8]) -> Vec<Record> {
        read_all(data)
            .into_iter()
            .map(|r| r.unwrap_or_else(|e| panic!("unexpected error: {e}")))
            .collect()
    }

    fn first_err(data: &[u8]) -> FastxError {
        match read_all(data).into_iter().find_map(|r| r.err()) {
            Some(e) => e,
            None => panic!("expected an error"),
        }
    }

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    /// A temporary file removed on drop (no tempfile dependency in this crate).
    struct TempFile(PathBuf);
    impl TempFile {
        fn new(name: &str, content: &[u8]) -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let p = std::env::temp_dir().join(format!("edna-fastx-{}-{n}-{name}", std::process::id()));
            std::fs::write(&p, content).unwrap();
            Self(p)
        }
    }
    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    #[test]
    fn fasta_basic_multiline_and_desc() {
        let lone_cr = ok_all(b">q1\rjunk desc\nACGT\n>q2\x0cff\nACGT\n");
        assert_eq!(
            (lone_cr[0].id.as_str(), lone_cr[0].desc.as_deref()),
            ("q1", Some("junk desc"))
        );
        assert_eq!(lone_cr[1].id, "q2");
        let recs = ok_all(b">s1 some desc\twith tab\nACGT\nacgt\n>s2\nNNNN\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].id, "s1");
        assert_eq!(recs[0].desc.as_deref(), Some("some desc\twith tab"));
        assert_eq!(recs[0].seq, b"ACGTacgt");
        assert_eq!(recs[0].qual, None);
        assert_eq!(recs[0].line, 1);
        assert_eq!(recs[1].id, "s2");
        assert_eq!(recs[1].desc, None);
        assert_eq!(recs[1].line, 4);
    }

    #[test]
    fn fasta_crlf_blank_lines_no_trailing_newline() {
        let data = b"\r\n\n>a x\r\nAC GT\r\n\r\nTT\r\n\n>b\r\nGG";
        let recs = ok_all(data);
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].id, "a");
        assert_eq!(recs[0].desc.as_deref(), Some("x"));
        assert_eq!(recs[0].seq, b"ACGTTT");
        assert_eq!(recs[0].line, 3);
        assert_eq!(recs[1].seq, b"GG");
        assert_eq!(recs[1].line, 8);
    }

    #[test]
    fn fasta_empty_records_are_returned() {
        let recs = ok_all(b">a\n>b\nAC\n>c\n");
        let ids: Vec<_> = recs.iter().map(|r| (r.id.as_str(), r.seq.len())).collect();
        assert_eq!(ids, vec![("a", 0), ("b", 2), ("c", 0)]);
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(ok_all(b"").is_empty());
        assert!(ok_all(b"\n\n  \r\n").is_empty());
    }

    #[test]
    fn bom_and_space_after_marker() {
        let recs = ok_all(b"\xEF\xBB\xBF> id1 d\nAC\n");
        assert_eq!(recs[0].id, "id1");
        assert_eq!(recs[0].desc.as_deref(), Some("d"));
    }

    #[test]
    fn very_long_single_line() {
        let mut data = b">long\n".to_vec();
        let n = 10 * 1024 * 1024;
        data.extend(std::iter::repeat_n(b'A', n));
        data.extend_from_slice(b"\n>short\nC\n");
        let recs = ok_all(&data);
        assert_eq!(recs[0].seq.len(), n);
        assert_eq!(recs[1].seq, b"C");
        assert_eq!(recs[1].line, 3);
    }

    #[test]
    fn sequence_before_header() {
        let e = first_err(b"\nACGT\n>a\nAC\n");
        assert_eq!(e.line, 2);
        let msg = e.to_string();
        assert!(
            msg.starts_with("file t.fa line 2: expected '>' or '@' at start of record"),
            "{msg}"
        );
    }

    #[test]
    fn binary_data_in_sequence_and_header() {
        let e = first_err(b">a\nACGT\nAC\x00GT\n");
        assert!(matches!(e.kind, FastxErrorKind::Binary { byte: 0 }));
        assert_eq!(e.line, 3);
        assert!(e.to_string().contains("binary data"), "{e}");

        let e = first_err(b">a\x1b[0m\nAC\n");
        assert!(matches!(e.kind, FastxErrorKind::Binary { byte: 0x1b }));
        assert_eq!(e.line, 1);

        // A binary file: the first byte is a control byte.
        let e = first_err(b"\x89PNG\r\n\x1a\n\x00\x00");
        assert!(matches!(e.kind, FastxErrorKind::Binary { .. }), "{e}");
    }

    #[test]
    fn reader_stops_after_error() {
        let mut r = Reader::new(&b">a\nA\x01\n>b\nAC\n"[..], "x".into());
        assert!(matches!(r.next_record(), Some(Err(_))));
        assert!(r.next_record().is_none());
    }

    #[test]
    fn fastq_basic() {
        let recs = ok_all(b"@r1 desc\nACGT\n+\nIIII\n\n@r2\r\nAC\r\n+r2\r\n#!\r\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].id, "r1");
        assert_eq!(recs[0].desc.as_deref(), Some("desc"));
        assert_eq!(recs[0].seq, b"ACGT");
        assert_eq!(recs[0].qual.as_deref(), Some(&b"IIII"[..]));
        assert_eq!(recs[1].line, 6);
        assert_eq!(recs[1].qual.as_deref(), Some(&b"#!"[..]));
    }

    #[test]
    fn fastq_quality_may_start_with_at() {
        let recs = ok_all(b"@r1\nAC\n+\n@I\n@r2\nA\n+\nI");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].qual.as_deref(), Some(&b"@I"[..]));
        assert_eq!(recs[1].seq, b"A");
    }

    #[test]
    fn fastq_multiline() {
        let recs = ok_all(b"@r1\nACG\nTA\n+\nIII\nII\n@r2\nA\n+\nI\n");
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].seq, b"ACGTA");
        assert_eq!(recs[0].qual.as_deref(), Some(&b"IIIII"[..]));
    }

    #[test]
    fn fastq_empty_record() {
        let recs = ok_all(b"@r1\n\n+\n\n@r2\nA\n+\nI\n");
        assert_eq!(recs[0].seq, b"");
        assert_eq!(recs[1].id, "r2");
    }

    #[test]
    fn fastq_quality_mismatch() {
        let e = first_err(b"@r1\nACGT\n+\nIII\n@r2\nA\n+\nI\n");
        assert!(
            matches!(
                e.kind,
                FastxErrorKind::QualityLength {
                    seq_len: 4,
                    qual_len: 3
                }
            ),
            "{e}"
        );
        assert_eq!(e.line, 4);
    }

    #[test]
    fn fastq_truncated() {
        for data in [&b"@r1\nACGT\n"[..], b"@r1\nACGT\n+\n", b"@r1\nACGT"] {
            let e = first_err(data);
            assert!(matches!(e.kind, FastxErrorKind::TruncatedFastq { .. }), "{e}");
            assert_eq!(e.line, 1);
            assert!(e.to_string().contains("truncated FASTQ record"));
        }
        let e = first_err(b"@r1\nACGT\n@r2\nAC\n+\nII\n");
        assert!(matches!(e.kind, FastxErrorKind::MissingPlus), "{e}");
        assert_eq!(e.line, 3);
    }

    #[test]
    fn fastq_garbage_between_records() {
        let e = first_err(b"@r1\nA\n+\nI\nXYZ\n");
        assert!(matches!(e.kind, FastxErrorKind::NoHeader { .. }), "{e}");
        assert_eq!(e.line, 5);
        assert!(e.to_string().contains("expected '@'"));
    }

    #[test]
    fn gzip_round_trip_detected_by_magic() {
        let plain = b">a\nACGT\n>b\nGG\n";
        // Named .fa: compression is recognised by content, not extension.
        let f = TempFile::new("x.fa", &gz(plain));
        let recs: Vec<_> = Reader::from_path(&f.0).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[1].seq, b"GG");
        // And a plain file named .gz is read as plain.
        let f = TempFile::new("y.fa.gz", plain);
        let recs: Vec<_> = Reader::from_path(&f.0).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
        assert_eq!(recs.len(), 2);
    }

    #[test]
    fn gzip_multi_member() {
        let mut data = gz(b">a\nAC\n");
        data.extend(gz(b">b\nGT\n"));
        let f = TempFile::new("m.fa.gz", &data);
        let ids: Vec<_> = Reader::from_path(&f.0).unwrap().map(|r| r.unwrap().id).collect();
        assert_eq!(ids, vec!["a", "b"]);
    }

    #[test]
    fn gzip_truncated() {
        let mut plain = Vec::new();
        for i in 0..2000 {
            plain.extend_from_slice(format!(">r{i}\nACGTTGCAACGGT{i}\n").as_bytes());
        }
        let full = gz(&plain);
        for cut in [full.len() / 2, full.len() - 4, 5] {
            let f = TempFile::new("t.fa.gz", &full[..cut]);
            let mut reader = Reader::from_path(&f.0).unwrap();
            let e = loop {
                match reader.next_record() {
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => break e,
                    None => panic!("truncated gzip (cut at {cut}) read without error"),
                }
            };
            assert!(matches!(e.kind, FastxErrorKind::TruncatedGzip), "cut {cut}: {e}");
            let msg = e.to_string();
            assert!(msg.contains("truncated gzip"), "{msg}");
            assert!(msg.contains("t.fa.gz"), "{msg}");
        }
    }

    #[test]
    fn gzip_corrupt() {
        let mut data = gz(b">a\nACGTACGTACGTACGT\n");
        let n = data.len();
        for b in &mut data[10..n - 8] {
            *b ^= 0x55;
        }
        let f = TempFile::new("c.fa.gz", &data);
        let e = Reader::from_path(&f.0).unwrap().find_map(|r| r.err()).unwrap();
        assert!(
            matches!(e.kind, FastxErrorKind::CorruptGzip(_) | FastxErrorKind::TruncatedGzip),
            "{e}"
        );
    }

    #[test]
    fn open_missing_file() {
        let e = match open(Path::new("/nonexistent/dir/x.fa")) {
            Err(e) => e,
            Ok(_) => panic!("opened a missing file"),
        };
        assert!(matches!(e.kind, FastxErrorKind::Open(_)));
        assert!(e.to_string().starts_with("file /nonexistent/dir/x.fa: cannot open"));
    }

    #[test]
    fn one_byte_file() {
        let f = TempFile::new("one.fa", b">");
        let recs: Vec<_> = Reader::from_path(&f.0).unwrap().collect();
        assert_eq!(recs.len(), 1);
        let r = recs.into_iter().next().unwrap().unwrap();
        assert_eq!(r.id, "");
    }

    /// Throughput on plain FASTA: `cargo test --release -p edna-seq fastx_speed -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn fastx_speed() {
        let mut data = Vec::new();
        let line = b"ACGTTGCAACGGTACGATCGATCGATCGGCTAGCTAGCTAGCATCGATCGACTGACTGACTACGTAGCT\n";
        let mut i = 0;
        while data.len() < 200 << 20 {
            data.extend_from_slice(format!(">seq{i} some description\n").as_bytes());
            for _ in 0..20 {
                data.extend_from_slice(line);
            }
            i += 1;
        }
        let t = std::time::Instant::now();
        let mut n = 0usize;
        let mut bases = 0usize;
        for r in Reader::new(BufReader::with_capacity(BUF_SIZE, &data[..]), "mem".into()) {
            let r = r.unwrap();
            n += 1;
            bases += r.seq.len();
        }
        let secs = t.elapsed().as_secs_f64();
        assert_eq!(n, i);
        println!("{n} records, {bases} bases, {:.0} MB/s", data.len() as f64 / secs / 1e6);
    }
}

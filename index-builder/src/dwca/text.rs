//! Delimited text rows (DwC-A data files, CSV/TSV tables): encodings, BOM, quotes, line numbers.
//!
//! Hand-written rather than `csv` because a bad row must become a warning naming its line, and an
//! unterminated quote must not swallow the rest of the file.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::{self, BufRead, Read};

use super::error::DwcaError;

/// A quoted field spanning more lines than this is taken for an unterminated quote.
const MAX_CONTINUATION_LINES: usize = 10_000;
/// ... or one longer than this many bytes.
const MAX_RECORD_BYTES: usize = 64 << 20;
/// A physical line longer than this is not text we can use (and must not fill memory).
const MAX_LINE_BYTES: u64 = 256 << 20;

/// Character encoding of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// UTF-8 (a BOM is stripped).
    Utf8,
    /// ISO-8859-1: every byte is the code point of the same value.
    Latin1,
    /// windows-1252: latin1 with printable characters in 0x80..0x9F.
    Windows1252,
}

impl Encoding {
    /// Parse a meta.xml `encoding` attribute; `None` when unknown.
    pub(crate) fn parse(name: &str) -> Option<Encoding> {
        let n = name.trim().to_ascii_lowercase().replace(['-', '_', ' '], "");
        match n.as_str() {
            "" | "utf8" | "utf8bom" | "ascii" | "usascii" => Some(Encoding::Utf8),
            "iso88591" | "latin1" | "l1" | "iso885915" => Some(Encoding::Latin1),
            "windows1252" | "cp1252" | "win1252" => Some(Encoding::Windows1252),
            _ => None,
        }
    }

    /// Decode one field; the flag is true when invalid UTF-8 had to be replaced.
    pub(crate) fn decode<'a>(self, bytes: &'a [u8]) -> (Cow<'a, str>, bool) {
        match self {
            Encoding::Utf8 => match std::str::from_utf8(bytes) {
                Ok(s) => (Cow::Borrowed(s), false),
                Err(_) => (String::from_utf8_lossy(bytes), true),
            },
            Encoding::Latin1 | Encoding::Windows1252 => {
                if bytes.is_ascii() {
                    // ASCII is valid UTF-8 and identical in both encodings.
                    return (Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default()), false);
                }
                let s = bytes
                    .iter()
                    .map(|&b| {
                        if self == Encoding::Windows1252 && (0x80..0xA0).contains(&b) {
                            CP1252_HIGH[usize::from(b - 0x80)]
                        } else {
                            char::from(b)
                        }
                    })
                    .collect();
                (Cow::Owned(s), false)
            }
        }
    }
}

/// windows-1252 0x80..0x9F (undefined positions keep their C1 control code point, as WHATWG does).
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{0081}', '\u{201A}', '\u{0192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}', '\u{02C6}',
    '\u{2030}', '\u{0160}', '\u{2039}', '\u{0152}', '\u{008D}', '\u{017D}', '\u{008F}', '\u{0090}', '\u{2018}',
    '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}', '\u{02DC}', '\u{2122}', '\u{0161}',
    '\u{203A}', '\u{0153}', '\u{009D}', '\u{017E}', '\u{0178}',
];

/// How a data file is split into rows and fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect {
    /// Field separator.
    pub(crate) delimiter: u8,
    /// Quote character (`None`: quotes are ordinary characters).
    pub(crate) quote: Option<u8>,
    /// Line terminator: `\n` (a preceding `\r` is dropped) or a lone `\r`.
    pub(crate) line_end: u8,
    /// Text encoding.
    pub(crate) encoding: Encoding,
}

impl Default for Dialect {
    fn default() -> Self {
        Dialect {
            delimiter: b'\t',
            quote: None,
            line_end: b'\n',
            encoding: Encoding::Utf8,
        }
    }
}

/// One parsed row: field bytes (unescaped) and where each field ends.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// Fields, each followed by one separator byte.
    buf: Vec<u8>,
    /// End offset of each field in `buf`.
    ends: Vec<usize>,
    /// 1-based line where the row starts.
    pub(crate) line: u64,
}

impl Record {
    /// Number of fields.
    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    /// Field `i`, raw bytes.
    pub(crate) fn get(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] + 1 };
        self.buf.get(start..end)
    }

    /// Number of fields, not counting empty trailing ones (a trailing delimiter is common).
    pub(crate) fn len_trimmed(&self) -> usize {
        let mut n = self.len();
        while n > 0 && self.get(n - 1).is_some_and(|f| f.trim_ascii().is_empty()) {
            n -= 1;
        }
        n
    }

    fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    /// Fast path: split a line without quotes; takes the line's buffer.
    fn split_plain(&mut self, line: &mut Vec<u8>, delimiter: u8) {
        std::mem::swap(&mut self.buf, line);
        self.ends.clear();
        for (i, &b) in self.buf.iter().enumerate() {
            if b == delimiter {
                self.ends.push(i);
            }
        }
        self.ends.push(self.buf.len());
    }
}

/// Outcome of [`RowReader::next`].
#[derive(Debug, PartialEq)]
pub(crate) enum Next {
    /// A row was read into the record.
    Row,
    /// A malformed row was skipped.
    Bad {
        /// Line where it starts.
        line: u64,
        /// Warning reason code.
        reason: &'static str,
        /// Detail.
        message: String,
    },
    /// End of file.
    Eof,
}

/// Reads rows from a (decompressed) data file.
pub(crate) struct RowReader<'a> {
    inner: Box<dyn BufRead + 'a>,
    dialect: Dialect,
    /// File name for errors.
    file: String,
    /// The stream is gzip (an early EOF is a truncated gzip).
    gz: bool,
    /// Physical lines consumed.
    line_no: u64,
    /// Lines to read again after an unterminated quote (line number, bytes).
    pending: VecDeque<(u64, Vec<u8>)>,
    line: Vec<u8>,
    at_start: bool,
}

impl<'a> RowReader<'a> {
    /// Wrap a stream. A lone-`\r` terminator is only believed when the file has no `\n` at all.
    pub(crate) fn new(
        mut inner: Box<dyn BufRead + 'a>,
        mut dialect: Dialect,
        file: String,
        gz: bool,
    ) -> Result<Self, DwcaError> {
        let head = inner.fill_buf().map_err(|e| DwcaError::from_io(e, &file, 1, gz))?;
        if dialect.line_end == b'\r' && head.contains(&b'\n') {
            dialect.line_end = b'\n';
        }
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(DwcaError::from_io(
                io::Error::new(io::ErrorKind::InvalidData, "UTF-16 text is not supported"),
                &file,
                1,
                false,
            ));
        }
        if head.starts_with(b"\xEF\xBB\xBF") {
            // A BOM says UTF-8 whatever meta.xml claims.
            dialect.encoding = Encoding::Utf8;
        }
        Ok(RowReader {
            inner,
            dialect,
            file,
            gz,
            line_no: 0,
            pending: VecDeque::new(),
            line: Vec::with_capacity(4096),
            at_start: true,
        })
    }

    /// The dialect in use.
    pub(crate) fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// Read the next physical line into `self.line` (terminator removed); its 1-based number, or `None` at
    /// the end.
    fn physical(&mut self) -> Result<Option<u64>, DwcaError> {
        if let Some((n, bytes)) = self.pending.pop_front() {
            self.line = bytes;
            return Ok(Some(n));
        }
        self.line.clear();
        let read = (&mut self.inner)
            .take(MAX_LINE_BYTES)
            .read_until(self.dialect.line_end, &mut self.line)
            .map_err(|e| DwcaError::from_io(e, &self.file, self.line_no + 1, self.gz))?;
        if read == 0 {
            return Ok(None);
        }
        if read as u64 == MAX_LINE_BYTES && self.line.last() != Some(&self.dialect.line_end) {
            return Err(DwcaError::from_io(
                io::Error::new(io::ErrorKind::InvalidData, "line longer than 256 MiB"),
                &self.file,
                self.line_no + 1,
                false,
            ));
        }
        self.line_no += 1;
        if self.line.last() == Some(&self.dialect.line_end) {
            self.line.pop();
        }
        if self.dialect.line_end == b'\n' && self.line.last() == Some(&b'\r') {
            self.line.pop();
        }
        if self.at_start {
            self.at_start = false;
            if self.line.starts_with(b"\xEF\xBB\xBF") {
                self.line.drain(..3);
            }
        }
        Ok(Some(self.line_no))
    }

    /// Read the next row into `rec`. Blank lines are skipped.
    pub(crate) fn next(&mut self, rec: &mut Record) -> Result<Next, DwcaError> {
        loop {
            let Some(n) = self.physical()? else {
                return Ok(Next::Eof);
            };
            if self.line.is_empty() {
                continue;
            }
            rec.line = n;
            match self.dialect.quote {
                Some(q) if self.line.contains(&q) => return self.parse_quoted(rec, q),
                _ => {
                    rec.split_plain(&mut self.line, self.dialect.delimiter);
                    return Ok(Next::Row);
                }
            }
        }
    }

    /// Parse a row whose line contains the quote character; quoted fields may span lines.
    fn parse_quoted(&mut self, rec: &mut Record, q: u8) -> Result<Next, DwcaError> {
        let d = self.dialect.delimiter;
        let start = rec.line;
        rec.clear();
        let mut cur = std::mem::take(&mut self.line);
        // Continuation lines, kept so they can be read again if the quote never closes.
        let mut continued: Vec<(u64, Vec<u8>)> = Vec::new();
        let mut i = 0;
        loop {
            if cur.get(i) == Some(&q) {
                i += 1;
                loop {
                    match cur[i..].iter().position(|&b| b == q) {
                        Some(off) => {
                            let j = i + off;
                            rec.buf.extend_from_slice(&cur[i..j]);
                            if cur.get(j + 1) == Some(&q) {
                                rec.buf.push(q);
                                i = j + 2;
                                continue;
                            }
                            i = j + 1;
                            match cur.get(i) {
                                None => {
                                    rec.ends.push(rec.buf.len());
                                    self.line = cur;
                                    return Ok(Next::Row);
                                }
                                Some(&b) if b == d => {
                                    rec.ends.push(rec.buf.len());
                                    rec.buf.push(d);
                                    i += 1;
                                    break;
                                }
                                Some(_) => {
                                    self.line = cur;
                                    return Ok(Next::Bad {
                                        line: start,
                                        reason: "csv-quoting",
                                        message: format!(
                                            "text after the closing quote of field {}",
                                            rec.ends.len() + 1
                                        ),
                                    });
                                }
                            }
                        }
                        None => {
                            // The quoted field goes on on the next line.
                            rec.buf.extend_from_slice(&cur[i..]);
                            rec.buf.push(b'\n');
                            let next = self.physical()?;
                            let too_long =
                                continued.len() >= MAX_CONTINUATION_LINES || rec.buf.len() > MAX_RECORD_BYTES;
                            match next {
                                Some(n) if !too_long => {
                                    cur = std::mem::take(&mut self.line);
                                    continued.push((n, cur.clone()));
                                    i = 0;
                                }
                                other => {
                                    // Unterminated: drop the first line only and read the rest again.
                                    if let Some(n) = other {
                                        self.pending.push_front((n, std::mem::take(&mut self.line)));
                                    }
                                    for item in continued.into_iter().rev() {
                                        self.pending.push_front(item);
                                    }
                                    return Ok(Next::Bad {
                                        line: start,
                                        reason: "csv-quoting",
                                        message: format!("unterminated quote in field {}", rec.ends.len() + 1),
                                    });
                                }
                            }
                        }
                    }
                }
            } else {
                match cur[i..].iter().position(|&b| b == d) {
                    Some(off) => {
                        rec.buf.extend_from_slice(&cur[i..i + off]);
                        rec.ends.push(rec.buf.len());
                        rec.buf.push(d);
                        i += off + 1;
                    }
                    None => {
                        rec.buf.extend_from_slice(&cur[i..]);
                        rec.ends.push(rec.buf.len());
                        self.line = cur;
                        return Ok(Next::Row);
                    }
                }
            }
        }
    }
}

/// Guess the delimiter of a table from its header line: the most frequent of tab, comma, semicolon and
/// pipe outside quotes; `fallback` when none occurs.
pub(crate) fn sniff_delimiter(header: &[u8], fallback: u8) -> u8 {
    let mut counts = [0usize; 4];
    let cands = [b'\t', b',', b';', b'|'];
    let mut in_quotes = false;
    for &b in header {
        if b == b'"' {
            in_quotes = !in_quotes;
        } else if !in_quotes {
            if let Some(k) = cands.iter().position(|&c| c == b) {
                counts[k] += 1;
            }
        }
    }
    let fb = cands.iter().position(|&c| c == fallback);
    let mut best: Option<usize> = None;
    for k in 0..cands.len() {
        if counts[k] == 0 {
            continue;
        }
        let better = match best {
            None => true,
            Some(b) => counts[k] > counts[b] || (counts[k] == counts[b] && Some(k) == fb),
        };
        if better {
            best = Some(k);
        }
    }
    best.map_or(fallback, |k| cands[k])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[u8], dialect: Dialect) -> Vec<Result<Vec<String>, (u64, &'static str)>> {
        let mut r = RowReader::new(Box::new(text), dialect, "t.csv".into(), false).expect("reader");
        let mut rec = Record::default();
        let mut out = Vec::new();
        loop {
            match r.next(&mut rec).expect("read") {
                Next::Row => out.push(Ok((0..rec.len())
                    .map(|i| String::from_utf8_lossy(rec.get(i).unwrap_or_default()).into_owned())
                    .collect())),
                Next::Bad { line, reason, .. } => out.push(Err((line, reason))),
                Next::Eof => return out,
            }
        }
    }

    fn csv() -> Dialect {
        Dialect {
            delimiter: b',',
            quote: Some(b'"'),
            ..Dialect::default()
        }
    }

    #[test]
    fn dwca_text_quotes_bom_crlf() {
        let got = rows(
            b"\xEF\xBB\xBFa,b,c\r\n\"x, y\",\"he said \"\"hi\"\"\",3\r\n\r\n\"multi\nline\",2,\r\n",
            csv(),
        );
        assert_eq!(
            got,
            vec![
                Ok(vec!["a".into(), "b".into(), "c".into()]),
                Ok(vec!["x, y".into(), "he said \"hi\"".into(), "3".into()]),
                Ok(vec!["multi\nline".into(), "2".into(), "".into()]),
            ]
        );
    }

    #[test]
    fn dwca_text_unterminated_quote_recovers() {
        let got = rows(b"h1,h2\n\"open,1\nok,2\nok,3\n", csv());
        assert_eq!(got[0], Ok(vec!["h1".into(), "h2".into()]));
        assert_eq!(got[1], Err((2, "csv-quoting")));
        assert_eq!(got[2], Ok(vec!["ok".into(), "2".into()]));
        assert_eq!(got[3], Ok(vec!["ok".into(), "3".into()]));
        assert_eq!(got.len(), 4);
    }

    #[test]
    fn dwca_text_junk_after_quote() {
        let got = rows(b"\"a\"b,1\nc,2\n", csv());
        assert_eq!(got, vec![Err((1, "csv-quoting")), Ok(vec!["c".into(), "2".into()])]);
    }

    #[test]
    fn dwca_text_encodings() {
        assert_eq!(Encoding::Latin1.decode(b"caf\xE9").0, "café");
        assert_eq!(Encoding::Windows1252.decode(b"\x93q\x94").0, "\u{201C}q\u{201D}");
        let (s, bad) = Encoding::Utf8.decode(b"a\xFFb");
        assert!(bad);
        assert_eq!(s, "a\u{FFFD}b");
        assert_eq!(Encoding::parse("ISO-8859-1"), Some(Encoding::Latin1));
        assert_eq!(Encoding::parse("UTF-8"), Some(Encoding::Utf8));
        assert_eq!(Encoding::parse("windows-1252"), Some(Encoding::Windows1252));
    }

    #[test]
    fn dwca_text_sniff() {
        assert_eq!(sniff_delimiter(b"a\tb\tc", b','), b'\t');
        assert_eq!(sniff_delimiter(b"\"a,x\";b;c", b','), b';');
        assert_eq!(sniff_delimiter(b"abc", b','), b',');
    }
}

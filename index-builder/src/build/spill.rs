//! Spill files: fixed-width records appended to an anonymous temporary file while inputs are read, then
//! read back in order, as often as the write needs. They keep per-occurrence data (GBIF holds ~10
//! occurrences per distinct sequence) out of memory, so build memory follows the distinct sequences.
//!
//! The files are created unlinked (`tempfile::tempfile_in`), so a killed build leaves nothing behind.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::marker::PhantomData;
use std::path::Path;

use bytemuck::Pod;

/// Buffer size for spill reads and writes.
const BUF: usize = 1 << 20;

/// An append-only file of `T` records.
pub(super) struct Spill<T> {
    out: BufWriter<File>,
    len: u64,
    _records: PhantomData<T>,
}

impl<T: Pod> Spill<T> {
    /// A new empty spill file in `dir`.
    pub(super) fn new(dir: &Path) -> io::Result<Self> {
        Ok(Spill {
            out: BufWriter::with_capacity(BUF, tempfile::tempfile_in(dir)?),
            len: 0,
            _records: PhantomData,
        })
    }

    /// Appends one record.
    pub(super) fn push(&mut self, record: &T) -> io::Result<()> {
        self.out.write_all(bytemuck::bytes_of(record))?;
        self.len += 1;
        Ok(())
    }

    /// Appends records.
    pub(super) fn extend(&mut self, records: &[T]) -> io::Result<()> {
        self.out.write_all(bytemuck::cast_slice(records))?;
        self.len += records.len() as u64;
        Ok(())
    }

    /// Records written.
    pub(super) fn len(&self) -> u64 {
        self.len
    }

    /// Reads the records from the first, after everything written so far. One reader at a time: readers
    /// share the file position.
    pub(super) fn reader(&mut self) -> io::Result<SpillReader<T>> {
        self.out.flush()?;
        let mut file = self.out.get_ref().try_clone()?;
        file.seek(SeekFrom::Start(0))?;
        Ok(SpillReader {
            input: BufReader::with_capacity(BUF, file),
            left: self.len,
            _records: PhantomData,
        })
    }
}

/// Reads a [`Spill`] back in write order.
pub(super) struct SpillReader<T> {
    input: BufReader<File>,
    left: u64,
    _records: PhantomData<T>,
}

impl<T: Pod> SpillReader<T> {
    /// The next record, or `None` after the last.
    pub(super) fn next(&mut self) -> io::Result<Option<T>> {
        if self.left == 0 {
            return Ok(None);
        }
        let mut record = T::zeroed();
        self.input.read_exact(bytemuck::bytes_of_mut(&mut record))?;
        self.left -= 1;
        Ok(Some(record))
    }

    /// Fills `out` (cleared first) with the next `n` records.
    pub(super) fn take_into(&mut self, n: usize, out: &mut Vec<T>) -> io::Result<()> {
        if n as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "spill file shorter than recorded",
            ));
        }
        out.clear();
        out.resize(n, T::zeroed());
        self.input.read_exact(bytemuck::cast_slice_mut(out))?;
        self.left -= n as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_come_back_in_order_on_every_pass() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill: Spill<[u32; 2]> = Spill::new(dir.path()).unwrap();
        let want: Vec<[u32; 2]> = (0..300_000u32).map(|i| [i, i.wrapping_mul(2_654_435_761)]).collect();
        spill.extend(&want[..1000]).unwrap();
        for r in &want[1000..] {
            spill.push(r).unwrap();
        }
        assert_eq!(spill.len(), want.len() as u64);
        for _ in 0..2 {
            let mut r = spill.reader().unwrap();
            let mut got = Vec::new();
            let mut chunk = Vec::new();
            r.take_into(7, &mut chunk).unwrap();
            got.extend_from_slice(&chunk);
            while let Some(x) = r.next().unwrap() {
                got.push(x);
            }
            assert_eq!(got, want);
            assert!(r.take_into(1, &mut chunk).is_err());
        }
        // Nothing is left in the directory: the file was never linked.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

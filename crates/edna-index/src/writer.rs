//! Writing an index: sections are streamed to a temporary file next to the final one, then the header
//! and section table are written, the file is synced and renamed into place. A crash at any moment
//! leaves the previous index (or none) and at worst a stray temporary file, never a half index.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use bytemuck::Pod;
use xxhash_rust::xxh3::Xxh3;

use crate::error::IndexError;
use crate::format::{
    Header, SectionEntry, SectionKind, ENDIAN_MARK, FORMAT_VERSION, HEADER_LEN, MAGIC, SECTION_ALIGN, SECTION_ENTRY_LEN,
};

/// Streams sections into a new index file.
pub struct IndexWriter {
    out: Option<BufWriter<File>>,
    tmp_path: PathBuf,
    final_path: PathBuf,
    entries: Vec<SectionEntry>,
    pos: u64,
    table_capacity: usize,
    open: Option<OpenSection>,
}

/// A section being appended to.
struct OpenSection {
    kind: SectionKind,
    elem_size: u32,
    offset: u64,
    hasher: Xxh3,
}

/// Prefix of temporary files; stray ones from killed builds are removed by [`IndexWriter::create`].
const TMP_PREFIX: &str = ".index.edna.tmp-";

impl IndexWriter {
    /// Starts writing `dir/index.edna` (via a temporary file in `dir`, which is created if needed).
    pub fn create(dir: &Path) -> Result<Self, IndexError> {
        std::fs::create_dir_all(dir).map_err(|e| IndexError::io(dir, e))?;
        remove_stale_temporaries(dir);
        let final_path = dir.join(crate::INDEX_FILE_NAME);
        let tmp_path = dir.join(format!("{TMP_PREFIX}{}", std::process::id()));
        let file = File::create(&tmp_path).map_err(|e| IndexError::io(&tmp_path, e))?;
        let table_capacity = SectionKind::ALL.len();
        let mut w = IndexWriter {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp_path,
            final_path,
            entries: Vec::new(),
            pos: 0,
            table_capacity,
            open: None,
        };
        let reserved = HEADER_LEN + table_capacity * SECTION_ENTRY_LEN;
        w.write_raw(&vec![0u8; reserved])?;
        Ok(w)
    }

    fn write_raw(&mut self, bytes: &[u8]) -> Result<(), IndexError> {
        let out = self
            .out
            .as_mut()
            .ok_or_else(|| IndexError::corrupt(&self.tmp_path, "writer already finished"))?;
        out.write_all(bytes).map_err(|e| IndexError::io(&self.tmp_path, e))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Adds a section holding `data`.
    pub fn add<T: Pod>(&mut self, kind: SectionKind, data: &[T]) -> Result<(), IndexError> {
        self.add_bytes_with_elem(kind, bytemuck::cast_slice(data), std::mem::size_of::<T>() as u32)
    }

    /// Adds a byte section.
    pub fn add_bytes(&mut self, kind: SectionKind, data: &[u8]) -> Result<(), IndexError> {
        self.add_bytes_with_elem(kind, data, 1)
    }

    fn add_bytes_with_elem(&mut self, kind: SectionKind, data: &[u8], elem_size: u32) -> Result<(), IndexError> {
        self.begin(kind, elem_size)?;
        // Written in chunks so a multi-GB section is never copied.
        for chunk in data.chunks(1 << 22) {
            self.append_bytes(chunk)?;
        }
        self.end()
    }

    /// Starts a section whose records are appended with [`IndexWriter::append`] and which
    /// [`IndexWriter::end`] closes: for sections streamed from disk rather than held in memory. One
    /// section is open at a time.
    pub fn begin(&mut self, kind: SectionKind, elem_size: u32) -> Result<(), IndexError> {
        if self.open.is_some()
            || self.entries.iter().any(|e| e.kind == kind as u32)
            || self.entries.len() >= self.table_capacity
            || elem_size == 0
        {
            return Err(IndexError::corrupt(
                &self.tmp_path,
                format!("section {} written twice or while another is open", kind.name()),
            ));
        }
        let pad = (SECTION_ALIGN - self.pos % SECTION_ALIGN) % SECTION_ALIGN;
        self.write_raw(&vec![0u8; pad as usize])?;
        self.open = Some(OpenSection {
            kind,
            elem_size,
            offset: self.pos,
            hasher: Xxh3::new(),
        });
        Ok(())
    }

    /// Appends records to the open section.
    pub fn append<T: Pod>(&mut self, data: &[T]) -> Result<(), IndexError> {
        self.append_bytes(bytemuck::cast_slice(data))
    }

    /// Appends bytes to the open section.
    pub fn append_bytes(&mut self, bytes: &[u8]) -> Result<(), IndexError> {
        let Some(open) = self.open.as_mut() else {
            return Err(IndexError::corrupt(&self.tmp_path, "no section open"));
        };
        open.hasher.update(bytes);
        self.write_raw(bytes)
    }

    /// Closes the open section.
    pub fn end(&mut self) -> Result<(), IndexError> {
        let Some(open) = self.open.take() else {
            return Err(IndexError::corrupt(&self.tmp_path, "no section open"));
        };
        let len = self.pos - open.offset;
        if !len.is_multiple_of(open.elem_size as u64) {
            return Err(IndexError::corrupt(
                &self.tmp_path,
                format!("section {} is not a whole number of records", open.kind.name()),
            ));
        }
        self.entries.push(SectionEntry {
            kind: open.kind as u32,
            elem_size: open.elem_size,
            offset: open.offset,
            len,
            checksum: open.hasher.digest(),
        });
        Ok(())
    }

    /// Writes the header and section table, syncs, and renames the file into place.
    pub fn finish(self) -> Result<PathBuf, IndexError> {
        self.finish_inner(false)
    }

    /// Like [`IndexWriter::finish`], but opens and fully verifies the written file before it replaces the
    /// published one: a bad build never displaces a good index.
    pub fn finish_verified(self) -> Result<PathBuf, IndexError> {
        self.finish_inner(true)
    }

    fn finish_inner(mut self, verify: bool) -> Result<PathBuf, IndexError> {
        if let Some(open) = &self.open {
            return Err(IndexError::corrupt(
                &self.tmp_path,
                format!("section {} left open", open.kind.name()),
            ));
        }
        let pad = (SECTION_ALIGN - self.pos % SECTION_ALIGN) % SECTION_ALIGN;
        self.write_raw(&vec![0u8; pad as usize])?;
        let file_len = self.pos;
        let mut header = Header {
            magic: MAGIC,
            endian: ENDIAN_MARK,
            version: FORMAT_VERSION,
            n_sections: self.entries.len() as u32,
            flags: 0,
            file_len,
            table_checksum: 0,
            reserved: [0; 24],
        };
        header.table_checksum = table_checksum(&header, &self.entries);
        let tmp = self.tmp_path.clone();
        let out = self
            .out
            .take()
            .ok_or_else(|| IndexError::corrupt(&tmp, "writer already finished"))?;
        let mut file = out.into_inner().map_err(|e| IndexError::io(&tmp, e.into_error()))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| IndexError::io(&tmp, e))?;
        file.write_all(bytemuck::bytes_of(&header))
            .map_err(|e| IndexError::io(&tmp, e))?;
        file.write_all(bytemuck::cast_slice(&self.entries))
            .map_err(|e| IndexError::io(&tmp, e))?;
        file.sync_all().map_err(|e| IndexError::io(&tmp, e))?;
        drop(file);
        if verify {
            crate::Index::open(&tmp)?.verify()?;
        }
        std::fs::rename(&tmp, &self.final_path).map_err(|e| IndexError::io(&self.final_path, e))?;
        if let Some(dir) = self.final_path.parent() {
            // Persist the rename itself; not all filesystems allow syncing a directory, which is harmless.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        self.tmp_path = PathBuf::new();
        Ok(self.final_path.clone())
    }
}

impl Drop for IndexWriter {
    fn drop(&mut self) {
        // An abandoned write (error or panic upstream) must not leave its temporary file behind.
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

fn remove_stale_temporaries(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_name().to_string_lossy().starts_with(TMP_PREFIX) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
}

/// xxh3 over header bytes 0..32 and the section table (the checksum field itself is excluded).
pub(crate) fn table_checksum(header: &Header, entries: &[SectionEntry]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&bytemuck::bytes_of(header)[..32]);
    h.update(bytemuck::cast_slice(entries));
    h.digest()
}

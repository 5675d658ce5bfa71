//! Where data files come from: a directory or a zip archive, read streaming, gzip-aware, with zip-bomb
//! guards.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use flate2::bufread::MultiGzDecoder;
use zip::ZipArchive;

use super::error::{DwcaError, LimitHit};
use super::ArchiveLimits;

/// Read buffer for data files: large enough that line parsing, not syscalls, dominates.
const BUF: usize = 256 << 10;
/// Ratios are only checked past this much output: small files compress wildly and are harmless.
const RATIO_FLOOR: u64 = 1 << 20;

/// Decompressed bytes produced so far for one container, against the configured limits.
#[derive(Debug)]
pub(crate) struct Budget {
    used: Cell<u64>,
    limits: ArchiveLimits,
}

impl Budget {
    pub(crate) fn new(limits: &ArchiveLimits) -> Rc<Budget> {
        Rc::new(Budget {
            used: Cell::new(0),
            limits: limits.clone(),
        })
    }
}

/// Counts bytes read through it (the compressed side of a gzip stream).
struct Counting<R> {
    inner: R,
    count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amt: usize) {
        self.count.set(self.count.get() + amt as u64);
        self.inner.consume(amt);
    }
}

/// Guards decompressed output: the archive-wide size budget, an optional declared size the entry must
/// not exceed, and an optional compression ratio.
struct Guard<R> {
    inner: R,
    budget: Rc<Budget>,
    read: u64,
    declared: Option<u64>,
    compressed: Option<Rc<Cell<u64>>>,
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let n64 = n as u64;
        self.read += n64;
        let limits = &self.budget.limits;
        let used = self.budget.used.get() + n64;
        self.budget.used.set(used);
        let hit = |what, actual, limit| io::Error::other(LimitHit { what, actual, limit });
        if used > limits.max_uncompressed_bytes {
            return Err(hit("uncompressed size", used, limits.max_uncompressed_bytes));
        }
        if let Some(declared) = self.declared {
            if self.read > declared {
                // The entry inflates past what the central directory promised.
                return Err(hit("entry size beyond the declared size", self.read, declared));
            }
        }
        if let Some(c) = &self.compressed {
            let c = c.get().max(1);
            if self.read > RATIO_FLOOR && self.read / c > limits.max_ratio {
                return Err(hit("compression ratio", self.read / c, limits.max_ratio));
            }
        }
        Ok(n)
    }
}

/// An opened data file.
pub(crate) struct Opened<'a> {
    /// Decompressed bytes.
    pub(crate) reader: Box<dyn BufRead + 'a>,
    /// Name for messages (`dir/file` or `archive.zip!/file`).
    pub(crate) name: String,
    /// Whether it was gzip-compressed.
    pub(crate) gz: bool,
}

/// Wrap a stream, decompressing it when it starts with the gzip magic.
fn maybe_gunzip<'a, R: BufRead + 'a>(mut inner: R, name: String, budget: &Rc<Budget>) -> Result<Opened<'a>, DwcaError> {
    let head = inner.fill_buf().map_err(|e| DwcaError::from_io(e, &name, 0, false))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        let count = Rc::new(Cell::new(0));
        let dec = MultiGzDecoder::new(Counting {
            inner,
            count: count.clone(),
        });
        let guard = Guard {
            inner: dec,
            budget: budget.clone(),
            read: 0,
            declared: None,
            compressed: Some(count),
        };
        Ok(Opened {
            reader: Box::new(BufReader::with_capacity(BUF, guard)),
            name,
            gz: true,
        })
    } else {
        Ok(Opened {
            reader: Box::new(inner),
            name,
            gz: false,
        })
    }
}

/// Open a plain file (gzip-aware) outside any container.
pub(crate) fn open_file<'a>(path: &Path, budget: &Rc<Budget>) -> Result<Opened<'a>, DwcaError> {
    let name = path.display().to_string();
    let f = File::open(path).map_err(|e| DwcaError::io(e, name.clone()))?;
    maybe_gunzip(BufReader::with_capacity(BUF, f), name, budget)
}

/// Whether a relative member path stays inside its container (no absolute path, drive or `..`).
pub(crate) fn is_safe_relative(name: &str) -> bool {
    let n = name.replace('\\', "/");
    if n.starts_with('/') || n.as_bytes().get(1) == Some(&b':') {
        return false;
    }
    !n.split('/').any(|c| c == "..")
}

/// A directory or a zip archive holding data files.
pub(crate) enum Container {
    /// Files under a directory.
    Dir {
        /// The directory.
        base: PathBuf,
        /// Guards gzip members.
        budget: Rc<Budget>,
    },
    /// Members of a zip archive, under `prefix` (a single top folder, or empty).
    Zip(Box<ZipContainer>),
}

/// A zip archive opened for reading members.
pub(crate) struct ZipContainer {
    path: PathBuf,
    archive: ZipArchive<BufReader<File>>,
    /// Folder inside the zip that acts as the root (`""` or `"name/"`).
    prefix: String,
    /// File members (full names) and their indexes.
    files: Vec<(String, usize)>,
    budget: Rc<Budget>,
}

impl Container {
    /// A directory container.
    pub(crate) fn dir(base: &Path, limits: &ArchiveLimits) -> Container {
        Container::Dir {
            base: base.to_path_buf(),
            budget: Budget::new(limits),
        }
    }

    /// Name for messages of a member.
    pub(crate) fn display(&self, member: &str) -> String {
        match self {
            Container::Dir { base, .. } => base.join(member).display().to_string(),
            Container::Zip(z) => format!("{}!/{}{}", z.path.display(), z.prefix, member),
        }
    }

    /// File names directly at the container root, sorted.
    pub(crate) fn root_files(&self) -> Result<Vec<String>, DwcaError> {
        let mut out = Vec::new();
        match self {
            Container::Dir { base, .. } => {
                let rd = std::fs::read_dir(base).map_err(|e| DwcaError::io(e, base.display().to_string()))?;
                for entry in rd {
                    let entry = entry.map_err(|e| DwcaError::io(e, base.display().to_string()))?;
                    let is_file = entry.file_type().is_ok_and(|t| t.is_file()) || entry.path().is_file();
                    if is_file {
                        if let Some(name) = entry.file_name().to_str() {
                            out.push(name.to_string());
                        }
                    }
                }
            }
            Container::Zip(z) => {
                for (name, _) in &z.files {
                    if let Some(rest) = name.strip_prefix(&z.prefix) {
                        if !rest.is_empty() && !rest.contains('/') {
                            out.push(rest.to_string());
                        }
                    }
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// The member's actual name: exact match first, then case-insensitive. `None` when absent or unsafe.
    pub(crate) fn resolve(&self, member: &str) -> Option<String> {
        let member = member.trim();
        if member.is_empty() || !is_safe_relative(member) || member.contains("://") {
            return None;
        }
        match self {
            Container::Dir { base, .. } => {
                if base.join(member).is_file() {
                    return Some(member.to_string());
                }
                // Case-insensitive fallback among siblings.
                let p = Path::new(member);
                let parent = p.parent().unwrap_or(Path::new(""));
                let want = p.file_name()?.to_str()?.to_lowercase();
                let rd = std::fs::read_dir(base.join(parent)).ok()?;
                let mut hits: Vec<String> = rd
                    .filter_map(|e| e.ok())
                    .filter_map(|e| e.file_name().to_str().map(str::to_string))
                    .filter(|n| n.to_lowercase() == want)
                    .collect();
                hits.sort();
                let hit = hits.into_iter().next()?;
                let full = parent.join(hit);
                full.is_file().then(|| full.to_string_lossy().replace('\\', "/"))
            }
            Container::Zip(z) => {
                let full = format!("{}{}", z.prefix, member.replace('\\', "/"));
                if z.files.iter().any(|(n, _)| *n == full) {
                    return Some(member.to_string());
                }
                let lower = full.to_lowercase();
                z.files
                    .iter()
                    .find(|(n, _)| n.to_lowercase() == lower)
                    .and_then(|(n, _)| n.strip_prefix(&z.prefix))
                    .map(str::to_string)
            }
        }
    }

    /// Open a member (a name returned by [`Container::resolve`] or [`Container::root_files`]).
    pub(crate) fn open(&mut self, member: &str) -> Result<Opened<'_>, DwcaError> {
        let name = self.display(member);
        match self {
            Container::Dir { base, budget } => {
                let f = File::open(base.join(member)).map_err(|e| DwcaError::io(e, name.clone()))?;
                maybe_gunzip(BufReader::with_capacity(BUF, f), name, budget)
            }
            Container::Zip(z) => {
                let full = format!("{}{}", z.prefix, member);
                let Some(&(_, index)) = z.files.iter().find(|(n, _)| *n == full) else {
                    return Err(DwcaError::io(
                        io::Error::new(io::ErrorKind::NotFound, "no such zip member"),
                        name,
                    ));
                };
                let budget = z.budget.clone();
                let file = z.archive.by_index(index).map_err(|e| DwcaError::NotZip {
                    path: name.clone(),
                    reason: e.to_string(),
                })?;
                let declared = file.size();
                let guard = Guard {
                    inner: file,
                    budget: budget.clone(),
                    read: 0,
                    declared: Some(declared),
                    compressed: None,
                };
                maybe_gunzip(BufReader::with_capacity(BUF, guard), name, &budget)
            }
        }
    }

    /// Read a small member whole (meta.xml, eml.xml), capped at 64 MiB.
    pub(crate) fn read_small(&mut self, member: &str) -> Result<Vec<u8>, DwcaError> {
        let mut opened = self.open(member)?;
        let mut out = Vec::new();
        opened
            .reader
            .by_ref()
            .take(64 << 20)
            .read_to_end(&mut out)
            .map_err(|e| DwcaError::from_io(e, &opened.name, 0, opened.gz))?;
        Ok(out)
    }
}

/// Whether a file starts like a zip archive.
pub(crate) fn has_zip_magic(path: &Path) -> bool {
    let mut head = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok()
        && (head == *b"PK\x03\x04" || head == *b"PK\x05\x06")
}

/// Open a zip archive and check it against the limits and for unsafe entry names.
pub(crate) fn open_zip(path: &Path, limits: &ArchiveLimits) -> Result<ZipContainer, DwcaError> {
    let shown = path.display().to_string();
    let f = File::open(path).map_err(|e| DwcaError::io(e, shown.clone()))?;
    let archive = ZipArchive::new(BufReader::new(f)).map_err(|e| DwcaError::NotZip {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    let n = archive.len();
    if n as u64 > limits.max_entries as u64 {
        return Err(DwcaError::LimitExceeded {
            file: shown,
            what: "entry count",
            actual: n as u64,
            limit: limits.max_entries as u64,
        });
    }
    let mut files = Vec::new();
    let mut total: u64 = 0;
    for i in 0..n {
        let entry = archive.by_index_data(i).map_err(|e| DwcaError::NotZip {
            path: shown.clone(),
            reason: e.to_string(),
        })?;
        let name = entry
            .name()
            .map_err(|e| DwcaError::NotZip {
                path: shown.clone(),
                reason: e.to_string(),
            })?
            .into_owned();
        if !is_safe_relative(&name) || name.contains('\0') {
            return Err(DwcaError::PathTraversal {
                archive: shown,
                entry: name,
            });
        }
        if entry.is_dir() {
            continue;
        }
        let size = entry.size();
        let csize = entry.compressed_size().max(1);
        total = total.saturating_add(size);
        if total > limits.max_uncompressed_bytes {
            return Err(DwcaError::LimitExceeded {
                file: shown,
                what: "total uncompressed size",
                actual: total,
                limit: limits.max_uncompressed_bytes,
            });
        }
        if size > RATIO_FLOOR && size / csize > limits.max_ratio {
            return Err(DwcaError::LimitExceeded {
                file: format!("{shown}!/{name}"),
                what: "compression ratio",
                actual: size / csize,
                limit: limits.max_ratio,
            });
        }
        files.push((name.replace('\\', "/"), i));
    }
    Ok(ZipContainer {
        path: path.to_path_buf(),
        archive,
        prefix: String::new(),
        files,
        budget: Budget::new(limits),
    })
}

impl ZipContainer {
    /// Find the DwC-A root: `meta.xml` at the top, or inside a single top folder (macOS `__MACOSX`
    /// debris ignored). Sets the prefix; `false` when there is no meta.xml.
    pub(crate) fn locate_meta(&mut self) -> bool {
        if self.files.iter().any(|(n, _)| n.eq_ignore_ascii_case("meta.xml")) {
            self.prefix.clear();
            return true;
        }
        if let Some(top) = self.single_top_folder() {
            let meta = format!("{top}meta.xml");
            if self.files.iter().any(|(n, _)| n.eq_ignore_ascii_case(&meta)) {
                self.prefix = top;
                return true;
            }
        }
        false
    }

    /// Use the single top folder as the root when every file sits in it (for zipped table folders).
    pub(crate) fn enter_single_top_folder(&mut self) {
        if let Some(top) = self.single_top_folder() {
            self.prefix = top;
        }
    }

    fn single_top_folder(&self) -> Option<String> {
        let mut top: Option<&str> = None;
        for (n, _) in &self.files {
            if n.starts_with("__MACOSX/") {
                continue;
            }
            let (first, _) = n.split_once('/')?;
            match top {
                None => top = Some(first),
                Some(t) if t == first => {}
                Some(_) => return None,
            }
        }
        top.map(|t| format!("{t}/"))
    }
}

//! Writing safely: atomic replacement through a temporary file, a writer that notices whether
//! the output differs from a file, and the unified diff of `--diff`.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use fanjian::{ReadAt, StreamError};

/// Names the file in the errors of a reader or writer.
pub struct Named<T> {
    pub inner: T,
    pub name: String,
}

impl<T> Named<T> {
    pub fn err(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.name))
    }
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| self.err(e))
    }
}

impl<R: ReadAt> ReadAt for Named<R> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.inner.read_at(buf, offset).map_err(|e| self.err(e))
    }
}

impl<W: Write> Write for Named<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf).map_err(|e| self.err(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush().map_err(|e| self.err(e))
    }
}

/// Passes writes through and compares them with a file's bytes as they go.
pub struct Compare<W> {
    pub inner: W,
    original: Option<BufReader<File>>,
    buf: Vec<u8>,
    pub differs: bool,
}

impl<W: Write> Compare<W> {
    /// Compares against `original` (`None`: there is nothing to compare with, so it differs).
    pub fn new(inner: W, original: Option<&Path>) -> Compare<W> {
        let original = original
            .and_then(|p| File::open(p).ok())
            .map(BufReader::new);
        let differs = original.is_none();
        Compare {
            inner,
            original,
            buf: Vec::new(),
            differs,
        }
    }

    /// Whether everything written equals the whole original.
    pub fn finish(mut self) -> io::Result<(W, bool)> {
        if !self.differs {
            if let Some(original) = &mut self.original {
                // Anything left in the original means the output is shorter.
                let mut one = [0u8; 1];
                self.differs = original.read(&mut one)? != 0;
            }
        }
        Ok((self.inner, self.differs))
    }
}

impl<W: Write> Write for Compare<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if !self.differs {
            if let Some(original) = &mut self.original {
                self.buf.resize(data.len(), 0);
                let mut got = 0;
                while got < data.len() {
                    match original.read(&mut self.buf[got..])? {
                        0 => break,
                        n => got += n,
                    }
                }
                self.differs = got < data.len() || self.buf[..got] != *data;
            }
        }
        self.inner.write_all(data)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Bytes written between two flushes to disk started in the background by [`Syncing`].
const SYNC_EVERY: u64 = 8 << 20;

/// The buffer of standard output: writes of the size the stream converts at a time (64 KiB
/// and more) go past it without a copy; smaller ones (short files, a stream's last piece) are
/// gathered. (With 256 KiB, every converted piece of a read was copied into it first: with
/// 32 KiB, `-j1` took 0.92-0.96 of the CPU time, t2hk and s2t on 200 MB, and 0.95 of the
/// time on 1 GB, `-j2` 0.96.) Files keep [`FILE_BUFFER`].
pub const STDOUT_BUFFER: usize = 32 * 1024;

/// The buffer of an output file. (With [`STDOUT_BUFFER`]'s 32 KiB instead, a tree of 2,001
/// files converted into another on a disk took 0.93-1.11 of the time at `-j1` and 1.05-1.11
/// at `-j2`, three measurements each; 0.52 at `-j1` into a tmpfs: no gain to be sure of where
/// files go to a disk.)
const FILE_BUFFER: usize = 256 * 1024;

/// A file being written that has the disk take what was written so far, every
/// [`SYNC_EVERY`] bytes, on a thread of its own while writing goes on: the flush before the
/// file replaces its target (see [`Temp::commit`]) then waits for the last part only, not
/// for the whole of a large file. (Where no file is replaced, no flush is waited for, and
/// `Syncing::plain` starts none.)
pub struct Syncing {
    file: File,
    /// Bytes written since the last flush started; `None` where no flush is to be started.
    since: Option<u64>,
    /// The flush in progress, if any.
    flush: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl Syncing {
    pub fn new(file: File) -> Syncing {
        Syncing {
            file,
            since: Some(0),
            flush: None,
        }
    }

    /// A file written without flushes of its own.
    pub fn plain(file: File) -> Syncing {
        Syncing {
            file,
            since: None,
            flush: None,
        }
    }

    /// The file, once the flush in progress (if any) is over; its error, if it failed.
    pub fn into_file(mut self) -> io::Result<File> {
        self.wait()?;
        Ok(self.file)
    }

    /// Waits for the flush in progress, if any; its error, if it failed.
    fn wait(&mut self) -> io::Result<()> {
        match self.flush.take() {
            Some(flush) => flush.join().expect("a flush does not panic"),
            None => Ok(()),
        }
    }
}

impl Write for Syncing {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.file.write(data)?;
        let Some(since) = &mut self.since else {
            return Ok(n);
        };
        *since += n as u64;
        if *since >= SYNC_EVERY && self.flush.as_ref().is_none_or(|f| f.is_finished()) {
            *since = 0;
            self.wait()?;
            // (Where no thread can be had, the flush at the end does it all, as before.)
            let file = self.file.try_clone()?;
            self.flush = std::thread::Builder::new()
                .spawn(move || file.sync_data())
                .ok();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// A temporary file next to `path`, renamed over it by [`Temp::commit`]; removed on drop.
pub struct Temp {
    path: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl Temp {
    /// Creates the temporary file for `target` in the same directory.
    pub fn create(target: &Path) -> io::Result<(Temp, File)> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut n = 0u32;
        loop {
            let path = dir.join(format!(".{name}.fanjian-{}-{n}.tmp", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(file) => {
                    return Ok((
                        Temp {
                            path,
                            target: target.to_path_buf(),
                            committed: false,
                        },
                        file,
                    ))
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 1000 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames the temporary file over `target`. Where `target` exists, first flushes `file`
    /// to disk (so that a crash leaves the old file or the new one whole, never one not yet
    /// written), gives it `target`'s permissions and optionally keeps the original as
    /// `backup`. A new file is not flushed: nothing is lost if a crash cuts it short (the
    /// input is untouched), and a flush of each new file took a quarter to a third of the
    /// time a tree of 2,001 files took to be mirrored onto a disk (`cp` does not flush either).
    pub fn commit(mut self, file: File, backup: Option<&Path>) -> io::Result<()> {
        let existing = std::fs::metadata(&self.target).ok();
        if existing.is_some() {
            file.sync_all()?;
        }
        drop(file);
        if let Some(meta) = existing {
            std::fs::set_permissions(&self.path, meta.permissions())?;
        }
        if let Some(backup) = backup {
            // A hard link keeps the original's data and metadata; copy where links fail.
            let _ = std::fs::remove_file(backup);
            if std::fs::hard_link(&self.target, backup).is_err() {
                std::fs::copy(&self.target, backup)?;
            }
        }
        std::fs::rename(&self.path, &self.target)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Converts into `target` atomically: `write` fills a temporary file, which replaces `target`
/// only if `write` succeeds and (when `skip_unchanged`) the output differs from `target`.
/// Returns whether the output differed.
pub fn write_atomically<T>(
    target: &Path,
    compare_with: Option<&Path>,
    backup: Option<&Path>,
    skip_unchanged: bool,
    write: impl FnOnce(&mut dyn Write) -> Result<T, StreamError>,
) -> Result<(T, bool), StreamError> {
    let name = target.display().to_string();
    let io_err = |e: io::Error| StreamError::Io(io::Error::new(e.kind(), format!("{name}: {e}")));
    let (temp, file) = Temp::create(target).map_err(io_err)?;
    let mut out = Compare::new(
        Named {
            // Flushes in the background only where the output is to replace a file.
            inner: io::BufWriter::with_capacity(
                FILE_BUFFER,
                if target.exists() {
                    Syncing::new(file)
                } else {
                    Syncing::plain(file)
                },
            ),
            name: name.clone(),
        },
        compare_with,
    );
    let value = write(&mut out)?;
    let (writer, differs) = out.finish().map_err(io_err)?;
    let file = writer
        .inner
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?
        .into_file()
        .map_err(io_err)?;
    if skip_unchanged && !differs {
        return Ok((value, false)); // `temp` is removed on drop
    }
    temp.commit(file, backup).map_err(io_err)?;
    Ok((value, differs))
}

/// A unified diff of two texts with the same number of lines (conversion never adds or removes
/// a line), without context lines.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    let mut out = format!("--- a/{path}\n+++ b/{path}\n");
    let old_lines: Vec<&str> = old.split_inclusive('\n').collect();
    let new_lines: Vec<&str> = new.split_inclusive('\n').collect();
    let mut i = 0;
    while i < old_lines.len().max(new_lines.len()) {
        if old_lines.get(i) == new_lines.get(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < old_lines.len().max(new_lines.len()) && old_lines.get(i) != new_lines.get(i) {
            i += 1;
        }
        let (o, n) = (
            &old_lines[start.min(old_lines.len())..i.min(old_lines.len())],
            &new_lines[start.min(new_lines.len())..i.min(new_lines.len())],
        );
        out.push_str(&format!(
            "@@ -{},{} +{},{} @@\n",
            start + 1,
            o.len(),
            start + 1,
            n.len()
        ));
        for (sign, lines) in [('-', o), ('+', n)] {
            for line in lines.iter() {
                out.push(sign);
                out.push_str(line);
                if !line.ends_with('\n') {
                    out.push_str("\n\\ No newline at end of file\n");
                }
            }
        }
    }
    out
}

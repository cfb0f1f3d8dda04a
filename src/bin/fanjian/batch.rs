//! Converting files and directory trees: walking (the `ignore` crate, as ripgrep), converting
//! in parallel (rayon), writing safely, and reporting.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IsTerminal, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use fanjian::{
    convert_file, convert_stream, detect, detect_script, Converter, Encoding, Normalize,
    OutputEncoding, ReadAt, StreamError, StreamOptions,
};
use rayon::prelude::*;

use crate::cli::{Mode, Plan, Settings, Walk};
use crate::output::{unified_diff, write_atomically, Compare, Named, STDOUT_BUFFER};

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Converted,
    Unchanged,
    WouldChange,
    Skipped,
    Failed,
}

impl Status {
    fn name(self) -> &'static str {
        match self {
            Status::Converted => "converted",
            Status::Unchanged => "unchanged",
            Status::WouldChange => "would-change",
            Status::Skipped => "skipped",
            Status::Failed => "failed",
        }
    }
}

/// The outcome for one file.
#[derive(Debug)]
pub struct Outcome {
    pub path: String,
    pub status: Status,
    pub encoding: Option<Encoding>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub message: Option<String>,
}

impl Outcome {
    fn new(path: &Path, status: Status) -> Outcome {
        Outcome {
            path: path.display().to_string(),
            status,
            encoding: None,
            bytes_in: 0,
            bytes_out: 0,
            message: None,
        }
    }

    fn failed(path: &Path, message: String) -> Outcome {
        Outcome {
            message: Some(message),
            ..Outcome::new(path, Status::Failed)
        }
    }
}

/// A file to convert.
struct Input {
    path: PathBuf,
    /// Path relative to its root (for --output-dir).
    rel: PathBuf,
    /// Named on the command line (errors instead of warnings).
    explicit: bool,
}

/// Prints `fanjian: ...` lines without interleaving them with the progress line.
pub struct Messages {
    progress_shown: AtomicBool,
    lock: Mutex<()>,
    pub quiet: bool,
}

impl Messages {
    pub fn new(quiet: bool) -> Messages {
        Messages {
            progress_shown: AtomicBool::new(false),
            lock: Mutex::new(()),
            quiet,
        }
    }

    pub fn error(&self, message: &str) {
        let _guard = self.lock.lock().unwrap();
        if self.progress_shown.swap(false, Ordering::Relaxed) {
            eprint!("\r\x1b[K");
        }
        eprintln!("fanjian: {message}");
    }

    pub fn warn(&self, message: &str) {
        if !self.quiet {
            self.error(&format!("warning: {message}"));
        }
    }

    fn progress(&self, line: &str) {
        let _guard = self.lock.lock().unwrap();
        eprint!("\r\x1b[K{line}");
        self.progress_shown.store(true, Ordering::Relaxed);
    }

    fn clear_progress(&self) {
        let _guard = self.lock.lock().unwrap();
        if self.progress_shown.swap(false, Ordering::Relaxed) {
            eprint!("\r\x1b[K");
        }
    }
}

fn io_message(e: &StreamError, name: &str) -> String {
    match e {
        // I/O errors already name their file; errors in the text name the input.
        StreamError::Io(e) => e.to_string(),
        other => format!("{name}:{other}"),
    }
}

/// The first bytes of a file, to detect its encoding and script.
const PREFIX: usize = 64 * 1024;

/// A file from byte `base` on: read in order from its cursor (`Read`), or at offsets from
/// `base` (`ReadAt`).
struct FileFrom {
    file: File,
    base: u64,
}

impl FileFrom {
    /// `file` from where its cursor stands (the start, unless it was opened as a device that
    /// shares an open file, such as /dev/stdin on some systems), and its length from there
    /// where it is a regular file.
    fn new(mut file: File) -> (FileFrom, Option<u64>) {
        let base = file.stream_position().unwrap_or(0);
        let len = file
            .metadata()
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let len = len.map(|len| len.saturating_sub(base));
        (FileFrom { file, base }, len)
    }

    /// Standard input where it is a regular file, from where it stands, and its length from
    /// there.
    #[cfg(unix)]
    fn stdin() -> Option<(FileFrom, u64)> {
        use std::os::fd::AsFd;
        // The same open file, with the same cursor.
        let file = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
        match FileFrom::new(file) {
            (file, Some(len)) => Some((file, len)),
            (_, None) => None,
        }
    }

    #[cfg(not(unix))]
    fn stdin() -> Option<(FileFrom, u64)> {
        None
    }
}

impl Read for FileFrom {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl ReadAt for FileFrom {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        self.file.read_at(buf, self.base + offset)
    }
}

/// Reads up to [`PREFIX`] bytes from the start of `file`, and rewinds it.
fn prefix(file: &mut File) -> io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(PREFIX);
    Read::by_ref(file)
        .take(PREFIX as u64)
        .read_to_end(&mut buf)?;
    file.rewind()?;
    Ok(buf)
}

/// Whether a file's first bytes look binary: a NUL byte, unless they are UTF-16.
fn looks_binary(prefix: &[u8], options: &StreamOptions) -> bool {
    let head = &prefix[..prefix.len().min(8192)];
    if !head.contains(&0) {
        return false;
    }
    let enc = options
        .from
        .unwrap_or_else(|| detect(prefix, prefix.len() < PREFIX).encoding);
    !matches!(enc, Encoding::Utf16Le | Encoding::Utf16Be)
}

/// The converter for a text whose first bytes are `prefix`.
fn pick<'p>(plan: &'p Plan, prefix: &[u8], options: &StreamOptions) -> &'p Converter {
    match plan {
        Plan::Fixed(c) => c,
        Plan::ByScript {
            simplified,
            traditional,
        } => {
            let enc = options
                .from
                .unwrap_or_else(|| detect(prefix, prefix.len() < PREFIX).encoding);
            let mut text = String::new();
            // Lossy: a bad byte must not hide the script; decoding proper reports it later.
            let _ = fanjian::Decoder::new(enc, true).decode(prefix, false, &mut text);
            match detect_script(&text).script {
                fanjian::Script::Traditional => traditional,
                _ => simplified,
            }
        }
    }
}

/// Converts a file name's stem and extension with `converter` (a name that is not UTF-8 stays).
fn convert_name(converter: &Converter, name: &std::ffi::OsStr) -> std::ffi::OsString {
    match name.to_str() {
        Some(s) => converter.convert(s).into_owned().into(),
        None => name.to_os_string(),
    }
}

fn convert_rel(converter: &Converter, rel: &Path) -> PathBuf {
    rel.components()
        .map(|c| match c {
            std::path::Component::Normal(n) => PathBuf::from(convert_name(converter, n)),
            other => PathBuf::from(other.as_os_str()),
        })
        .collect()
}

struct Batch<'s> {
    settings: &'s Settings,
    messages: &'s Messages,
    done: AtomicUsize,
    bytes: AtomicU64,
    /// --output-dir targets already claimed, to refuse a second file mapping to the same name.
    claimed: Mutex<HashMap<PathBuf, PathBuf>>,
}

impl Batch<'_> {
    fn options(&self, len: u64) -> StreamOptions {
        let mut options = self.settings.stream.clone();
        options.reject_binary = true;
        // Large files are also cut into pieces converted in parallel; small ones use one thread
        // (the others convert other files).
        options.threads = if len >= 8 << 20 {
            self.settings.threads()
        } else {
            1
        };
        options
    }

    fn process(&self, input: &Input) -> Outcome {
        let outcome = self.process_inner(input);
        self.done.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(outcome.bytes_in, Ordering::Relaxed);
        match outcome.status {
            Status::Failed => self
                .messages
                .error(outcome.message.as_deref().unwrap_or("failed")),
            Status::Skipped => self
                .messages
                .warn(outcome.message.as_deref().unwrap_or("skipped")),
            _ => {}
        }
        outcome
    }

    fn process_inner(&self, input: &Input) -> Outcome {
        let path = &input.path;
        let name = path.display().to_string();
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) => return Outcome::failed(path, format!("{name}: {e}")),
        };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let head = match prefix(&mut file) {
            Ok(p) => p,
            Err(e) => return Outcome::failed(path, format!("{name}: {e}")),
        };
        let options = self.options(len);
        if looks_binary(&head, &options) {
            let message = format!("{name}: binary file (NUL bytes), not converted");
            return if input.explicit {
                Outcome::failed(path, message)
            } else {
                Outcome {
                    message: Some(message),
                    ..Outcome::new(path, Status::Skipped)
                }
            };
        }
        let converter = pick(&self.settings.plan, &head, &options);
        // Before converting: --in-place replaces the text the report is about.
        if let Err(message) = report_ambiguities(self.settings, converter, path) {
            return Outcome::failed(path, message);
        }
        // Read at offsets: with several threads, each reads the text it converts.
        let file = Named {
            inner: file,
            name: name.clone(),
        };
        let result = match &self.settings.mode {
            Mode::InPlace { .. } | Mode::OutputDir(_) => {
                let (target, backup, skip_unchanged) = match self.output_target(input, converter) {
                    Ok(t) => t,
                    Err(outcome) => return outcome,
                };
                write_atomically(
                    &target,
                    Some(path),
                    backup.as_deref(),
                    skip_unchanged,
                    |out| convert_file(converter, &file, out, &options),
                )
                .map(|(report, changed)| {
                    let status = if changed {
                        Status::Converted
                    } else {
                        Status::Unchanged
                    };
                    (report, status)
                })
            }
            Mode::Check { diff } => {
                let mut compare = Compare::new(io::sink(), Some(path));
                let mut converted = Vec::new();
                let report = if *diff {
                    convert_file(converter, &file, &mut converted, &options)
                } else {
                    convert_file(converter, &file, &mut compare, &options)
                };
                report.and_then(|report| {
                    let changed = if *diff {
                        let original = std::fs::read(path).map_err(StreamError::Io)?;
                        let changed = original != converted;
                        if changed {
                            self.print_diff(&name, converter, &original, &converted, &options)?;
                        }
                        changed
                    } else {
                        compare.finish().map_err(StreamError::Io)?.1
                    };
                    Ok((
                        report,
                        if changed {
                            Status::WouldChange
                        } else {
                            Status::Unchanged
                        },
                    ))
                })
            }
            Mode::Stdout | Mode::File(_) => unreachable!("handled by the caller"),
        };
        let (report, status) = match result {
            Ok(r) => r,
            Err(StreamError::Binary(at)) if !input.explicit => {
                let message = format!("{name}:{at}: NUL character: a binary file, not converted");
                return Outcome {
                    message: Some(message),
                    ..Outcome::new(path, Status::Skipped)
                };
            }
            Err(e) => return Outcome::failed(path, io_message(&e, &name)),
        };
        let mut outcome = Outcome {
            encoding: Some(report.input_encoding),
            bytes_in: report.bytes_in,
            bytes_out: report.bytes_out,
            ..Outcome::new(path, status)
        };
        warn_counts(self.messages, &name, &report);
        if self.settings.convert_filenames {
            if let Mode::InPlace { .. } = self.settings.mode {
                if let Err(message) = rename_converted(converter, path) {
                    outcome.status = Status::Failed;
                    outcome.message = Some(message);
                }
            }
        }
        outcome
    }

    /// Where `input` is written in the in-place and mirrored modes: the target, the backup, and
    /// whether an unchanged file is left alone.
    fn output_target(
        &self,
        input: &Input,
        converter: &Converter,
    ) -> Result<(PathBuf, Option<PathBuf>, bool), Outcome> {
        let path = &input.path;
        match &self.settings.mode {
            Mode::InPlace { backup } => {
                let backup = backup.as_ref().map(|suffix| {
                    let mut b = path.as_os_str().to_os_string();
                    b.push(suffix);
                    PathBuf::from(b)
                });
                Ok((path.clone(), backup, true))
            }
            Mode::OutputDir(dir) => {
                let rel = if self.settings.convert_filenames {
                    convert_rel(converter, &input.rel)
                } else {
                    input.rel.clone()
                };
                let target = dir.join(&rel);
                let taken = {
                    let mut claimed = self.claimed.lock().unwrap();
                    match claimed.get(&target) {
                        Some(other) => Some(other.clone()),
                        None => claimed.insert(target.clone(), path.clone()),
                    }
                };
                if let Some(other) = taken {
                    let message = format!(
                        "{}: not written: {} is also the output of {}",
                        path.display(),
                        target.display(),
                        other.display()
                    );
                    return Err(Outcome::failed(path, message));
                }
                if let Some(parent) = target.parent() {
                    if let Err(e) = std::fs::create_dir_all(parent) {
                        return Err(Outcome::failed(path, format!("{}: {e}", parent.display())));
                    }
                }
                Ok((target, None, false))
            }
            Mode::Check { .. } | Mode::Stdout | Mode::File(_) => {
                unreachable!("modes that write files")
            }
        }
    }

    /// Prints the unified diff of a file's text before and after conversion, as UTF-8 text
    /// whatever the encodings (`converted` is the output in `options`' encoding).
    fn print_diff(
        &self,
        name: &str,
        converter: &Converter,
        original: &[u8],
        converted: &[u8],
        options: &StreamOptions,
    ) -> Result<(), StreamError> {
        let old = read_text(
            &Converter::identity(),
            original,
            options,
            Normalize::default(),
        )?;
        let new = if options.to == OutputEncoding::Utf8 && !options.bom {
            String::from_utf8_lossy(converted).into_owned()
        } else {
            read_text(converter, original, options, options.normalize)?
        };
        let diff = unified_diff(name, &old, &new);
        let _guard = self.messages.lock.lock().unwrap();
        let _ = io::stdout().lock().write_all(diff.as_bytes());
        Ok(())
    }
}

/// `input` converted by `converter` per `options` but written as UTF-8 text without a BOM, with
/// `normalize` instead of the options' normalizations (the identity converter gives the text
/// as the conversion reads it).
fn read_text(
    converter: &Converter,
    input: impl Read,
    options: &StreamOptions,
    normalize: Normalize,
) -> Result<String, StreamError> {
    let options = StreamOptions {
        to: OutputEncoding::Utf8,
        bom: false,
        threads: 1,
        normalize,
        ..options.clone()
    };
    let mut text = Vec::new();
    convert_stream(converter, input, &mut text, &options)?;
    // The pipeline writes UTF-8.
    Ok(String::from_utf8_lossy(&text).into_owned())
}

/// Appends the ambiguities of `path`'s text under `converter` to the report (JSON lines).
fn report_ambiguities(
    settings: &Settings,
    converter: &Converter,
    path: &Path,
) -> Result<(), String> {
    let Some(report) = &settings.ambiguities else {
        return Ok(());
    };
    let name = path.display().to_string();
    // The text as the conversion reads it: decoded, with the normalizations before conversion
    // (quotation marks are paired after it).
    let file = File::open(path).map_err(|e| format!("{name}: {e}"))?;
    let before = Normalize {
        quotes: None,
        ..settings.stream.normalize
    };
    let text = read_text(&Converter::identity(), file, &settings.stream, before)
        .map_err(|e| io_message(&e, &name))?;
    let found = converter.ambiguities(&text).map_err(|e| e.to_string())?;
    let mut lines = String::new();
    for a in found {
        let json = a.to_json();
        lines.push_str(&format!(
            "{{\"path\":{},{}\n",
            json_string(&name),
            &json[1..]
        ));
    }
    report
        .lock()
        .unwrap()
        .write_all(lines.as_bytes())
        .map_err(|e| format!("ambiguity report: {e}"))
}

/// Warns about what the conversion of `name` replaced or left alone.
fn warn_counts(messages: &Messages, name: &str, report: &fanjian::StreamReport) {
    if report.replaced_malformed > 0 {
        messages.warn(&format!(
            "{name}: replaced {} malformed {} sequence(s) with U+FFFD",
            report.replaced_malformed, report.input_encoding
        ));
    }
    if report.replaced_unmappable > 0 {
        messages.warn(&format!(
            "{name}: wrote {} character(s) that {} lacks as '?'",
            report.replaced_unmappable, report.output_encoding
        ));
    }
    if report.unbalanced_quotes > 0 {
        messages.warn(&format!(
            "{name}: left {} unbalanced quotation mark(s) alone",
            report.unbalanced_quotes
        ));
    }
}

/// Renames `path` to its converted name, refusing to overwrite anything.
fn rename_converted(converter: &Converter, path: &Path) -> Result<(), String> {
    let Some(name) = path.file_name() else {
        return Ok(());
    };
    let new_name = convert_name(converter, name);
    if new_name == name {
        return Ok(());
    }
    let target = path.with_file_name(&new_name);
    if target.symlink_metadata().is_ok() {
        return Err(format!(
            "{}: not renamed: {} exists",
            path.display(),
            target.display()
        ));
    }
    std::fs::rename(path, &target).map_err(|e| {
        format!(
            "{}: cannot rename to {}: {e}",
            path.display(),
            target.display()
        )
    })
}

/// Collects the files to convert; walk errors become failed outcomes. Also returns the
/// directories walked (for --convert-filenames).
fn collect(
    paths: &[PathBuf],
    walk: &Walk,
    messages: &Messages,
    skip: Option<&Path>,
) -> (Vec<Input>, Vec<PathBuf>, Vec<Outcome>) {
    let (mut inputs, mut dirs, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for root in paths {
        let meta = match std::fs::metadata(root) {
            Ok(m) => m,
            Err(e) => {
                errors.push(Outcome::failed(root, format!("{}: {e}", root.display())));
                continue;
            }
        };
        if !meta.is_dir() {
            let rel = PathBuf::from(root.file_name().unwrap_or(root.as_os_str()));
            inputs.push(Input {
                path: root.clone(),
                rel,
                explicit: true,
            });
            continue;
        }
        let mut builder = ignore::WalkBuilder::new(root);
        builder
            .hidden(!walk.hidden)
            .ignore(!walk.no_ignore)
            .git_ignore(!walk.no_ignore)
            .git_exclude(!walk.no_ignore)
            .git_global(!walk.no_ignore)
            .parents(!walk.no_ignore)
            .require_git(false)
            .follow_links(walk.follow)
            .sort_by_file_name(|a, b| a.cmp(b));
        if !walk.no_ignore {
            builder.add_custom_ignore_filename(".fanjianignore");
        }
        if !walk.globs.is_empty() || !walk.excludes.is_empty() {
            let mut o = ignore::overrides::OverrideBuilder::new(root);
            for g in &walk.globs {
                if let Err(e) = o.add(g) {
                    errors.push(Outcome::failed(root, format!("--glob {g}: {e}")));
                }
            }
            for g in &walk.excludes {
                if let Err(e) = o.add(&format!("!{g}")) {
                    errors.push(Outcome::failed(root, format!("--exclude {g}: {e}")));
                }
            }
            match o.build() {
                Ok(o) => {
                    builder.overrides(o);
                }
                Err(e) => errors.push(Outcome::failed(root, format!("{e}"))),
            }
        }
        if let Some(skip) = skip.map(Path::to_path_buf) {
            builder.filter_entry(move |e| e.path().canonicalize().map_or(true, |p| p != skip));
        }
        for entry in builder.build() {
            match entry {
                Ok(e) => {
                    let is_dir = e.file_type().is_some_and(|t| t.is_dir());
                    let rel = e
                        .path()
                        .strip_prefix(root)
                        .unwrap_or(e.path())
                        .to_path_buf();
                    if is_dir {
                        if e.depth() > 0 {
                            dirs.push(e.into_path());
                        }
                    } else if e.file_type().is_some_and(|t| t.is_file()) {
                        inputs.push(Input {
                            path: e.into_path(),
                            rel,
                            explicit: false,
                        });
                    }
                }
                Err(e) => {
                    let message = e.to_string();
                    let looped = message.contains("loop");
                    let o = Outcome::failed(root, message.clone());
                    if looped {
                        // A symlink loop is not an error in the tree: it is skipped.
                        messages.warn(&message);
                        errors.push(Outcome {
                            status: Status::Skipped,
                            ..o
                        });
                    } else {
                        messages.error(&message);
                        errors.push(o);
                    }
                }
            }
        }
    }
    (inputs, dirs, errors)
}

/// Converts standard input, or the inputs in order, to standard output or the -o file.
fn to_stream(settings: &Settings, messages: &Messages) -> i32 {
    let mut failed = false;
    // Converts standard input, or a file (of `len` bytes where it is a regular file: read at
    // offsets, so that with several threads each reads the text it converts); returns the
    // converter its first bytes chose.
    let convert = |file: Option<FileFrom>,
                   len: Option<u64>,
                   name: &str,
                   out: &mut dyn Write|
     -> Result<&Converter, StreamError> {
        // A file shorter than two of the threaded pipeline's slots (256 KiB each) is not worth
        // the threads; its thread count is not asked of the system.
        let threads = match len {
            Some(len) if len < 512 << 10 => 1,
            _ => settings.threads(),
        };
        let options = &StreamOptions {
            threads,
            ..settings.stream.clone()
        };
        // The first bytes choose the converter (--to).
        let head = |input: &mut dyn Read| {
            let mut head = Vec::with_capacity(PREFIX);
            input
                .take(PREFIX as u64)
                .read_to_end(&mut head)
                .map_err(StreamError::Io)
                .map(|_| head)
        };
        // A regular file is read at offsets; standard input, and a named pipe or a device
        // given by name, in order (the first bytes go through the pipeline first).
        let (report, converter) = match (file, len) {
            (Some(inner), Some(_)) => {
                let mut file = Named {
                    inner,
                    name: name.to_string(),
                };
                let converter = pick(&settings.plan, &head(&mut file)?, options);
                let report = convert_file(converter, &file, out, options)?;
                // Read to its end, as reads in order leave it (standard input may be shared).
                let end = io::SeekFrom::Start(file.inner.base + report.bytes_in);
                file.inner
                    .file
                    .seek(end)
                    .map_err(|e| StreamError::Io(file.err(e)))?;
                (report, converter)
            }
            (file, _) => {
                let mut input = Named {
                    inner: match file {
                        Some(file) => Box::new(file) as Box<dyn Read>,
                        None => Box::new(io::stdin().lock()),
                    },
                    name: name.to_string(),
                };
                let head = head(&mut input)?;
                let converter = pick(&settings.plan, &head, options);
                let input = io::Cursor::new(head).chain(input);
                (convert_stream(converter, input, out, options)?, converter)
            }
        };
        warn_counts(messages, name, &report);
        Ok(converter)
    };
    let (inputs, _, errors) = if settings.paths.is_empty() {
        (Vec::new(), Vec::new(), Vec::new())
    } else {
        collect(&settings.paths, &settings.walk, messages, None)
    };
    failed |= errors.iter().any(|e| e.status == Status::Failed);
    let run = |out: &mut dyn Write| -> Result<bool, StreamError> {
        let mut failed = false;
        if settings.paths.is_empty() {
            // Standard input redirected from a regular file is read at offsets too.
            match FileFrom::stdin() {
                Some((file, len)) => convert(Some(file), Some(len), "<stdin>", out)?,
                None => convert(None, None, "<stdin>", out)?,
            };
        }
        for input in &inputs {
            let name = input.path.display().to_string();
            let result = File::open(&input.path)
                .map_err(|e| StreamError::Io(io::Error::new(e.kind(), format!("{name}: {e}"))))
                .and_then(|f| {
                    // (A pipe's length is not known.)
                    let (file, len) = FileFrom::new(f);
                    convert(Some(file), len, &name, out)
                });
            if let Ok(converter) = result {
                if let Err(message) = report_ambiguities(settings, converter, &input.path) {
                    messages.error(&message);
                    failed = true;
                }
            }
            match result {
                Ok(_) => {}
                Err(StreamError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {
                    return Err(StreamError::Io(e))
                }
                // An output file is written whole or not at all.
                Err(e) if matches!(settings.mode, Mode::File(_)) => return Err(e),
                Err(e) => {
                    messages.error(&io_message(&e, &name));
                    failed = true;
                }
            }
        }
        Ok(failed)
    };
    let result = match &settings.mode {
        Mode::File(path) => write_atomically(path, None, None, false, run).map(|(f, _)| f),
        _ => {
            let stdout = io::stdout();
            let mut out = Named {
                inner: io::BufWriter::with_capacity(STDOUT_BUFFER, stdout.lock()),
                name: "<stdout>".into(),
            };
            run(&mut out).and_then(|f| out.flush().map(|()| f).map_err(StreamError::Io))
        }
    };
    match result {
        Ok(f) => failed |= f,
        // A closed pipe (`fanjian ... | head`) is not an error.
        Err(StreamError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => {}
        Err(e) => {
            let name = match &inputs[..] {
                [only] => only.path.display().to_string(),
                _ => "<stdin>".to_string(),
            };
            messages.error(&io_message(&e, &name));
            failed = true;
        }
    }
    i32::from(failed)
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Converts files and trees (in place, into a mirrored tree, or checking).
pub fn run(settings: &Settings, messages: &Messages) -> i32 {
    if matches!(settings.mode, Mode::Stdout | Mode::File(_)) {
        return to_stream(settings, messages);
    }
    let start = Instant::now();
    let skip = match &settings.mode {
        Mode::OutputDir(dir) => {
            if let Err(e) = std::fs::create_dir_all(dir) {
                messages.error(&format!("{}: {e}", dir.display()));
                return 1;
            }
            let canonical = dir.canonicalize().ok();
            if settings
                .paths
                .iter()
                .any(|p| p.canonicalize().ok() == canonical)
            {
                messages.error(&format!(
                    "{}: the output directory is an input; use --in-place to rewrite files",
                    dir.display()
                ));
                return 2;
            }
            canonical
        }
        _ => None,
    };
    let (inputs, dirs, mut outcomes) =
        collect(&settings.paths, &settings.walk, messages, skip.as_deref());
    let batch = Batch {
        settings,
        messages,
        done: AtomicUsize::new(0),
        bytes: AtomicU64::new(0),
        claimed: Mutex::new(HashMap::new()),
    };
    let total = inputs.len();
    let finished = AtomicBool::new(false);
    let show_progress =
        !settings.quiet && !settings.json && total > 1 && io::stderr().is_terminal();
    let results: Vec<Outcome> = std::thread::scope(|scope| {
        if show_progress {
            scope.spawn(|| {
                while !finished.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(150));
                    let done = batch.done.load(Ordering::Relaxed);
                    let mb = batch.bytes.load(Ordering::Relaxed) as f64 / 1e6;
                    messages.progress(&format!("fanjian: {done}/{total} files, {mb:.1} MB"));
                }
                messages.clear_progress();
            });
        }
        let r = inputs.par_iter().map(|i| batch.process(i)).collect();
        finished.store(true, Ordering::Relaxed);
        r
    });
    outcomes.extend(results);
    if settings.convert_filenames {
        if let (Mode::InPlace { .. }, Plan::Fixed(converter)) = (&settings.mode, &settings.plan) {
            // Deepest first, so that a directory is renamed after everything in it.
            let mut dirs = dirs;
            dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
            for d in dirs {
                if let Err(message) = rename_converted(converter, &d) {
                    messages.error(&message);
                    outcomes.push(Outcome::failed(&d, message));
                }
            }
        }
    }
    let elapsed = start.elapsed();
    let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
    let bytes: u64 = outcomes.iter().map(|o| o.bytes_in).sum();
    let failed = count(Status::Failed);
    let would_change = count(Status::WouldChange);
    if matches!(settings.mode, Mode::Check { diff: false }) && !settings.json {
        let mut out = io::stdout().lock();
        for o in outcomes.iter().filter(|o| o.status == Status::WouldChange) {
            let _ = writeln!(out, "{}", o.path);
        }
    }
    let mb_s = bytes as f64 / 1e6 / elapsed.as_secs_f64().max(1e-9);
    if settings.json {
        let files: Vec<String> = outcomes
            .iter()
            .map(|o| {
                format!(
                    "{{\"path\":{},\"status\":\"{}\",\"encoding\":{},\"bytes_in\":{},\"bytes_out\":{},\"message\":{}}}",
                    json_string(&o.path),
                    o.status.name(),
                    o.encoding.map_or("null".into(), |e| json_string(e.name())),
                    o.bytes_in,
                    o.bytes_out,
                    o.message.as_deref().map_or("null".into(), json_string),
                )
            })
            .collect();
        println!(
            "{{\"files\":[{}],\"summary\":{{\"converted\":{},\"unchanged\":{},\"would_change\":{},\"skipped\":{},\"failed\":{},\"bytes\":{bytes},\"seconds\":{:.3},\"mb_per_s\":{mb_s:.1}}}}}",
            files.join(","),
            count(Status::Converted),
            count(Status::Unchanged),
            would_change,
            count(Status::Skipped),
            failed,
            elapsed.as_secs_f64(),
        );
    } else if !settings.quiet {
        let first = if matches!(settings.mode, Mode::Check { .. }) {
            format!("{would_change} would change")
        } else {
            format!("{} converted", count(Status::Converted))
        };
        eprintln!(
            "fanjian: {first}, {} unchanged, {} skipped, {failed} failed; {:.1} MB in {:.2} s ({mb_s:.1} MB/s)",
            count(Status::Unchanged),
            count(Status::Skipped),
            bytes as f64 / 1e6,
            elapsed.as_secs_f64(),
        );
    }
    i32::from(failed > 0 || would_change > 0)
}

/// `fanjian detect`: each file's encoding and script.
pub fn detect_files(paths: &[PathBuf], json: bool, walk: &Walk, messages: &Messages) -> i32 {
    let mut failed = false;
    let report = |name: &str, bytes: &[u8], eof: bool| {
        let d = detect(bytes, eof);
        let mut text = String::new();
        let start = if d.bom { d.encoding.bom().len() } else { 0 };
        let _ = fanjian::Decoder::new(d.encoding, true).decode(&bytes[start..], eof, &mut text);
        let s = detect_script(&text);
        if json {
            println!(
                "{{\"path\":{},\"encoding\":\"{}\",\"bom\":{},\"script\":\"{}\",\"confidence\":{:.3},\"simplified_only\":{},\"traditional_only\":{},\"han\":{}}}",
                json_string(name),
                d.encoding,
                d.bom,
                s.script,
                s.confidence,
                s.simplified,
                s.traditional,
                s.han
            );
        } else {
            println!(
                "{name}\t{}{}\t{}\t{:.0}%\tsimplified-only {} traditional-only {} of {} Han",
                d.encoding,
                if d.bom { " (BOM)" } else { "" },
                s.script,
                s.confidence * 100.0,
                s.simplified,
                s.traditional,
                s.han
            );
        }
    };
    // Enough text for a sure verdict without reading whole corpora.
    const SAMPLE: u64 = 1 << 20;
    if paths.is_empty() {
        let mut bytes = Vec::new();
        if let Err(e) = io::stdin().lock().take(SAMPLE).read_to_end(&mut bytes) {
            messages.error(&format!("<stdin>: {e}"));
            return 1;
        }
        report("<stdin>", &bytes, (bytes.len() as u64) < SAMPLE);
        return 0;
    }
    let (inputs, _, errors) = collect(paths, walk, messages, None);
    failed |= errors.iter().any(|e| e.status == Status::Failed);
    for input in inputs {
        let name = input.path.display().to_string();
        let mut bytes = Vec::new();
        match File::open(&input.path).and_then(|f| f.take(SAMPLE).read_to_end(&mut bytes)) {
            Ok(_) => report(&name, &bytes, (bytes.len() as u64) < SAMPLE),
            Err(e) => {
                messages.error(&format!("{name}: {e}"));
                failed = true;
            }
        }
    }
    i32::from(failed)
}

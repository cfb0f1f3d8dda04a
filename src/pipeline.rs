//! `Read` → decode → convert → encode → `Write`, in bounded memory.
//!
//! The input is read in chunks; the first chunk decides the encoding (unless one is given);
//! each chunk is decoded strictly, converted through a [`StreamConverter`] (byte-identical to
//! converting the whole text at once) and encoded strictly. Memory is the chunk buffers plus the
//! few characters the stream holds back, whatever the size of the input or its lines.
//! Line endings and the presence of a final newline pass through untouched; an input BOM is
//! stripped, and one is written only when asked or when writing back in the input's encoding.
//!
//! With threads (see [`StreamOptions::threads`]), UTF-8 goes to the threads' slots as it is
//! read, and each slot's thread validates it: the calling thread only finds the cuts (and, for
//! a file read at offsets with [`convert_file`], leaves the reading of each slot to its thread).
//! GB18030, GBK, Big5 and UTF-16 too, cut only before a character below 0x30 (a byte of its
//! own in the first three, a code unit in UTF-16), and each slot's thread decodes it. A slot
//! that does not validate (or decode) goes back through the decoder (in a lossy conversion,
//! its thread replaces the malformed sequences itself where it can), so errors and lossy
//! output are those of one thread. The slots' threads normalize (slots cut before ASCII
//! whitespace, or line ends where quotation marks are paired) and encode their outputs too; a
//! slot with a character the output encoding lacks, where that is an error, is encoded again
//! by the calling thread, which knows where it stands.

use std::fmt;
use std::io::{self, Read, Write};

use crate::encoding::{detect, utf8_prefix, DecodeError, Decoder, EncodeError, Encoder, Encoding};
use crate::normalize::{Normalize, Normalizer};
use crate::stream::{self, Flow, Piece, RawInput, Recall, StreamConverter};
use crate::Converter;

/// The encoding to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutputEncoding {
    /// UTF-8 (the default: fanjian normalizes encodings).
    #[default]
    Utf8,
    /// The encoding the input was read in, with a BOM if the input had one.
    Keep,
    /// This encoding.
    Encoding(Encoding),
}

/// How [`convert_stream`] reads and writes.
#[derive(Debug, Clone, Default)]
pub struct StreamOptions {
    /// The input's encoding; `None` detects it (see [`detect`]).
    pub from: Option<Encoding>,
    /// The output's encoding.
    pub to: OutputEncoding,
    /// Write a byte order mark (for UTF-8, UTF-16 and GB18030).
    pub bom: bool,
    /// Replace malformed input with U+FFFD (and count it) instead of stopping.
    pub lossy: bool,
    /// Write `?` for characters the output encoding lacks (and count them) instead of stopping.
    pub replace_unmappable: bool,
    /// Bytes read at a time; 0 means the default (64 KiB). The first read takes at least
    /// 64 KiB, to detect the encoding.
    pub buffer_size: usize,
    /// Convert on up to this many threads (0 or 1: one thread): the text goes to the current
    /// rayon thread pool in slots of a few hundred KiB cut at safe places, converted as
    /// threads are free and written in order by the calling thread (which converts a slot too
    /// where it would otherwise wait). UTF-8 is validated by the slots' threads (the other
    /// encodings decoded), and, from [`convert_file`], read by them; they normalize and encode
    /// it too. The output is the same bytes, and an error is one thread's.
    pub threads: usize,
    /// Stop with [`StreamError::Binary`] at a NUL character: the input is not text.
    pub reject_binary: bool,
    /// Normalizations around the conversion (all off by default: OpenCC's output).
    pub normalize: Normalize,
}

/// What [`convert_stream`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamReport {
    /// The input's encoding (given or detected).
    pub input_encoding: Encoding,
    /// Whether the input started with a BOM.
    pub input_bom: bool,
    /// The output's encoding.
    pub output_encoding: Encoding,
    /// Bytes read.
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Malformed input sequences replaced by U+FFFD (with `lossy`).
    pub replaced_malformed: u64,
    /// Characters written as `?` (with `replace_unmappable`).
    pub replaced_unmappable: u64,
    /// Quotation marks left alone for want of a partner (with `normalize.quotes`).
    pub unbalanced_quotes: u64,
}

/// Why [`convert_stream`] stopped.
#[derive(Debug)]
pub enum StreamError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The input holds a NUL character (with `reject_binary`): it is not text.
    Binary(crate::encoding::Position),
    /// The input is malformed in its encoding.
    Decode(DecodeError),
    /// The output encoding cannot represent a character.
    Encode(EncodeError),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Io(e) => e.fmt(f),
            StreamError::Binary(at) => write!(f, "{at}: NUL byte: a binary file, not text"),
            StreamError::Decode(e) => e.fmt(f),
            StreamError::Encode(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Io(e) => Some(e),
            StreamError::Decode(e) => Some(e),
            StreamError::Encode(e) => Some(e),
            StreamError::Binary(_) => None,
        }
    }
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> StreamError {
        StreamError::Io(e)
    }
}

/// Bytes read at a time by default.
const CHUNK: usize = 64 * 1024;
/// Bytes the first read takes at least, to detect the encoding.
const DETECT: usize = 64 * 1024;

/// Fills `buf` from `reader` as far as it goes; returns how many bytes, fewer only at the end.
fn fill(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match reader.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Input that can be read at any offset, by several threads at once: a regular file (see
/// [`convert_file`]).
pub trait ReadAt: Sync {
    /// Reads into `buf` from byte `offset` of the input on; returns how many bytes it read, 0
    /// at the end (as `std::os::unix::fs::FileExt::read_at` does).
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize>;
}

#[cfg(unix)]
impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        std::os::unix::fs::FileExt::read_at(self, buf, offset)
    }
}

#[cfg(windows)]
impl ReadAt for std::fs::File {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        // It moves the file's cursor, which `convert_file` does not use.
        std::os::windows::fs::FileExt::seek_read(self, buf, offset)
    }
}

impl<T: ReadAt + ?Sized> ReadAt for &T {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        (**self).read_at(buf, offset)
    }
}

/// Fills `buf` from `offset` of `at` as far as it goes; returns how many bytes, fewer only at
/// the end.
pub(crate) fn fill_at(at: &dyn ReadAt, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    /// `at` read in order from an offset.
    struct ReadFrom<'a>(&'a dyn ReadAt, u64);
    impl Read for ReadFrom<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read_at(buf, self.1)?;
            self.1 += n as u64;
            Ok(n)
        }
    }
    fill(&mut ReadFrom(at, offset), buf)
}

/// Where [`Input`] reads: from a reader, or at its offsets from a [`ReadAt`].
struct Source<'a, R> {
    reader: R,
    at: Option<&'a dyn ReadAt>,
    /// The offset of the next byte to read (bytes read so far; with `at`, less a stretch
    /// read again).
    offset: u64,
}

impl<R: Read> Source<'_, R> {
    /// Fills `buf` as far as the input goes; fewer bytes only at the end.
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.at {
            Some(at) => fill_at(at, buf, self.offset)?,
            None => fill(&mut self.reader, buf)?,
        };
        self.offset += n as u64;
        Ok(n)
    }
}

/// Converts the whole of `file`, from its first byte (whatever its cursor), into `writer`, as
/// [`convert_stream`] converts what a reader gives; the same bytes. With several threads,
/// UTF-8 (GB18030, GBK and Big5 too) is read by the threads themselves, each the slot of text
/// it converts, so that the calling thread's reads do not bound the speed. A pipe or a
/// terminal cannot be read at an offset: give those to [`convert_stream`]. (On Windows the
/// reads move the file's cursor.)
///
/// A read by a thread (of its slot, or of the bytes before a slot's end) that fails or comes
/// short is not an error by itself: the calling thread reads the file again, in order, from
/// the start of that slot, and an error it meets there is the conversion's, as with one
/// thread.
///
/// ```
/// use fanjian::{convert_file, Config, Converter, StreamOptions};
/// # let dir = std::env::temp_dir().join(format!("fanjian-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # let path = dir.join("in.txt");
/// std::fs::write(&path, "头发\n")?;
/// let file = std::fs::File::open(&path)?;
/// let mut out = Vec::new();
/// convert_file(&Converter::new(Config::S2t), &file, &mut out, &StreamOptions::default())?;
/// assert_eq!(out, "頭髮\n".as_bytes());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn convert_file(
    converter: &Converter,
    file: &impl ReadAt,
    writer: impl Write,
    options: &StreamOptions,
) -> Result<StreamReport, StreamError> {
    let source = Source {
        reader: io::empty(),
        at: Some(file),
        offset: 0,
    };
    convert_source(converter, source, writer, options)
}

/// Converts everything `reader` gives into `writer` (see the module docs).
///
/// ```
/// use fanjian::{convert_stream, Config, Converter, Encoding, OutputEncoding, StreamOptions};
/// let (gbk, _, _) = encoding_rs::GBK.encode("头发\r\n");
/// let mut out = Vec::new();
/// let report = convert_stream(&Converter::new(Config::S2t), &gbk[..], &mut out, &StreamOptions::default())?;
/// assert_eq!(report.input_encoding, Encoding::Gb18030);
/// assert_eq!(out, "頭髮\r\n".as_bytes());
/// # Ok::<(), fanjian::StreamError>(())
/// ```
pub fn convert_stream(
    converter: &Converter,
    reader: impl Read,
    writer: impl Write,
    options: &StreamOptions,
) -> Result<StreamReport, StreamError> {
    let source = Source {
        reader,
        at: None,
        offset: 0,
    };
    convert_source(converter, source, writer, options)
}

fn convert_source(
    converter: &Converter,
    mut source: Source<'_, impl Read>,
    mut writer: impl Write,
    options: &StreamOptions,
) -> Result<StreamReport, StreamError> {
    let chunk = match options.buffer_size {
        0 => CHUNK,
        size => size,
    };
    let mut raw = vec![0u8; chunk.max(DETECT)];
    let n = source.fill(&mut raw)?;
    let eof = n < raw.len();
    let (input_encoding, input_bom) = match options.from {
        Some(enc) => {
            let utf16 = matches!(enc, Encoding::Utf16Le | Encoding::Utf16Be);
            // With UTF-16, a BOM decides the byte order ("utf-16" reads little-endian without).
            match [Encoding::Utf16Le, Encoding::Utf16Be]
                .into_iter()
                .find(|e| utf16 && raw[..n].starts_with(e.bom()))
            {
                Some(e) => (e, true),
                None => (
                    enc,
                    !enc.bom().is_empty() && raw[..n].starts_with(enc.bom()),
                ),
            }
        }
        None => {
            let d = detect(&raw[..n], eof);
            (d.encoding, d.bom)
        }
    };
    let output_encoding = match options.to {
        OutputEncoding::Utf8 => Encoding::Utf8,
        OutputEncoding::Keep => input_encoding,
        OutputEncoding::Encoding(e) => e,
    };
    let write_bom = options.bom || (options.to == OutputEncoding::Keep && input_bom);

    let mut encoder = Encoder::new(output_encoding, options.replace_unmappable);
    let mut normalizer = Normalizer::new(options.normalize);
    let (mut after, mut encoded) = (String::new(), Vec::new());
    let mut bytes_out = 0u64;
    if write_bom {
        writer.write_all(output_encoding.bom())?;
        bytes_out += output_encoding.bom().len() as u64;
    }
    let mut input = Input {
        source,
        raw_base: 0,
        decoder: Decoder::new(input_encoding, options.lossy),
        reject_binary: options.reject_binary,
        utf16_given: 0,
        raw,
        n,
        eof,
        start: if input_bom {
            input_encoding.bom().len()
        } else {
            0
        },
        in_place: input_encoding == Encoding::Utf8,
        chunk,
        decoded: String::new(),
        before: String::new(),
    };
    let mut write = |piece: Piece<'_>, eof: bool, normalizer: &mut Normalizer| {
        bytes_out += write_out(
            &mut writer,
            (piece, &mut after, &mut encoded),
            (normalizer, &mut encoder, output_encoding),
            eof,
        )?;
        Ok::<(), StreamError>(())
    };
    // Malformed sequences the threads replaced (see `RawInput::lossy`), and quotation marks
    // without a partner they left alone.
    let mut replaced_by_threads = 0;
    let mut unbalanced_by_threads = 0;
    // An input that ends within the first read converts on this thread: not worth starting
    // the pool's threads for.
    if options.threads > 1 && !input.eof {
        // The reads are converted on the pool's threads, and written in order, while this
        // thread goes on reading (see `Flow`).
        let encoding = input.decoder.encoding();
        // (A normalizer that has seen no text yet.)
        let normalizes = normalizer.has_before() || normalizer.has_after();
        let fresh = normalizes.then(|| normalizer.clone());
        let raw = RawInput {
            encoding,
            reject_nul: options.reject_binary,
            lossy: options.lossy,
            at: input.source.at,
            normalize: fresh.as_ref(),
        };
        // The threads encode the outputs too (not those this thread is to normalize after the
        // conversion, in order: see `RawInput::normalize`).
        let encode = (output_encoding != Encoding::Utf8)
            .then_some((output_encoding, options.replace_unmappable));
        stream::flow(converter, options.threads, raw, encode, |flow| {
            // The input is read straight into the threads' slots, and validated (UTF-8) or
            // decoded there; then normalized there, where the conversion has a
            // normalization before it. Input sent back goes through this thread's
            // normalizer, which has seen no text: the flow sends back from a cut before
            // ASCII whitespace, where a fresh one gives the same text.
            let mut write_flow = |out: Piece<'_>| write(out, false, &mut normalizer);
            let recall = input.raw_into(flow, &mut write_flow);
            replaced_by_threads = flow.replaced();
            unbalanced_by_threads = flow.unbalanced();
            match recall? {
                None => return write(Piece::Text(""), true, &mut normalizer),
                Some(recall) => input.replay(recall),
            }
            input.each(&mut normalizer, |text, eof, n| {
                flow.push(text, &mut |out| write(out, false, n))?;
                if eof {
                    flow.finish(&mut |out| write(out, false, n))?;
                    write(Piece::Text(""), true, n)?;
                }
                Ok(())
            })
        })?;
    } else {
        let mut stream = StreamConverter::new(converter);
        let mut converted = String::new();
        input.each(&mut normalizer, |text, eof, n| {
            converted.clear();
            stream.push(text, &mut converted);
            if eof {
                stream.finish(&mut converted);
            }
            write(Piece::Text(&converted), eof, n)
        })?;
    }
    writer.flush()?;
    Ok(StreamReport {
        input_encoding,
        input_bom,
        output_encoding,
        bytes_in: input.source.offset,
        bytes_out,
        replaced_malformed: input.decoder.replaced() + replaced_by_threads,
        replaced_unmappable: encoder.replaced(),
        unbalanced_quotes: normalizer.unbalanced_quotes() + unbalanced_by_threads,
    })
}

/// The reading side of [`convert_stream`]: the reader, the read buffer and what it holds.
struct Input<'a, R> {
    source: Source<'a, R>,
    /// With a [`ReadAt`]: the offset of the first byte given to a flow as it is.
    raw_base: u64,
    decoder: Decoder,
    /// Stop at a NUL character (see [`StreamOptions::reject_binary`]).
    reject_binary: bool,
    /// The bytes of UTF-16 input whose characters the decoder has given out (where NUL
    /// characters stop the conversion).
    utf16_given: u64,
    raw: Vec<u8>,
    /// `raw[start..n]` is the read's input.
    n: usize,
    start: usize,
    /// Whether no input follows.
    eof: bool,
    /// UTF-8 input, taken from the read buffer as it is (until it does not validate).
    in_place: bool,
    /// Bytes read at a time.
    chunk: usize,
    decoded: String,
    before: String,
}

impl<R: Read> Input<'_, R> {
    /// Reads the input as it is into `flow`, whose threads validate (or decode) it, count its
    /// lines and convert it; `write` takes the outputs in order. Where some of it does not
    /// validate (or holds a NUL byte that is to stop the conversion, or no place to cut it),
    /// the flow sends the input from that slot on back, to go through [`Input::each`] (see
    /// [`Input::replay`]).
    fn raw_into(
        &mut self,
        flow: &mut Flow<'_, '_>,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), StreamError>,
    ) -> Result<Option<Recall>, StreamError> {
        let first = &self.raw[self.start..self.n];
        let mut n = first.len();
        flow.raw_space(n).copy_from_slice(first);
        self.raw_base = self.source.offset - n as u64;
        loop {
            if let Some(recall) = flow.push_raw(n, write)? {
                return Ok(Some(recall));
            }
            if self.eof {
                return flow.finish_raw(write);
            }
            if let Some(at) = self.source.at {
                // Slots read by the threads, as far as they go; this thread's reads take the
                // rest (the end of the input, or a stretch without a safe cut).
                match flow.push_at(at, self.source.offset, write)? {
                    Ok(offset) => self.source.offset = offset,
                    Err(recall) => return Ok(Some(recall)),
                }
            }
            n = self.source.fill(flow.raw_space(self.chunk))?;
            self.eof = n < self.chunk;
        }
    }

    /// Takes the input a flow sent back as the next read, after the input before it (or, read
    /// at offsets, reads it again from where the flow stopped).
    fn replay(&mut self, recall: Recall) {
        self.decoder.skip_counted(recall.bytes, recall.lines);
        // (In UTF-16, the slots written were whole characters.)
        self.utf16_given += recall.bytes;
        self.start = 0;
        if self.source.at.is_some() {
            self.source.offset = self.raw_base + recall.bytes;
            self.raw.clear();
            self.n = 0;
            self.eof = false;
        } else {
            self.n = recall.input.len();
            self.raw = recall.input;
        }
    }

    /// Calls `f` with the text of each read (decoded and normalized), whether it is the last,
    /// and the normalizer; reads the next.
    fn each(
        &mut self,
        normalizer: &mut Normalizer,
        mut f: impl FnMut(&str, bool, &mut Normalizer) -> Result<(), StreamError>,
    ) -> Result<(), StreamError> {
        loop {
            let (eof, n) = (self.eof, self.n);
            // UTF-8 input is converted straight from the read buffer; other encodings (and
            // UTF-8 that does not validate, for the error or the lossy replacement) go through
            // the decoder.
            let bytes = &self.raw[self.start..n];
            let (lines_before, bytes_before) = self.decoder.mark();
            let valid = if self.in_place {
                utf8_prefix(bytes, eof)
            } else {
                None
            };
            // Where the input stops with an error (a malformed sequence, a NUL), the text before
            // it.
            let mut stop = None;
            let (mut text, used): (&str, usize) = match valid {
                Some(valid) => {
                    self.decoder.skip_valid(valid);
                    (valid, valid.len())
                }
                None => {
                    // A NUL before the first malformed sequence stops first, wherever the reads
                    // begin and end. Where a NUL byte stands for itself (all but UTF-16), the
                    // read decoded up to it, as in the whole, ends with it, unless a malformed
                    // sequence stops first.
                    let encoding = self.decoder.encoding();
                    let alone = encoding == Encoding::Utf8 || encoding.restarts_at_low_bytes();
                    let nul = memchr::memchr(0, bytes).filter(|_| self.reject_binary && alone);
                    self.decoded.clear();
                    if let Some(at) = nul {
                        let decoded = &mut self.decoded;
                        stop = Some(match self.decoder.decode(&bytes[..=at], false, decoded) {
                            Err(e) => StreamError::Decode(e),
                            Ok(()) => {
                                debug_assert!(decoded.ends_with('\0'));
                                decoded.pop();
                                let mut lines = lines_before;
                                lines.advance(decoded);
                                StreamError::Binary(lines.at(bytes_before + at as u64))
                            }
                        });
                    } else {
                        // From here on the decoder may hold part of a sequence: keep to it.
                        self.in_place = false;
                        let decoded = &mut self.decoded;
                        stop = self
                            .decoder
                            .decode(bytes, eof, decoded)
                            .err()
                            .map(StreamError::Decode);
                    }
                    (&self.decoded, bytes.len())
                }
            };
            // An incomplete UTF-8 character at the end moves to the front of the next read.
            let carry = bytes.len() - used;
            // (In UTF-16, a NUL before a malformed sequence stops first.)
            if self.reject_binary && !matches!(stop, Some(StreamError::Binary(_))) {
                // UTF-8 read as it is, or UTF-16 (a NUL byte in the others stopped above),
                // whose units are counted from the characters given out (the decoder may hold
                // some of the read's bytes, or give out some of the last one's).
                let encoding = self.decoder.encoding();
                let utf16 = matches!(encoding, Encoding::Utf16Le | Encoding::Utf16Be);
                if let Some(at) = memchr::memchr(0, text.as_bytes()) {
                    let mut lines = lines_before;
                    lines.advance(&text[..at]);
                    let byte = match utf16 {
                        true => self.utf16_given + utf16_bytes(&text[..at]),
                        false => bytes_before + at as u64,
                    };
                    stop = Some(StreamError::Binary(lines.at(byte)));
                    text = &text[..at];
                } else if utf16 {
                    self.utf16_given += utf16_bytes(text);
                }
            }
            // The text before an error is converted and written as if the input ended there,
            // whatever the reads and the threads: an error in writing it (a character the
            // output encoding lacks) comes first, as it comes first in the text.
            let eof = eof || stop.is_some();
            // Normalization copies only a piece in which something changes.
            let text: &str = match eof {
                true => normalizer.before_whole(text, &mut self.before),
                false => normalizer.before_in(text, &mut self.before),
            };
            f(text, eof, normalizer)?;
            if let Some(stop) = stop {
                return Err(stop);
            }
            if eof {
                return Ok(());
            }
            self.raw.copy_within(n - carry..n, 0);
            self.raw.resize(self.chunk.max(carry + 1), 0);
            let read = self.source.fill(&mut self.raw[carry..])?;
            self.n = carry + read;
            self.eof = self.n < self.raw.len();
            self.start = 0;
        }
    }
}

/// The bytes of `text` in UTF-16.
fn utf16_bytes(text: &str) -> u64 {
    // A character is a byte that continues none; four bytes of UTF-8 are two units.
    let units: u64 = (text.bytes())
        .map(|b| u64::from(b & 0xC0 != 0x80) + u64::from(b >= 0xF0))
        .sum();
    2 * units
}

/// Normalizes (after the conversion) and encodes `converted` and writes it to `writer`;
/// returns how many bytes it wrote. A piece a flow's thread encoded is written as it is, and
/// one it normalized is encoded only.
fn write_out(
    writer: &mut impl Write,
    (converted, after, encoded): (Piece<'_>, &mut String, &mut Vec<u8>),
    (normalizer, encoder, output_encoding): (&mut Normalizer, &mut Encoder, Encoding),
    eof: bool,
) -> Result<u64, StreamError> {
    let (converted, normalized) = match converted {
        Piece::Text(text) => (text, false),
        Piece::Encoded(bytes, by) => {
            encoder.append(by);
            writer.write_all(bytes)?;
            return Ok(bytes.len() as u64);
        }
        Piece::Finished(text) => (text, true),
    };
    let converted: &str = match (normalized, eof) {
        (true, _) => converted,
        (false, true) => normalizer.after_whole(converted, after),
        (false, false) => normalizer.after_in(converted, after),
    };
    let out: &[u8] = if output_encoding == Encoding::Utf8 {
        converted.as_bytes()
    } else {
        encoded.clear();
        encoder
            .encode(converted, eof, encoded)
            .map_err(StreamError::Encode)?;
        encoded
    };
    writer.write_all(out)?;
    Ok(out.len() as u64)
}

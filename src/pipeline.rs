//! `Read` → decode → convert → encode → `Write`, in bounded memory.
//!
//! The input is read in chunks; the first chunk decides the encoding (unless one is given);
//! each chunk is decoded strictly, converted through a [`StreamConverter`] (byte-identical to
//! converting the whole text at once) and encoded strictly. Memory is the chunk buffers plus the
//! few characters the stream holds back, whatever the size of the input or its lines.
//! Line endings and the presence of a final newline pass through untouched; an input BOM is
//! stripped, and one is written only when asked or when writing back in the input's encoding.

use std::fmt;
use std::io::{self, Read, Write};

use crate::encoding::{detect, DecodeError, Decoder, EncodeError, Encoder, Encoding};
use crate::normalize::{Normalize, Normalizer};
use crate::stream::{Parts, StreamConverter};
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
    /// Bytes read at a time; 0 means the default (256 KiB, or 1 MiB per thread with
    /// `threads`). The first read takes at least 64 KiB, to detect the encoding.
    pub buffer_size: usize,
    /// Convert each read on up to this many threads, on the current rayon thread pool (0 or
    /// 1: one thread), in pieces cut at safe places; write the last read's output and make the
    /// next read while one converts. The output is the same bytes.
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

/// For UTF-8 input: `bytes` as text, less an incomplete character at the end when more input
/// follows. `None` when the bytes do not validate.
fn utf8_prefix(bytes: &[u8], eof: bool) -> Option<&str> {
    // Where the last character starts, and whether it is complete.
    let mut end = bytes.len();
    if !eof {
        if let Some(lead) = (bytes.len().saturating_sub(4)..bytes.len())
            .rev()
            .find(|&i| bytes[i] & 0xC0 != 0x80)
        {
            let need = match bytes[lead] {
                b if b < 0x80 => 1,
                b if b >= 0xF0 => 4,
                b if b >= 0xE0 => 3,
                _ => 2,
            };
            if lead + need > bytes.len() {
                end = lead;
            }
        }
    }
    // simdutf8 validates several times faster than the standard library on CJK text.
    simdutf8::basic::from_utf8(&bytes[..end]).ok()
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
    mut reader: impl Read,
    mut writer: impl Write,
    options: &StreamOptions,
) -> Result<StreamReport, StreamError> {
    let chunk = match (options.buffer_size, options.threads) {
        (0, 0 | 1) => CHUNK,
        (0, threads) => threads << 20,
        (size, _) => size,
    };
    let mut raw = vec![0u8; chunk.max(DETECT)];
    let mut n = fill(&mut reader, &mut raw)?;
    let mut eof = n < raw.len();
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

    let mut decoder = Decoder::new(input_encoding, options.lossy);
    let mut encoder = Encoder::new(output_encoding, options.replace_unmappable);
    let mut stream = StreamConverter::new(converter).with_parallelism(options.threads);
    let mut normalizer = Normalizer::new(options.normalize);
    let (mut before, mut after) = (String::new(), String::new());
    let mut decoded = String::new();
    let mut converted = String::new();
    let mut encoded = Vec::new();
    // With threads: while a read converts, the output of the last one is written and the next
    // one read (into `next_raw`), so that each thread converts as much of the time as it can.
    let parallel = options.threads > 1;
    let mut written_later = Vec::new();
    let mut next_raw = Vec::new();
    // With threads, UTF-8 output and nothing to normalize after the conversion, the output is
    // written part by part as the threads converted it (see `Parts`), not copied into one
    // string and then once more to be written later.
    let by_parts = parallel && output_encoding == Encoding::Utf8 && !normalizer.has_after();
    let (mut parts, mut later_parts) = (Parts::default(), Parts::default());
    let mut bytes_in = n as u64;
    let mut bytes_out = 0u64;
    if write_bom {
        writer.write_all(output_encoding.bom())?;
        bytes_out += output_encoding.bom().len() as u64;
    }
    let mut start = if input_bom {
        input_encoding.bom().len()
    } else {
        0
    };
    let mut in_place = input_encoding == Encoding::Utf8;
    // With threads: the length of the valid UTF-8 prefix of the next read (see below).
    let mut validated: Option<Option<usize>> = None;
    loop {
        // UTF-8 input is converted straight from the read buffer; other encodings (and UTF-8
        // that does not validate, for the error or the lossy replacement) go through the decoder.
        let bytes = &raw[start..n];
        let (lines_before, bytes_before) = decoder.mark();
        let valid = match (in_place, validated.take()) {
            (false, _) => None,
            // SAFETY: the length of the valid prefix of these bytes, found while the last read
            // converted.
            (true, Some(len)) => {
                len.map(|len| unsafe { std::str::from_utf8_unchecked(&bytes[..len]) })
            }
            (true, None) => utf8_prefix(bytes, eof),
        };
        let (text, used): (&str, usize) = match valid {
            Some(valid) => {
                decoder.skip_valid(valid);
                (valid, valid.len())
            }
            None => {
                // From here on the decoder may hold part of a sequence: keep to it.
                in_place = false;
                decoded.clear();
                decoder
                    .decode(bytes, eof, &mut decoded)
                    .map_err(StreamError::Decode)?;
                (&decoded, bytes.len())
            }
        };
        // An incomplete UTF-8 character at the end moves to the front of the next read.
        let carry = bytes.len() - used;
        let read_ahead = parallel && !eof;
        if read_ahead {
            next_raw.resize(chunk.max(carry + 1), 0);
            next_raw[..carry].copy_from_slice(&bytes[used..]);
        }
        if options.reject_binary {
            if let Some(at) = memchr::memchr(0, text.as_bytes()) {
                let mut lines = lines_before;
                lines.advance(&text[..at]);
                // The byte offset is exact for UTF-8; otherwise that of the read it is in.
                let byte = bytes_before + if valid.is_some() { at as u64 } else { 0 };
                return Err(StreamError::Binary(lines.at(byte)));
            }
        }
        // Normalization copies only a piece in which something changes.
        let text: &str = if eof && normalizer.has_before() {
            let mut done = normalizer.before_in(text, &mut before).to_string();
            normalizer.finish_before(&mut done);
            before = done;
            &before
        } else {
            normalizer.before_in(text, &mut before)
        };
        converted.clear();
        parts.clear();
        let mut read = Ok(0);
        let mut write = Ok(0);
        // With threads: the last read's output is written, and the next read made and
        // validated, while this one converts.
        let mut side = parallel.then_some(|| {
            write = write_all(&mut writer, [&written_later[..]], &later_parts);
            if read_ahead {
                read = fill(&mut reader, &mut next_raw[carry..]);
                if let (true, Ok(read)) = (in_place, &read) {
                    let n = carry + read;
                    let eof = n < next_raw.len();
                    validated = Some(utf8_prefix(&next_raw[..n], eof).map(str::len));
                }
            }
        });
        if by_parts {
            // The pool converts the pieces, and this thread too once its own work is done.
            stream.push_parts(text, &mut parts, &mut side);
            if eof {
                stream.finish_parts(&mut parts, &mut side);
            }
        } else {
            let mut convert = || {
                stream.push(text, &mut converted);
                if eof {
                    stream.finish(&mut converted);
                }
            };
            match side.take() {
                None => convert(),
                Some(mut side) => rayon::in_place_scope(|scope| {
                    scope.spawn(|_| convert());
                    side();
                }),
            }
        }
        // (Where the pieces were too few to convert in parallel, or none was ready.)
        if let Some(mut side) = side.take() {
            side();
        }
        if parallel {
            bytes_out += write?;
            written_later.clear();
            later_parts.clear();
        }
        if by_parts {
            if eof {
                bytes_out += write_all(&mut writer, [], &parts)?;
            } else {
                std::mem::swap(&mut parts, &mut later_parts);
            }
        } else {
            bytes_out += write_out(
                &mut writer,
                (&converted, &mut after, &mut encoded),
                (&mut normalizer, &mut encoder, output_encoding),
                eof,
                parallel.then_some(&mut written_later),
            )?;
        }
        if eof {
            break;
        }
        let read = if read_ahead {
            std::mem::swap(&mut raw, &mut next_raw);
            read?
        } else {
            raw.copy_within(n - carry..n, 0);
            raw.resize(chunk.max(carry + 1), 0);
            fill(&mut reader, &mut raw[carry..])?
        };
        bytes_in += read as u64;
        n = carry + read;
        eof = n < raw.len();
        start = 0;
    }
    writer.flush()?;
    Ok(StreamReport {
        input_encoding,
        input_bom,
        output_encoding,
        bytes_in,
        bytes_out,
        replaced_malformed: decoder.replaced(),
        replaced_unmappable: encoder.replaced(),
        unbalanced_quotes: normalizer.unbalanced_quotes(),
    })
}

/// Writes `bytes` and then `parts` to `writer`; returns how many bytes.
fn write_all<'a>(
    writer: &mut impl Write,
    bytes: impl IntoIterator<Item = &'a [u8]>,
    parts: &'a Parts,
) -> io::Result<u64> {
    let mut written = 0;
    for piece in bytes.into_iter().chain(parts.iter().map(str::as_bytes)) {
        writer.write_all(piece)?;
        written += piece.len() as u64;
    }
    Ok(written)
}

/// Normalizes (after the conversion) and encodes `converted` and writes it to `writer`, or,
/// where `later` is given and more input follows, keeps the bytes there to be written while
/// the next read converts; returns how many bytes it wrote.
fn write_out(
    writer: &mut impl Write,
    (converted, after, encoded): (&str, &mut String, &mut Vec<u8>),
    (normalizer, encoder, output_encoding): (&mut Normalizer, &mut Encoder, Encoding),
    eof: bool,
    later: Option<&mut Vec<u8>>,
) -> Result<u64, StreamError> {
    let converted: &str = if eof && normalizer.has_after() {
        let mut done = normalizer.after_in(converted, after).to_string();
        normalizer.finish_after(&mut done);
        *after = done;
        after
    } else {
        normalizer.after_in(converted, after)
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
    match later {
        Some(later) if !eof => {
            later.extend_from_slice(out);
            Ok(0)
        }
        _ => {
            writer.write_all(out)?;
            Ok(out.len() as u64)
        }
    }
}

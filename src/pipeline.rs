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
use crate::stream::StreamConverter;
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
    /// Bytes read at a time; 0 means the default (256 KiB). The first read takes at least
    /// 64 KiB, to detect the encoding.
    pub buffer_size: usize,
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
}

/// Why [`convert_stream`] stopped.
#[derive(Debug)]
pub enum StreamError {
    /// Reading or writing failed.
    Io(io::Error),
    /// The input is malformed in its encoding.
    Decode(DecodeError),
    /// The output encoding cannot represent a character.
    Encode(EncodeError),
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Io(e) => e.fmt(f),
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
        }
    }
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> StreamError {
        StreamError::Io(e)
    }
}

/// Bytes read at a time by default.
const CHUNK: usize = 256 * 1024;
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
    let chunk = if options.buffer_size == 0 {
        CHUNK
    } else {
        options.buffer_size
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
    let mut stream = StreamConverter::new(converter);
    let mut decoded = String::new();
    let mut converted = String::new();
    let mut encoded = Vec::new();
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
    loop {
        decoded.clear();
        decoder
            .decode(&raw[start..n], eof, &mut decoded)
            .map_err(StreamError::Decode)?;
        converted.clear();
        if eof {
            stream.push(&decoded, &mut converted);
            stream.finish(&mut converted);
        } else {
            stream.push(&decoded, &mut converted);
        }
        encoded.clear();
        encoder
            .encode(&converted, eof, &mut encoded)
            .map_err(StreamError::Encode)?;
        writer.write_all(&encoded)?;
        bytes_out += encoded.len() as u64;
        if eof {
            break;
        }
        raw.truncate(chunk);
        n = fill(&mut reader, &mut raw)?;
        bytes_in += n as u64;
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
    })
}

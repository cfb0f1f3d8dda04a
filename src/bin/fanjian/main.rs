//! The `fanjian` command: converts a file or standard input with one config, with OpenCC's
//! command-line flags (`-c`, `-i`, `-o`, `--include-tofu-risk-dictionaries`).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use fanjian::{
    convert_stream, Config, Converter, Encoding, OutputEncoding, StreamError, StreamOptions,
};

/// Convert Chinese text between Simplified, Traditional, Taiwan, Hong Kong and Japanese forms,
/// with output byte-identical to OpenCC 1.4.2.
#[derive(Parser, Debug)]
#[command(
    name = "fanjian",
    version,
    after_help = "Examples:\n  echo 头发 | fanjian -c s2t\n  fanjian -c s2twp -i in.txt -o out.txt\n  fanjian -c my-config.json -i in.txt\n\nConfigs: s2t t2s s2tw tw2s s2twp tw2sp s2hk hk2s s2hkp hk2sp t2tw tw2t t2hk hk2t t2jp jp2t"
)]
struct Args {
    /// Config: a built-in name (s2t, s2twp, ...), NAME.json, or the path of an OpenCC JSON config
    #[arg(short, long, default_value = "s2t", value_name = "CONFIG")]
    config: String,

    /// Input file (default: standard input)
    #[arg(short, long, value_name = "FILE")]
    input: Option<PathBuf>,

    /// Output file (default: standard output); written whole or not at all
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,

    /// Include dictionaries that may output characters many fonts cannot show, as OpenCC's
    /// --include-tofu-risk-dictionaries does
    #[arg(long)]
    include_tofu_risk_dictionaries: bool,

    /// Input encoding: auto (default: detected), utf-8, utf-16, utf-16le, utf-16be, gb18030,
    /// gbk, cp936, gb2312, big5, cp950, big5-hkscs
    #[arg(long, value_name = "LABEL")]
    from_encoding: Option<String>,

    /// Output encoding: utf-8 (default), keep (the input's), or any input label
    #[arg(long, value_name = "LABEL")]
    to_encoding: Option<String>,

    /// Write a byte order mark (UTF-8, UTF-16, GB18030)
    #[arg(long)]
    bom: bool,

    /// Replace malformed input with U+FFFD (and say how many) instead of stopping
    #[arg(long)]
    lossy: bool,

    /// Write '?' for characters the output encoding lacks (and say how many) instead of stopping
    #[arg(long)]
    replace_unmappable: bool,
}

fn load_converter(args: &Args) -> Result<Converter, String> {
    let name = args.config.as_str();
    let as_path = Path::new(name);
    // A path that exists wins; otherwise the name (or NAME.json) of a built-in config.
    if as_path.is_file() {
        return Converter::from_config_file(as_path, args.include_tofu_risk_dictionaries)
            .map_err(|e| e.to_string());
    }
    let config: Config = name
        .parse()
        .map_err(|e: fanjian::UnknownConfig| e.to_string())?;
    Ok(Converter::builder(config)
        .include_tofu_risk_dictionaries(args.include_tofu_risk_dictionaries)
        .build())
}

/// Names the file in the errors of a reader or writer.
struct Named<T> {
    inner: T,
    name: String,
}

impl<T> Named<T> {
    fn err(&self, e: io::Error) -> io::Error {
        io::Error::new(e.kind(), format!("{}: {e}", self.name))
    }
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| self.err(e))
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

/// Writes to `path` through a temporary file in the same directory, renamed into place only
/// when `write` succeeds, so that `path` is either untouched or complete, and no temporary file
/// is left behind.
fn write_atomically<T>(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> Result<T, StreamError>,
) -> Result<T, StreamError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.fanjian-{}.tmp", std::process::id()));
    let name = path.display().to_string();
    let io_err = |e: io::Error| StreamError::Io(io::Error::new(e.kind(), format!("{name}: {e}")));
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(io_err)?;
        let mut out = Named {
            inner: io::BufWriter::with_capacity(256 * 1024, file),
            name: name.clone(),
        };
        let value = write(&mut out)?;
        let file = out.inner.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions()).map_err(io_err)?;
        }
        std::fs::rename(&tmp, path).map_err(io_err)?;
        Ok(value)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn stream_options(args: &Args) -> Result<StreamOptions, String> {
    let from = match args.from_encoding.as_deref() {
        None | Some("auto") => None,
        Some(label) => Some(Encoding::from_label(label).map_err(|e| e.to_string())?),
    };
    let to = match args.to_encoding.as_deref() {
        None => OutputEncoding::Utf8,
        Some("keep") => OutputEncoding::Keep,
        Some(label) => {
            OutputEncoding::Encoding(Encoding::from_label(label).map_err(|e| e.to_string())?)
        }
    };
    Ok(StreamOptions {
        from,
        to,
        bom: args.bom,
        lossy: args.lossy,
        replace_unmappable: args.replace_unmappable,
        buffer_size: 0,
    })
}

fn run(args: &Args) -> Result<(), String> {
    let converter = load_converter(args)?;
    let options = stream_options(args)?;
    let (name, input): (String, Box<dyn Read>) = match &args.input {
        Some(p) if p.as_os_str() != "-" => {
            let name = p.display().to_string();
            let file = std::fs::File::open(p).map_err(|e| format!("{name}: {e}"))?;
            (name, Box::new(file))
        }
        _ => ("<stdin>".to_string(), Box::new(io::stdin().lock())),
    };
    let input = Named {
        inner: input,
        name: name.clone(),
    };
    let result = match &args.output {
        Some(p) if p.as_os_str() != "-" => {
            write_atomically(p, |out| convert_stream(&converter, input, out, &options))
        }
        _ => {
            let stdout = Named {
                inner: io::stdout().lock(),
                name: "<stdout>".to_string(),
            };
            convert_stream(
                &converter,
                input,
                io::BufWriter::with_capacity(256 * 1024, stdout),
                &options,
            )
        }
    };
    let report = match result {
        Ok(report) => report,
        // A closed pipe (`fanjian ... | head`) is not an error.
        Err(StreamError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => return Ok(()),
        // I/O errors already name their file; errors in the text name the input.
        Err(StreamError::Io(e)) => return Err(e.to_string()),
        Err(e) => return Err(format!("{name}:{e}")),
    };
    if report.replaced_malformed > 0 {
        eprintln!(
            "fanjian: {name}: replaced {} malformed {} sequence(s) with U+FFFD",
            report.replaced_malformed, report.input_encoding
        );
    }
    if report.replaced_unmappable > 0 {
        eprintln!(
            "fanjian: {name}: wrote {} character(s) that {} lacks as '?'",
            report.replaced_unmappable, report.output_encoding
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("fanjian: {message}");
            ExitCode::FAILURE
        }
    }
}

//! The `fanjian` command: converts a file or standard input with one config, with OpenCC's
//! command-line flags (`-c`, `-i`, `-o`, `--include-tofu-risk-dictionaries`).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use fanjian::{Config, Converter};

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

/// Describes where invalid UTF-8 starts: `line:column (byte N)`.
fn utf8_error(name: &str, bytes: &[u8], e: std::str::Utf8Error) -> String {
    let at = e.valid_up_to();
    let before = &bytes[..at];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    // `before` is valid UTF-8, so counting characters on the line is exact.
    let column = std::str::from_utf8(&before[line_start..]).map_or(0, |s| s.chars().count()) + 1;
    let bad_len = e.error_len().unwrap_or(bytes.len() - at);
    let bad: Vec<String> = bytes[at..at + bad_len]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    let what = if e.error_len().is_none() {
        "truncated UTF-8 sequence at end of input"
    } else {
        "invalid UTF-8 sequence"
    };
    format!(
        "{name}:{line}:{column} (byte {at}): {what} [{}]",
        bad.join(" ")
    )
}

/// Writes `data` to `path` through a temporary file in the same directory, renamed into place,
/// so that `path` is either untouched or complete.
fn write_atomically(path: &Path, data: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.fanjian-{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        if let Ok(meta) = std::fs::metadata(path) {
            std::fs::set_permissions(&tmp, meta.permissions())?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn run(args: &Args) -> Result<(), String> {
    let converter = load_converter(args)?;
    let (name, bytes) = match &args.input {
        Some(p) if p.as_os_str() != "-" => {
            let name = p.display().to_string();
            let bytes = std::fs::read(p).map_err(|e| format!("{name}: {e}"))?;
            (name, bytes)
        }
        _ => {
            let mut bytes = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("<stdin>: {e}"))?;
            ("<stdin>".to_string(), bytes)
        }
    };
    let text = std::str::from_utf8(&bytes).map_err(|e| utf8_error(&name, &bytes, e))?;
    let converted = converter.convert(text);
    match &args.output {
        Some(p) if p.as_os_str() != "-" => {
            write_atomically(p, converted.as_bytes()).map_err(|e| format!("{}: {e}", p.display()))
        }
        _ => {
            let mut out = io::stdout().lock();
            match out
                .write_all(converted.as_bytes())
                .and_then(|()| out.flush())
            {
                // A closed pipe (`fanjian ... | head`) is not an error.
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
                r => r.map_err(|e| format!("<stdout>: {e}")),
            }
        }
    }
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

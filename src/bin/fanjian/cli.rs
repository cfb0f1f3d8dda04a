//! The command line's flags (clap), and their validation into [`Settings`].

use std::path::PathBuf;

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use fanjian::{Config, Converter, Encoding, Normalize, OutputEncoding, QuoteStyle, StreamOptions};

const EXAMPLES: &str = "\
Examples:
  echo '头发和内存' | fanjian -c s2twp             convert standard input
  fanjian -c t2s -i in.txt -o out.txt             one file to another (OpenCC's flags)
  fanjian --to tw --in-place docs/                rewrite a tree for Taiwan, script detected per file
  fanjian -c s2t --output-dir out/ books/         convert a tree into a mirrored one
  fanjian --to cn --check src/                    list files not yet in Simplified; exit 1 if any
  fanjian --from-encoding gbk -c s2t old.txt      name an encoding detection cannot tell
  fanjian detect corpus/                          report each file's encoding and script

Configs: s2t t2s s2tw tw2s s2twp tw2sp s2hk hk2s s2hkp hk2sp t2tw tw2t t2hk hk2t t2jp jp2t
(s Simplified, t Traditional, tw Taiwan, hk Hong Kong, jp Japanese Shinjitai; a trailing p
also converts phrases, such as 鼠标 -> 滑鼠.)

Exit status: 0 all good; 1 a file failed, or --check/--diff found changes; 2 usage error.";

/// Convert Chinese text between Simplified, Traditional, Taiwan, Hong Kong and Japanese forms,
/// byte-identical to OpenCC 1.4.2; files, directory trees, any encoding.
#[derive(Parser, Debug)]
#[command(name = "fanjian", version, after_help = EXAMPLES, args_conflicts_with_subcommands = true)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Files and directories to convert ("-" or none: standard input)
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Config: a built-in name (s2t, s2twp, ...), NAME.json, or the path of an OpenCC JSON config
    #[arg(
        short,
        long,
        value_name = "CONFIG",
        conflicts_with = "to",
        help_heading = "Conversion"
    )]
    pub config: Option<String>,

    /// Convert to this form, detecting each file's script (Simplified or Traditional) to pick
    /// the config
    #[arg(long, value_enum, value_name = "FORM", help_heading = "Conversion")]
    pub to: Option<Target>,

    /// Include dictionaries that may output characters many fonts cannot show (OpenCC's flag)
    #[arg(long, help_heading = "Conversion")]
    pub include_tofu_risk_dictionaries: bool,

    /// Input file (OpenCC's flag; the same as a PATH)
    #[arg(short, long, value_name = "FILE", help_heading = "Input and output")]
    pub input: Option<PathBuf>,

    /// Output file (default: standard output); written whole or not at all
    #[arg(short, long, value_name = "FILE", help_heading = "Input and output")]
    pub output: Option<PathBuf>,

    /// Rewrite each file in place, atomically (permissions kept; an unchanged file is not touched)
    #[arg(long, conflicts_with_all = ["output", "output_dir"], help_heading = "Input and output")]
    pub in_place: bool,

    /// With --in-place: keep each original as FILE + SUFFIX
    #[arg(
        long,
        value_name = "SUFFIX",
        requires = "in_place",
        help_heading = "Input and output"
    )]
    pub backup: Option<String>,

    /// Write converted files into DIR, mirroring the input tree
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "output",
        help_heading = "Input and output"
    )]
    pub output_dir: Option<PathBuf>,

    /// Convert nothing: list the files that would change, and exit 1 if any would
    #[arg(long, conflicts_with_all = ["in_place", "output", "output_dir"], help_heading = "Input and output")]
    pub check: bool,

    /// Like --check, and show the changes as a unified diff
    #[arg(long, conflicts_with_all = ["in_place", "output", "output_dir", "check"], help_heading = "Input and output")]
    pub diff: bool,

    /// Also convert file and directory names (never overwriting an existing file)
    #[arg(long, help_heading = "Input and output")]
    pub convert_filenames: bool,

    /// Walk hidden files and directories too
    #[arg(long, help_heading = "Walking directories")]
    pub hidden: bool,

    /// Do not honour .gitignore, .ignore and .fanjianignore files
    #[arg(long, help_heading = "Walking directories")]
    pub no_ignore: bool,

    /// Only convert files matching GLOB (repeatable; e.g. '*.txt')
    #[arg(
        short,
        long = "glob",
        value_name = "GLOB",
        help_heading = "Walking directories"
    )]
    pub globs: Vec<String>,

    /// Skip files and directories matching GLOB (repeatable)
    #[arg(
        long = "exclude",
        value_name = "GLOB",
        help_heading = "Walking directories"
    )]
    pub excludes: Vec<String>,

    /// Follow symbolic links (loops are detected and skipped)
    #[arg(short = 'L', long, help_heading = "Walking directories")]
    pub follow: bool,

    /// Add or override dictionary entries (OpenCC text format, key<TAB>value; repeatable, later
    /// files win): each key is converted whole to its value, before anything else
    #[arg(long = "dict", value_name = "FILE", help_heading = "Conversion")]
    pub dicts: Vec<PathBuf>,

    /// Never convert this term, or the terms listed one per line in this file (repeatable)
    #[arg(long = "keep", value_name = "WORD|FILE", help_heading = "Conversion")]
    pub keeps: Vec<String>,

    /// Keep variation selectors with their base characters: phrases match across them (by
    /// default, as in OpenCC, a selector ends every match)
    #[arg(long, help_heading = "Conversion")]
    pub attach_variation_selectors: bool,

    /// Write, as JSON lines to FILE, each place where a one-to-many character or phrase was
    /// decided by the first candidate (file, line, column, source, chosen, alternatives)
    #[arg(long, value_name = "FILE", help_heading = "Conversion")]
    pub ambiguities: Option<PathBuf>,

    #[command(flatten)]
    pub normalize: NormalizeArgs,

    #[command(flatten)]
    pub encoding: EncodingArgs,

    /// Threads to use (default: all cores)
    #[arg(
        short = 'j',
        long,
        value_name = "N",
        help_heading = "Reporting and performance"
    )]
    pub threads: Option<usize>,

    /// No progress bar and no summary
    #[arg(short, long, help_heading = "Reporting and performance")]
    pub quiet: bool,

    /// Print a machine-readable report as JSON on standard output
    #[arg(long, help_heading = "Reporting and performance")]
    pub json: bool,

    /// Print a shell completion script or the man page, and exit
    #[arg(
        long,
        value_enum,
        value_name = "WHAT",
        help_heading = "Reporting and performance"
    )]
    pub generate: Option<Generate>,
}

/// Flags about normalization (all off by default: OpenCC's output).
#[derive(ClapArgs, Debug)]
pub struct NormalizeArgs {
    /// Normalize what is safe for ordinary prose: --fold-forms --fold-halfwidth
    /// --fold-interpunct --fullwidth-punct
    #[arg(long, help_heading = "Normalization (off by default)")]
    pub normalize: bool,

    /// Quotation marks: none (default), auto (the target region's), cn (“ ” ‘ ’), tw or hk
    /// (「 」 『 』); balanced pairs only, apostrophes and ASCII quotes left alone
    #[arg(
        long,
        value_enum,
        value_name = "STYLE",
        default_value = "none",
        help_heading = "Normalization (off by default)"
    )]
    pub punct: Punct,

    /// ASCII , ! ? : ; ( ) inside Chinese sentences -> ，！？：；（）(not in English, numbers, URLs)
    #[arg(long, help_heading = "Normalization (off by default)")]
    pub fullwidth_punct: bool,

    /// Vertical presentation forms and small form variants -> normal full-width punctuation
    #[arg(long, help_heading = "Normalization (off by default)")]
    pub fold_forms: bool,

    /// Halfwidth CJK punctuation ｡｢｣､ -> 。「」、
    #[arg(long, help_heading = "Normalization (off by default)")]
    pub fold_halfwidth: bool,

    /// Interpunct variants ・‧･ -> ·, and ― (U+2015) -> — (U+2014)
    #[arg(long, help_heading = "Normalization (off by default)")]
    pub fold_interpunct: bool,

    /// Full-width letters and digits -> ASCII
    #[arg(long, help_heading = "Normalization (off by default)")]
    pub fold_width: bool,

    /// Kangxi and CJK radicals (common in text from PDFs) -> unified ideographs
    #[arg(long, help_heading = "Normalization (off by default)")]
    pub fold_radicals: bool,
}

/// Quotation mark styles for `--punct`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Punct {
    /// Leave quotation marks alone
    None,
    /// The style of the config's target region
    Auto,
    /// Mainland: “ ” outside, ‘ ’ inside
    Cn,
    /// Taiwan: 「 」 outside, 『 』 inside
    Tw,
    /// Hong Kong: 「 」 outside, 『 』 inside
    Hk,
}

/// Flags about encodings.
#[derive(ClapArgs, Debug)]
pub struct EncodingArgs {
    /// Input encoding: auto (default: detected), utf-8, utf-16, utf-16le, utf-16be, gb18030,
    /// gbk, cp936, gb2312, big5, cp950, big5-hkscs
    #[arg(long, value_name = "LABEL", help_heading = "Encodings")]
    pub from_encoding: Option<String>,

    /// Output encoding: utf-8 (default), keep (each input's own), or any input label
    #[arg(long, value_name = "LABEL", help_heading = "Encodings")]
    pub to_encoding: Option<String>,

    /// Write a byte order mark (UTF-8, UTF-16, GB18030)
    #[arg(long, help_heading = "Encodings")]
    pub bom: bool,

    /// Replace malformed input with U+FFFD (and say how many) instead of failing
    #[arg(long, help_heading = "Encodings")]
    pub lossy: bool,

    /// Write '?' for characters the output encoding lacks (and say how many) instead of failing
    #[arg(long, help_heading = "Encodings")]
    pub replace_unmappable: bool,
}

/// `fanjian detect`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Report each file's encoding and script (Simplified, Traditional, mixed, neutral or not
    /// Chinese) with the evidence
    Detect {
        /// Files and directories ("-" or none: standard input)
        #[arg(value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Print JSON lines instead of a table
        #[arg(long)]
        json: bool,
    },
}

/// A form to convert to with `--to`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Traditional Chinese, Taiwan standard with Taiwan phrases
    Tw,
    /// Traditional Chinese, Hong Kong variant
    Hk,
    /// Simplified Chinese (mainland)
    Cn,
    /// Simplified Chinese
    S,
    /// Traditional Chinese (OpenCC standard)
    T,
    /// Japanese Shinjitai
    Jp,
}

/// What `--generate` prints.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Generate {
    /// Bash completions
    Bash,
    /// Zsh completions
    Zsh,
    /// Fish completions
    Fish,
    /// Elvish completions
    Elvish,
    /// PowerShell completions
    Powershell,
    /// The man page (roff)
    Man,
}

/// How each file is converted: one converter, or one per detected script.
pub enum Plan {
    /// The same converter for every file.
    Fixed(Converter),
    /// Pick by the file's script (text with no script-specific character counts as Simplified).
    ByScript {
        simplified: Converter,
        traditional: Converter,
    },
}

/// Where converted text goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Standard output, or the `-o` file.
    Stdout,
    /// One output file.
    File(PathBuf),
    /// Each file rewritten.
    InPlace { backup: Option<String> },
    /// A mirrored tree.
    OutputDir(PathBuf),
    /// Nothing written: report what would change (with a diff).
    Check { diff: bool },
}

/// How directories are walked.
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub hidden: bool,
    pub no_ignore: bool,
    pub globs: Vec<String>,
    pub excludes: Vec<String>,
    pub follow: bool,
}

impl Walk {
    pub fn from_args(args: &Args) -> Walk {
        Walk {
            hidden: args.hidden,
            no_ignore: args.no_ignore,
            globs: args.globs.clone(),
            excludes: args.excludes.clone(),
            follow: args.follow,
        }
    }
}

/// The validated settings.
pub struct Settings {
    pub walk: Walk,
    pub plan: Plan,
    pub mode: Mode,
    /// Inputs; empty means standard input.
    pub paths: Vec<PathBuf>,
    pub stream: StreamOptions,
    pub convert_filenames: bool,
    /// Where the ambiguity report goes (JSON lines), if asked for.
    pub ambiguities: Option<std::sync::Mutex<std::fs::File>>,
    pub quiet: bool,
    pub json: bool,
    /// Threads, where `-j` says (see [`Settings::threads`]).
    threads: Option<usize>,
}

impl Settings {
    /// Threads to use: `-j`, or all cores (asked of the system only where needed: it reads
    /// the process's cgroup limits, a tenth of a millisecond here, which a small file does
    /// not need to pay).
    pub fn threads(&self) -> usize {
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        self.threads.unwrap_or_else(|| {
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        })
    }
}

/// A usage error (exit status 2).
pub struct Usage(pub String);

fn with_overrides(plan: Plan, entries: Vec<(String, String)>) -> Plan {
    if entries.is_empty() {
        return plan;
    }
    let add =
        |c: Converter| c.with_overrides(entries.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    match plan {
        Plan::Fixed(c) => Plan::Fixed(add(c)),
        Plan::ByScript {
            simplified,
            traditional,
        } => Plan::ByScript {
            simplified: add(simplified),
            traditional: add(traditional),
        },
    }
}

fn attach_vs(plan: Plan, yes: bool) -> Plan {
    match plan {
        Plan::Fixed(c) => Plan::Fixed(c.attach_variation_selectors(yes)),
        Plan::ByScript {
            simplified,
            traditional,
        } => Plan::ByScript {
            simplified: simplified.attach_variation_selectors(yes),
            traditional: traditional.attach_variation_selectors(yes),
        },
    }
}

fn built_in(config: Config, tofu: bool) -> Converter {
    Converter::builder(config)
        .include_tofu_risk_dictionaries(tofu)
        .build()
}

fn plan(args: &Args) -> Result<Plan, Usage> {
    let tofu = args.include_tofu_risk_dictionaries;
    if let Some(target) = args.to {
        let b = |c| built_in(c, tofu);
        let (simplified, traditional) = match target {
            Target::Tw => (b(Config::S2twp), b(Config::T2tw)),
            Target::Hk => (b(Config::S2hk), b(Config::T2hk)),
            Target::Cn | Target::S => (Converter::identity(), b(Config::T2s)),
            Target::T => (b(Config::S2t), Converter::identity()),
            Target::Jp => (b(Config::S2t).then(b(Config::T2jp)), b(Config::T2jp)),
        };
        return Ok(Plan::ByScript {
            simplified,
            traditional,
        });
    }
    let name = args.config.as_deref().unwrap_or("s2t");
    let as_path = std::path::Path::new(name);
    if as_path.is_file() {
        return Converter::from_config_file(as_path, tofu)
            .map(Plan::Fixed)
            .map_err(|e| Usage(e.to_string()));
    }
    let config: Config = name
        .parse()
        .map_err(|e: fanjian::UnknownConfig| Usage(e.to_string()))?;
    Ok(Plan::Fixed(built_in(config, tofu)))
}

/// The quotation mark style `--punct auto` means: the target region's.
fn auto_quotes(args: &Args) -> Option<QuoteStyle> {
    let corner = Some(QuoteStyle::Corner);
    let mainland = Some(QuoteStyle::Mainland);
    if let Some(target) = args.to {
        return match target {
            Target::Cn | Target::S => mainland,
            _ => corner,
        };
    }
    match args
        .config
        .as_deref()
        .unwrap_or("s2t")
        .parse::<Config>()
        .ok()?
    {
        Config::T2s | Config::Tw2s | Config::Tw2sp | Config::Hk2s | Config::Hk2sp => mainland,
        _ => corner,
    }
}

fn normalize(args: &Args) -> Result<Normalize, Usage> {
    let n = &args.normalize;
    let mut options = if n.normalize {
        Normalize::prose()
    } else {
        Normalize::default()
    };
    options.fullwidth_punct |= n.fullwidth_punct;
    options.forms |= n.fold_forms;
    options.halfwidth_cjk |= n.fold_halfwidth;
    options.interpunct |= n.fold_interpunct;
    options.fullwidth_ascii |= n.fold_width;
    options.radicals |= n.fold_radicals;
    options.quotes = match n.punct {
        Punct::None => None,
        Punct::Cn => Some(QuoteStyle::Mainland),
        Punct::Tw | Punct::Hk => Some(QuoteStyle::Corner),
        Punct::Auto => Some(auto_quotes(args).ok_or_else(|| {
            Usage(
                "--punct auto needs a built-in config or --to; name the style: cn, tw or hk".into(),
            )
        })?),
    };
    Ok(options)
}

/// The user's entries: --keep terms first (they win), then --dict files, later files first.
fn overrides(args: &Args) -> Result<Vec<(String, String)>, Usage> {
    let mut entries = Vec::new();
    for keep in &args.keeps {
        let path = std::path::Path::new(keep);
        if path.is_file() {
            let text = std::fs::read_to_string(path).map_err(|e| Usage(format!("{keep}: {e}")))?;
            for line in text.lines() {
                let term = line.trim_end_matches('\r').split('\t').next().unwrap_or("");
                if !term.is_empty() && !term.starts_with('#') {
                    entries.push((term.to_string(), term.to_string()));
                }
            }
        } else {
            entries.push((keep.clone(), keep.clone()));
        }
    }
    for dict in args.dicts.iter().rev() {
        entries.extend(fanjian::read_dictionary(dict).map_err(|e| Usage(e.to_string()))?);
    }
    Ok(entries)
}

fn stream_options(e: &EncodingArgs) -> Result<StreamOptions, Usage> {
    let from = match e.from_encoding.as_deref() {
        None | Some("auto") => None,
        Some(label) => Some(Encoding::from_label(label).map_err(|e| Usage(e.to_string()))?),
    };
    let to = match e.to_encoding.as_deref() {
        None => OutputEncoding::Utf8,
        Some("keep") => OutputEncoding::Keep,
        Some(label) => {
            OutputEncoding::Encoding(Encoding::from_label(label).map_err(|e| Usage(e.to_string()))?)
        }
    };
    Ok(StreamOptions {
        from,
        to,
        bom: e.bom,
        lossy: e.lossy,
        replace_unmappable: e.replace_unmappable,
        ..StreamOptions::default()
    })
}

/// Validates the flags.
pub fn settings(args: &Args) -> Result<Settings, Usage> {
    let mut paths: Vec<PathBuf> = args.paths.clone();
    if let Some(i) = &args.input {
        paths.insert(0, i.clone());
    }
    let stdin_only = paths.is_empty() || (paths.len() == 1 && paths[0].as_os_str() == "-");
    if stdin_only {
        paths.clear();
    } else if paths.iter().any(|p| p.as_os_str() == "-") {
        return Err(Usage(
            "standard input (-) cannot be mixed with other paths".into(),
        ));
    }
    let mode = if args.in_place {
        if stdin_only {
            return Err(Usage(
                "--in-place needs files or directories to rewrite".into(),
            ));
        }
        Mode::InPlace {
            backup: args.backup.clone(),
        }
    } else if let Some(dir) = &args.output_dir {
        if stdin_only {
            return Err(Usage(
                "--output-dir needs files or directories to convert".into(),
            ));
        }
        Mode::OutputDir(dir.clone())
    } else if args.check || args.diff {
        Mode::Check { diff: args.diff }
    } else if let Some(o) = args.output.as_ref().filter(|o| o.as_os_str() != "-") {
        if paths.len() > 1 || paths.first().is_some_and(|p| p.is_dir()) {
            return Err(Usage(
                "-o names one output file: give one input, or use --output-dir".into(),
            ));
        }
        Mode::File(o.clone())
    } else {
        Mode::Stdout
    };
    if args.convert_filenames && !matches!(mode, Mode::InPlace { .. } | Mode::OutputDir(_)) {
        return Err(Usage(
            "--convert-filenames works with --in-place or --output-dir".into(),
        ));
    }
    let threads = args.threads.filter(|&n| n > 0);
    let mut stream = stream_options(&args.encoding)?;
    // Each conversion sets its own (see `Settings::threads`).
    stream.threads = 1;
    stream.normalize = normalize(args)?;
    Ok(Settings {
        walk: Walk::from_args(args),
        plan: attach_vs(
            with_overrides(plan(args)?, overrides(args)?),
            args.attach_variation_selectors,
        ),
        mode,
        paths,
        stream,
        convert_filenames: args.convert_filenames,
        ambiguities: match &args.ambiguities {
            None => None,
            Some(_) if stdin_only => {
                return Err(Usage(
                    "--ambiguities needs files to read (not standard input)".into(),
                ))
            }
            Some(p) => Some(std::sync::Mutex::new(
                std::fs::File::create(p).map_err(|e| Usage(format!("{}: {e}", p.display())))?,
            )),
        },
        quiet: args.quiet,
        json: args.json,
        threads,
    })
}

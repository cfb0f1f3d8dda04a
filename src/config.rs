//! The 16 built-in configs and loading OpenCC JSON configs from files.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::OnceLock;

use crate::convert::{Engine, Matcher};
use crate::error::Error;
use crate::spec::{ConfigSpec, DictSpec, MatchPolicy};
use crate::tables;
use crate::trie::Trie;
use crate::trie_build::{classes, fusable, single_char_keys, TrieBuilder};

/// One of OpenCC's 16 configs, built into fanjian.
///
/// Parses from the names OpenCC uses, with or without `.json`, in any case:
///
/// ```
/// use fanjian::Config;
/// assert_eq!("s2twp".parse::<Config>(), Ok(Config::S2twp));
/// assert_eq!("T2S.json".parse::<Config>(), Ok(Config::T2s));
/// assert!("s2x".parse::<Config>().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Config {
    /// Simplified Chinese to Traditional Chinese (OpenCC standard).
    S2t,
    /// Traditional Chinese (OpenCC standard) to Simplified Chinese.
    T2s,
    /// Simplified Chinese to Traditional Chinese (Taiwan standard).
    S2tw,
    /// Traditional Chinese (Taiwan standard) to Simplified Chinese.
    Tw2s,
    /// Simplified Chinese to Traditional Chinese (Taiwan standard, with Taiwan phrases).
    S2twp,
    /// Traditional Chinese (Taiwan standard) to Simplified Chinese (with mainland phrases).
    Tw2sp,
    /// Simplified Chinese to Traditional Chinese (Hong Kong variant).
    S2hk,
    /// Traditional Chinese (Hong Kong variant) to Simplified Chinese.
    Hk2s,
    /// Simplified Chinese to Traditional Chinese (Hong Kong variant, with Hong Kong phrases).
    S2hkp,
    /// Traditional Chinese (Hong Kong variant) to Simplified Chinese (with mainland phrases).
    Hk2sp,
    /// Traditional Chinese (OpenCC standard) to Taiwan standard.
    T2tw,
    /// Traditional Chinese (Taiwan standard) to OpenCC standard.
    Tw2t,
    /// Traditional Chinese (OpenCC standard) to Hong Kong variant.
    T2hk,
    /// Traditional Chinese (Hong Kong variant) to OpenCC standard.
    Hk2t,
    /// Traditional Chinese characters (Kyūjitai) to New Japanese Kanji (Shinjitai).
    T2jp,
    /// New Japanese Kanji (Shinjitai) to Traditional Chinese characters (Kyūjitai).
    Jp2t,
}

impl Config {
    /// All built-in configs.
    pub const ALL: [Config; 16] = [
        Config::S2t,
        Config::T2s,
        Config::S2tw,
        Config::Tw2s,
        Config::S2twp,
        Config::Tw2sp,
        Config::S2hk,
        Config::Hk2s,
        Config::S2hkp,
        Config::Hk2sp,
        Config::T2tw,
        Config::Tw2t,
        Config::T2hk,
        Config::Hk2t,
        Config::T2jp,
        Config::Jp2t,
    ];

    const NAMES: [&'static str; 16] = [
        "s2t", "t2s", "s2tw", "tw2s", "s2twp", "tw2sp", "s2hk", "hk2s", "s2hkp", "hk2sp", "t2tw",
        "tw2t", "t2hk", "hk2t", "t2jp", "jp2t",
    ];

    fn index(self) -> usize {
        self as usize
    }

    /// The config's short name, as OpenCC spells it (`"s2twp"`).
    pub fn name(self) -> &'static str {
        Self::NAMES[self.index()]
    }

    /// The config's description, from its OpenCC JSON file.
    pub fn description(self) -> &'static str {
        tables::BUILTINS[self.index()].title
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing a [`Config`] name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownConfig(pub String);

impl fmt::Display for UnknownConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown config {:?} (built-in configs: {})",
            self.0,
            Config::NAMES.join(", ")
        )
    }
}

impl std::error::Error for UnknownConfig {}

impl FromStr for Config {
    type Err = UnknownConfig;

    fn from_str(s: &str) -> Result<Config, UnknownConfig> {
        let lower = s.to_ascii_lowercase();
        let name = lower.strip_suffix(".json").unwrap_or(&lower);
        Config::NAMES
            .iter()
            .position(|n| *n == name)
            .map(|i| Config::ALL[i])
            .ok_or_else(|| UnknownConfig(s.to_string()))
    }
}

/// The engine of a built-in config: borrowed tries, nothing parsed or copied.
pub(crate) fn builtin_engine(config: Config, include_tofu: bool) -> Engine {
    let steps = &tables::BUILTINS[config.index()].steps[usize::from(include_tofu)];
    let tries = |ids: &[u16]| {
        ids.iter()
            .map(|&id| Matcher::Trie(tables::trie(id)))
            .collect()
    };
    Engine {
        normalization: tries(steps.normalization),
        segmentation: steps.segmentation.map(|id| Matcher::Trie(tables::trie(id))),
        chain: tries(steps.chain),
        fused: steps.fused,
        first_classes: steps
            .first_classes
            .iter()
            .map(|class| class.iter().map(|f| f.to_string()).collect())
            .collect(),
        dict_dir: None,
        attach_vs: false,
        compose_table: {
            static TABLES: [[OnceLock<ComposeTable>; 2]; 16] =
                [const { [const { OnceLock::new() }; 2] }; 16];
            TABLES[config.index()][usize::from(include_tofu)]
                .get_or_init(Default::default)
                .clone()
        },
    }
}

/// A composed chain's table, made on first use (see `Engine::compose_table`).
type ComposeTable = std::sync::Arc<OnceLock<crate::compose::Table>>;

/// Compiles a config read from a file. Its text dictionaries are looked up in the config's
/// folder, then among OpenCC's own (built in), as OpenCC looks in its package data folder.
pub(crate) fn file_engine(path: &Path, include_tofu: bool) -> Result<Engine, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let spec = crate::spec::parse_config(&text).map_err(|error| Error::Config {
        path: path.to_path_buf(),
        error,
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    compile_spec(&spec, dir, include_tofu)
}

fn compile_spec(spec: &ConfigSpec, dir: &Path, include_tofu: bool) -> Result<Engine, Error> {
    let mut loader = Loader {
        dir: dir.to_path_buf(),
        dicts: HashMap::new(),
    };
    let mut steps = |steps: &[DictSpec], tofu: bool| -> Result<Vec<Matcher>, Error> {
        steps
            .iter()
            .filter_map(|s| s.resolve(tofu))
            .map(|s| loader.matcher(&s))
            .collect()
    };
    let normalization = steps(&spec.normalization, include_tofu)?;
    let chain = steps(&spec.chain, include_tofu)?;
    // OpenCC always loads segmentation dictionaries with tofu-risk members included.
    let seg_spec = spec.segmentation.as_ref().and_then(|s| s.resolve(true));
    let segmentation = match &seg_spec {
        Some(s) => Some(loader.matcher(s)?),
        None => None,
    };
    let first = spec.chain.iter().find_map(|s| s.resolve(include_tofu));
    let fused = match (&seg_spec, &first) {
        (Some(seg), Some(first)) => fusable(seg, first, |file| {
            loader
                .entries(file)
                .is_ok_and(|entries| single_char_keys(entries.iter().map(|e| e.key.as_str())))
        }),
        _ => false,
    };
    let first_classes = first.as_ref().and_then(classes).unwrap_or_default();
    Ok(Engine {
        normalization,
        segmentation,
        chain,
        fused,
        first_classes,
        dict_dir: Some(dir.to_path_buf()),
        attach_vs: false,
        compose_table: Default::default(),
    })
}

/// Reads a config's text dictionary: as OpenCC does, from the config's folder first, then from
/// the package's own data (here: built in). `dir: None` reads built-in dictionaries only.
pub(crate) fn load_dictionary(
    dir: Option<&Path>,
    file: &str,
) -> Result<Vec<crate::dict::Entry>, Error> {
    let path = dir.unwrap_or(Path::new("")).join(file);
    let read = match dir {
        Some(_) => std::fs::read_to_string(&path),
        None => Err(std::io::Error::from(std::io::ErrorKind::NotFound)),
    };
    match (read, tables::dictionary_text(file)) {
        (Ok(text), _) => Ok(crate::dict::parse_text_dict(
            &text,
            &path.display().to_string(),
        )?),
        (Err(e), Some(text)) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(crate::dict::parse_text_dict(text, file)?)
        }
        (Err(source), _) => Err(Error::Io { path, source }),
    }
}

struct Loader {
    dir: PathBuf,
    dicts: HashMap<String, Vec<crate::dict::Entry>>,
}

impl Loader {
    fn entries(&mut self, file: &str) -> Result<&[crate::dict::Entry], Error> {
        if !self.dicts.contains_key(file) {
            let entries = load_dictionary(Some(&self.dir), file)?;
            self.dicts.insert(file.to_string(), entries);
        }
        Ok(&self.dicts[file])
    }

    fn matcher(&mut self, spec: &DictSpec) -> Result<Matcher, Error> {
        if let Some(classes) = classes(spec) {
            let mut builder = TrieBuilder::new();
            for (priority, files) in classes.iter().enumerate() {
                for file in files {
                    for e in self.entries(file)? {
                        builder.add(&e.key, &e.value, priority);
                    }
                }
            }
            return Ok(Matcher::Trie(Trie::from_image(&builder.finish())));
        }
        let DictSpec::Group { policy, dicts, .. } = spec else {
            unreachable!("a single dictionary always flattens")
        };
        let members = dicts
            .iter()
            .map(|d| self.matcher(d))
            .collect::<Result<_, _>>()?;
        Ok(match policy {
            MatchPolicy::Union => Matcher::Union(members),
            MatchPolicy::ShortCircuit => Matcher::ShortCircuit(members),
        })
    }
}

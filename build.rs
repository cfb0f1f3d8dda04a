//! Compiles the OpenCC text dictionaries in `tables/opencc/` into trie images embedded in the
//! library, following the 16 built-in configs in `tables/opencc/config/`. The parsers and the trie
//! builder are the library's own files, included by path, so that built-in and run-time tables
//! are read and compiled the same way.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

#[allow(dead_code)]
#[path = "src/dict.rs"]
mod dict;
#[allow(dead_code)]
#[path = "src/spec.rs"]
mod spec;
#[allow(dead_code)]
#[path = "src/trie_build.rs"]
mod trie_build;

/// The built-in configs, in the order of `fanjian::Config`.
const CONFIGS: [&str; 16] = [
    "s2t", "t2s", "s2tw", "tw2s", "s2twp", "tw2sp", "s2hk", "hk2s", "s2hkp", "hk2sp", "t2tw",
    "tw2t", "t2hk", "hk2t", "t2jp", "jp2t",
];

struct Compiler {
    dir: &'static str,
    dicts: HashMap<String, Vec<dict::Entry>>,
    tries: HashMap<spec::DictSpec, u16>,
    blob: Vec<u8>,
    ranges: Vec<(usize, usize)>,
}

impl Compiler {
    fn entries(&mut self, file: &str) -> &[dict::Entry] {
        if !self.dicts.contains_key(file) {
            let path = format!("{}/{file}", self.dir);
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let entries = dict::parse_text_dict(&text, &path).unwrap_or_else(|e| panic!("{e}"));
            self.dicts.insert(file.to_string(), entries);
        }
        &self.dicts[file]
    }

    fn trie(&mut self, spec: &spec::DictSpec) -> u16 {
        if let Some(&id) = self.tries.get(spec) {
            return id;
        }
        let classes = trie_build::classes(spec).expect("built-in configs flatten into one trie");
        let mut builder = trie_build::TrieBuilder::new();
        for (priority, files) in classes.iter().enumerate() {
            for file in files {
                for e in self.entries(file).to_vec() {
                    builder.add(&e.key, &e.value, priority);
                }
            }
        }
        let image = builder.finish();
        let id = self.ranges.len() as u16;
        self.ranges.push((self.blob.len(), image.len()));
        self.blob.extend_from_slice(&image);
        self.tries.insert(spec.clone(), id);
        id
    }

    fn steps(&mut self, steps: &[spec::DictSpec], tofu: bool) -> Vec<u16> {
        steps
            .iter()
            .filter_map(|s| s.resolve(tofu))
            .map(|s| self.trie(&s))
            .collect()
    }
}

fn main() {
    println!("cargo:rerun-if-changed=tables/opencc");
    for f in ["src/dict.rs", "src/spec.rs", "src/trie_build.rs"] {
        println!("cargo:rerun-if-changed={f}");
    }
    let mut c = Compiler {
        dir: "tables/opencc",
        dicts: HashMap::new(),
        tries: HashMap::new(),
        blob: Vec::new(),
        ranges: Vec::new(),
    };
    let mut defs = String::new();
    for name in CONFIGS {
        let path = format!("tables/opencc/config/{name}.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let cfg = spec::parse_config(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        write!(defs, "    BuiltinDef {{ title: {:?}, steps: [", cfg.name).unwrap();
        for tofu in [false, true] {
            let norm = c.steps(&cfg.normalization, tofu);
            // OpenCC always loads segmentation dictionaries with tofu-risk members included.
            let seg_spec = cfg.segmentation.as_ref().and_then(|s| s.resolve(true));
            let seg = seg_spec.as_ref().map(|s| c.trie(s));
            let chain = c.steps(&cfg.chain, tofu);
            let first = cfg.chain.iter().find_map(|s| s.resolve(tofu));
            let fused = match (&seg_spec, &first) {
                (Some(seg), Some(first)) => trie_build::fusable(seg, first, |file| {
                    trie_build::single_char_keys(c.entries(file).iter().map(|e| e.key.as_str()))
                }),
                _ => false,
            };
            // The first step's priority classes (files), for ambiguity reports.
            let first_classes = first
                .as_ref()
                .and_then(trie_build::classes)
                .unwrap_or_default();
            write!(
                defs,
                "Steps {{ normalization: &{norm:?}, segmentation: {seg:?}, chain: &{chain:?}, \
                 fused: {fused}, first_classes: &[{}] }}, ",
                first_classes
                    .iter()
                    .map(|c| format!("&{c:?}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
            .unwrap();
        }
        defs.push_str("] },\n");
    }
    let out = std::env::var("OUT_DIR").unwrap();
    std::fs::write(Path::new(&out).join("tables.bin"), &c.blob).unwrap();
    let mut code = String::new();
    writeln!(code, "/// Byte ranges of the trie images in `tables.bin`.").unwrap();
    writeln!(
        code,
        "pub(crate) static TRIE_RANGES: [(usize, usize); {}] = {:?};",
        c.ranges.len(),
        c.ranges
    )
    .unwrap();
    writeln!(code, "/// The built-in configs, in the order of `Config`.").unwrap();
    writeln!(
        code,
        "pub(crate) static BUILTINS: [BuiltinDef; {}] = [\n{defs}];",
        CONFIGS.len()
    )
    .unwrap();
    // The dictionaries as text too, for configs loaded at run time that name them.
    let mut files: Vec<&String> = c.dicts.keys().collect();
    files.sort();
    writeln!(code, "/// OpenCC's text dictionaries by file name.").unwrap();
    writeln!(
        code,
        "pub(crate) static DICTIONARY_TEXTS: [(&str, &str); {}] = [",
        files.len()
    )
    .unwrap();
    let root = std::env::var("CARGO_MANIFEST_DIR").unwrap();
    for f in files {
        writeln!(
            code,
            "    ({f:?}, include_str!({:?})),",
            format!("{root}/tables/opencc/{f}")
        )
        .unwrap();
    }
    code.push_str("];\n");
    std::fs::write(Path::new(&out).join("builtin.rs"), code).unwrap();
}

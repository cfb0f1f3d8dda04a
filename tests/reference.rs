//! Property tests: fanjian against a second, naive implementation of OpenCC's algorithm written
//! straight from its C++ source (hash maps of whole keys, groups evaluated member by member, no
//! tries, no flattening), on random text that mixes dictionary material with arbitrary code
//! points, Ideographic Description operators, newlines and astral characters. Also: the engine
//! never panics on any of it, and a config loaded from its JSON file at run time behaves exactly
//! like the built-in one.

mod common;

use std::collections::{HashMap, HashSet};

use common::adversarial::{Pool, Rng};
use common::spec::{self, DictSpec, MatchPolicy};
use fanjian::{Config, Converter};

/// A dictionary tree as OpenCC evaluates it.
enum Naive {
    Dict {
        map: HashMap<String, String>,
        max_chars: usize,
    },
    Group(MatchPolicy, Vec<Naive>),
}

impl Naive {
    fn load(spec: &DictSpec, dicts: &HashMap<String, Vec<common::dict::Entry>>) -> Naive {
        match spec {
            DictSpec::Text { file, .. } => {
                let map: HashMap<String, String> = dicts[file]
                    .iter()
                    .map(|e| (e.key.clone(), e.value.clone()))
                    .collect();
                let max_chars = map.keys().map(|k| k.chars().count()).max().unwrap_or(0);
                Naive::Dict { map, max_chars }
            }
            DictSpec::Group {
                policy,
                dicts: members,
                ..
            } => Naive::Group(
                *policy,
                members.iter().map(|m| Naive::load(m, dicts)).collect(),
            ),
        }
    }

    /// The longest-prefix match of `text` (chars), as (key length in chars, value).
    fn match_prefix(&self, text: &[char]) -> Option<(usize, String)> {
        match self {
            Naive::Dict { map, max_chars } => {
                (1..=(*max_chars).min(text.len())).rev().find_map(|n| {
                    let key: String = text[..n].iter().collect();
                    map.get(&key).map(|v| (n, v.clone()))
                })
            }
            Naive::Group(MatchPolicy::ShortCircuit, members) => {
                members.iter().find_map(|m| m.match_prefix(text))
            }
            Naive::Group(MatchPolicy::Union, members) => {
                let mut best: Option<(usize, String)> = None;
                for m in members {
                    if let Some(found) = m.match_prefix(text) {
                        match &best {
                            Some(b) if found.0 <= b.0 => {}
                            _ => best = Some(found),
                        }
                    }
                }
                best
            }
        }
    }
}

/// OpenCC's UTF8Util IDS check, on chars.
fn ids_len(text: &[char]) -> usize {
    fn arity(c: char) -> usize {
        match c as u32 {
            0x2FF2 | 0x2FF3 => 3,
            0x2FFE | 0x2FFF => 1,
            0x2FF0..=0x2FFD => 2,
            _ => 0,
        }
    }
    // Some(len) complete, Err(true) incomplete, Err(false) invalid
    fn consume(t: &[char], depth: usize, cps: &mut usize) -> Result<usize, bool> {
        if t.is_empty() {
            return Err(true);
        }
        if depth == 0 || *cps >= 64 {
            return Err(false);
        }
        *cps += 1;
        let mut off = 1;
        for _ in 0..arity(t[0]) {
            if off >= t.len() {
                return Err(true);
            }
            off += consume(&t[off..], depth - 1, cps)?;
        }
        Ok(off)
    }
    if text.is_empty() || arity(text[0]) == 0 {
        return 0;
    }
    consume(text, 16, &mut 0).unwrap_or(0)
}

fn convert_segment(dict: &Naive, text: &[char]) -> Vec<char> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if let Some((n, v)) = dict.match_prefix(&text[i..]) {
            out.extend(v.chars());
            i += n;
        } else {
            let n = ids_len(&text[i..]).max(1);
            out.extend_from_slice(&text[i..i + n]);
            i += n;
        }
    }
    out
}

fn segment(dict: &Naive, text: &[char]) -> Vec<Vec<char>> {
    let mut segments = Vec::new();
    let mut run = Vec::new();
    let mut i = 0;
    while i < text.len() {
        if let Some((n, _)) = dict.match_prefix(&text[i..]) {
            if !run.is_empty() {
                segments.push(std::mem::take(&mut run));
            }
            segments.push(text[i..i + n].to_vec());
            i += n;
        } else {
            let n = ids_len(&text[i..]).max(1);
            run.extend_from_slice(&text[i..i + n]);
            i += n;
        }
    }
    if !run.is_empty() {
        segments.push(run);
    }
    segments
}

struct NaiveConfig {
    normalization: Vec<Naive>,
    segmentation: Option<Naive>,
    chain: Vec<Naive>,
}

impl NaiveConfig {
    fn load(
        name: &str,
        tofu: bool,
        dicts: &HashMap<String, Vec<common::dict::Entry>>,
    ) -> NaiveConfig {
        let path = common::root().join(format!("tables/opencc/config/{name}.json"));
        Self::load_path(&path, tofu, dicts)
    }

    fn load_path(
        path: &std::path::Path,
        tofu: bool,
        dicts: &HashMap<String, Vec<common::dict::Entry>>,
    ) -> NaiveConfig {
        let cfg = spec::parse_config(&std::fs::read_to_string(path).unwrap()).unwrap();
        let steps = |s: &[DictSpec]| {
            s.iter()
                .filter_map(|d| d.resolve(tofu))
                .map(|d| Naive::load(&d, dicts))
                .collect()
        };
        NaiveConfig {
            normalization: steps(&cfg.normalization),
            segmentation: cfg
                .segmentation
                .as_ref()
                .and_then(|d| d.resolve(true))
                .map(|d| Naive::load(&d, dicts)),
            chain: steps(&cfg.chain),
        }
    }

    fn convert(&self, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        for step in &self.normalization {
            chars = convert_segment(step, &chars);
        }
        let segments = match &self.segmentation {
            Some(seg) => segment(seg, &chars),
            None => vec![chars],
        };
        let mut out = String::new();
        for mut s in segments {
            for step in &self.chain {
                s = convert_segment(step, &s);
            }
            out.extend(s);
        }
        out
    }
}

/// Random text: dictionary material mixed with arbitrary code points.
fn random_text(pool: &Pool, rng: &mut Rng) -> String {
    let mut s = String::new();
    for _ in 0..rng.below(40) {
        match rng.below(4) {
            0 => {
                let c = loop {
                    // Any scalar value, biased towards the BMP.
                    let cp = if rng.below(3) == 0 {
                        rng.below(0x110000)
                    } else {
                        rng.below(0x10000)
                    };
                    if let Some(c) = char::from_u32(cp as u32) {
                        break c;
                    }
                };
                s.push(c);
            }
            1 => s.push(char::from_u32(0x2FF0 + rng.below(16) as u32).unwrap()),
            _ => pool.piece(rng, &mut s),
        }
    }
    s
}

#[test]
fn matches_a_naive_implementation_on_random_text() {
    let dicts: HashMap<String, Vec<common::dict::Entry>> =
        common::adversarial::all_dicts().into_iter().collect();
    let pool = Pool::new();
    let mut cases = 0;
    for config in Config::ALL {
        for tofu in [false, true] {
            let naive = NaiveConfig::load(config.name(), tofu, &dicts);
            let converter = Converter::builder(config)
                .include_tofu_risk_dictionaries(tofu)
                .build();
            let mut rng = Rng::new(config as u64 * 2 + tofu as u64 + 1000);
            for _ in 0..300 {
                let text = random_text(&pool, &mut rng);
                let got = converter.convert(&text);
                let want = naive.convert(&text);
                assert_eq!(got, want, "{config} tofu={tofu} input {text:?}");
                cases += 1;
            }
        }
    }
    println!("{cases} random texts: fanjian == naive implementation");
}

#[test]
fn group_shapes_that_do_not_flatten_and_fused_user_configs() {
    // A union with a short-circuit member is evaluated as a tree; a user config shaped like
    // s2tw (segmentation = the first step's first member) takes the fused path.
    let dir = common::root().join("target/group-shapes");
    std::fs::create_dir_all(&dir).unwrap();
    let configs = [
        r#"{"segmentation": {"type": "mmseg", "dict": {"type": "text", "file": "STPhrases.txt"}},
            "conversion_chain": [{"dict": {"type": "group", "match_policy": "union", "dicts": [
              {"type": "group", "dicts": [{"type": "text", "file": "TWPhrases.txt"},
                                          {"type": "text", "file": "STCharacters.txt"}]},
              {"type": "text", "file": "STPhrases.txt"}]}},
              {"dict": {"type": "text", "file": "TWVariants.txt"}}]}"#,
        r#"{"segmentation": {"type": "mmseg", "dict": {"type": "text", "file": "TSPhrases.txt"}},
            "conversion_chain": [{"dict": {"type": "group", "dicts": [
              {"type": "text", "file": "TSPhrases.txt"},
              {"type": "text", "file": "TSCharactersExt.txt", "may_output_tofu": true},
              {"type": "text", "file": "TSCharacters.txt"}]}},
              {"dict": {"type": "group", "dicts": [{"type": "text", "file": "HKVariantsPhrases.txt"},
                                                  {"type": "text", "file": "HKVariants.txt"}]}}]}"#,
    ];
    let dicts: HashMap<String, Vec<common::dict::Entry>> =
        common::adversarial::all_dicts().into_iter().collect();
    let pool = Pool::new();
    for (n, config) in configs.iter().enumerate() {
        let path = dir.join(format!("shape-{n}.json"));
        std::fs::write(&path, config).unwrap();
        for tofu in [false, true] {
            let naive = NaiveConfig::load_path(&path, tofu, &dicts);
            let converter = Converter::from_config_file(&path, tofu).unwrap();
            let mut rng = Rng::new(n as u64 * 10 + tofu as u64);
            for _ in 0..300 {
                let text = random_text(&pool, &mut rng);
                assert_eq!(
                    converter.convert(&text),
                    naive.convert(&text),
                    "shape {n} tofu={tofu} input {text:?}"
                );
            }
        }
    }
}

#[test]
fn config_files_loaded_at_run_time_match_the_built_in_configs() {
    let pool = Pool::new();
    let text = pool.text(77, 30_000);
    for config in Config::ALL {
        for tofu in [false, true] {
            let path = common::root().join(format!("tables/opencc/config/{config}.json"));
            let from_file = Converter::from_config_file(&path, tofu).unwrap();
            let built_in = Converter::builder(config)
                .include_tofu_risk_dictionaries(tofu)
                .build();
            assert_eq!(
                from_file.convert(&text),
                built_in.convert(&text),
                "{config} tofu={tofu}"
            );
        }
    }
}

#[test]
fn unchanged_text_is_borrowed_and_changed_text_owned() {
    let s2t = Converter::new(Config::S2t);
    for text in ["", "ASCII only\r\n", "繁體字不變", "⿰氵青", "\u{0}"] {
        assert!(
            matches!(s2t.convert(text), std::borrow::Cow::Borrowed(_)),
            "{text:?}"
        );
    }
    assert!(matches!(s2t.convert("头发"), std::borrow::Cow::Owned(_)));
}

#[test]
fn nul_does_not_truncate() {
    // OpenCC 1.4.2 drops text after a NUL inside a segment; fanjian keeps every character.
    let s2twp = Converter::new(Config::S2twp);
    assert_eq!(s2twp.convert("头发a\u{0}b头发"), "頭髮a\u{0}b頭髮");
}

#[test]
fn never_panics_on_random_strings() {
    let converters: Vec<Converter> = Config::ALL
        .iter()
        .flat_map(|&c| {
            [false, true].map(|t| {
                Converter::builder(c)
                    .include_tofu_risk_dictionaries(t)
                    .build()
            })
        })
        .collect();
    let pool = Pool::new();
    let mut rng = Rng::new(4242);
    let mut seen = HashSet::new();
    for _ in 0..3000 {
        let text = random_text(&pool, &mut rng);
        seen.insert(text.len());
        for c in &converters {
            let mut out = String::new();
            c.convert_into(&text, &mut out);
            assert_eq!(c.convert(&text), out);
        }
    }
    assert!(seen.len() > 100, "inputs of many lengths");
}

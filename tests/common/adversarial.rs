//! Generated adversarial text, built from the dictionaries themselves: runs of overlapping keys,
//! prefixes of keys, Ideographic Description Sequences (complete, incomplete, nested, with
//! newlines inside), variation selectors, compatibility ideographs, characters outside the BMP,
//! ASCII, CRLF and empty lines. Deterministic for a seed.

use std::collections::HashMap;

use super::dict;

/// A small deterministic generator (xorshift64*), so that failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Every dictionary in `tables/opencc/`, by file name.
pub fn all_dicts() -> Vec<(String, Vec<dict::Entry>)> {
    let dir = super::root().join("tables/opencc");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".txt"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|n| {
            let text = std::fs::read_to_string(dir.join(&n)).unwrap();
            let entries = dict::parse_text_dict(&text, &n).unwrap();
            (n, entries)
        })
        .collect()
}

const ASCII: [&str; 6] = [
    "OpenCC",
    " ",
    "a1",
    "x=1;",
    "\t",
    "https://example.com/?q=1",
];
const PUNCT: [&str; 8] = ["，", "。", "「", "」", "“", "”", "、", "　"];

/// Material for generating text.
pub struct Pool {
    keys: Vec<Vec<char>>,
    values: Vec<String>,
    by_first: HashMap<char, Vec<usize>>,
    compat: Vec<char>,
    chars: Vec<char>,
}

impl Pool {
    pub fn new() -> Pool {
        let mut keys = Vec::new();
        let mut values = Vec::new();
        let mut compat = Vec::new();
        for (name, entries) in all_dicts() {
            for e in entries {
                if name.starts_with("CJK_Compatibility") {
                    compat.extend(e.key.chars());
                }
                keys.push(e.key.chars().collect::<Vec<char>>());
                values.push(e.value);
            }
        }
        let mut by_first: HashMap<char, Vec<usize>> = HashMap::new();
        for (i, k) in keys.iter().enumerate() {
            by_first.entry(k[0]).or_default().push(i);
        }
        let mut chars: Vec<char> = keys.iter().flatten().copied().collect();
        chars.sort();
        chars.dedup();
        Pool {
            keys,
            values,
            by_first,
            compat,
            chars,
        }
    }

    fn key(&self, rng: &mut Rng) -> String {
        rng.pick(&self.keys).iter().collect()
    }

    /// A run of keys, each overlapping the previous one by one or more characters.
    fn overlapping_run(&self, rng: &mut Rng, out: &mut String) {
        let mut current: Vec<char> = rng.pick(&self.keys).clone();
        out.extend(current.iter());
        for _ in 0..1 + rng.below(6) {
            // Find a key that starts with a suffix of the current one.
            let start = rng.below(current.len());
            let suffix = &current[start..];
            let Some(candidates) = self.by_first.get(&suffix[0]) else {
                break;
            };
            let next = candidates
                .iter()
                .map(|&i| &self.keys[i])
                .find(|k| k.len() > suffix.len() && k.starts_with(suffix));
            let next = match next {
                Some(k) => k.clone(),
                None => self.keys[*rng.pick(candidates)].clone(),
            };
            let overlap = if next.starts_with(suffix) {
                suffix.len()
            } else {
                1
            };
            out.extend(next[overlap.min(next.len())..].iter());
            current = next;
        }
    }

    fn ids(&self, rng: &mut Rng, depth: usize, out: &mut String) {
        const OPS: [char; 16] = [
            '⿰', '⿱', '⿲', '⿳', '⿴', '⿵', '⿶', '⿷', '⿸', '⿹', '⿺', '⿻', '⿼', '⿽',
            '⿾', '⿿',
        ];
        let op = *rng.pick(&OPS);
        out.push(op);
        let arity = match op {
            '⿲' | '⿳' => 3,
            '⿾' | '⿿' => 1,
            _ => 2,
        };
        for _ in 0..arity {
            match rng.below(10) {
                0 if depth < 18 => self.ids(rng, depth + 1, out),
                1 => out.push('\n'),
                2 => out.push_str(&self.key(rng)),
                _ => out.push(*rng.pick(&self.chars)),
            }
        }
    }

    /// Appends one random piece of text.
    pub fn piece(&self, rng: &mut Rng, out: &mut String) {
        match rng.below(40) {
            0..=9 => out.push_str(&self.key(rng)),
            10..=13 => self.overlapping_run(rng, out),
            14..=16 => {
                let k = rng.pick(&self.keys);
                let n = 1 + rng.below(k.len());
                out.extend(k[..n].iter());
            }
            17..=18 => {
                let v: &String = rng.pick(&self.values);
                out.push_str(v)
            }
            19..=21 => out.push(*rng.pick(&self.chars)),
            22..=23 => {
                // A complete IDS, or one cut short.
                let mut ids = String::new();
                self.ids(rng, 0, &mut ids);
                if rng.below(3) == 0 {
                    let cut: Vec<char> = ids.chars().collect();
                    ids = cut[..rng.below(cut.len()) + 1].iter().collect();
                }
                out.push_str(&ids);
            }
            24 => {
                out.push(*rng.pick(&self.chars));
                let vs = if rng.below(2) == 0 {
                    0xFE00 + rng.below(16)
                } else {
                    0xE0100 + rng.below(240)
                };
                out.push(char::from_u32(vs as u32).unwrap());
            }
            25..=26 => out.push(*rng.pick(&self.compat)),
            27 => out.push(char::from_u32(0x20000 + rng.below(0xA6E0) as u32).unwrap()),
            28 => out.push(char::from_u32(0x1F600 + rng.below(0x50) as u32).unwrap()),
            29..=30 => {
                let ascii = ASCII[rng.below(ASCII.len())];
                out.push_str(ascii)
            }
            31 => out.push_str("\r\n"),
            32 => out.push('\n'),
            33 => out.push_str("\n\n"),
            34 => out.push('\r'),
            35 => {
                let punct = PUNCT[rng.below(PUNCT.len())];
                out.push_str(punct)
            }
            _ => out.push_str(&self.key(rng)),
        }
    }

    /// About `chars` characters of mostly-ASCII text (code and markup with some Chinese): runs
    /// of up to 600 ASCII characters, often with the letters that start or occur in ASCII-led
    /// keys (SQL注入, PN结, A型肝炎, BMW集團), between adversarial pieces.
    pub fn mostly_ascii(&self, seed: u64, chars: usize) -> String {
        const WORDS: [&str; 18] = [
            "SQL",
            "PN",
            "BMW",
            "A",
            "B",
            "C",
            "D",
            "E",
            "U",
            "fn main() {",
            "<p class=\"x\">",
            "    return Some(x); // ",
            "SQL注入",
            "PN结",
            "U盘",
            "B超",
            "A型肝炎",
            "BMW集團",
        ];
        let mut rng = Rng::new(seed);
        let mut out = String::new();
        while out.chars().count() < chars {
            let run = rng.below(600);
            let start = out.len();
            while out.len() - start < run {
                match rng.below(4) {
                    0 => out.push_str(WORDS[rng.below(WORDS.len())]),
                    1 => out.push(' '),
                    2 => out.push('\n'),
                    _ => out.push(char::from(b'a' + rng.below(26) as u8)),
                }
            }
            for _ in 0..1 + rng.below(3) {
                self.piece(&mut rng, &mut out);
            }
        }
        out
    }

    /// About `chars` characters of adversarial text.
    pub fn text(&self, seed: u64, chars: usize) -> String {
        let mut rng = Rng::new(seed);
        let mut out = String::new();
        while out.chars().count() < chars {
            for _ in 0..256 {
                self.piece(&mut rng, &mut out);
            }
        }
        out
    }
}

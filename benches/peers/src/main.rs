//! Times fanjian and its Rust peers on the same text, single-threaded, and measures how often each
//! peer's output differs from OpenCC 1.4.2's (= fanjian's, checked by fanjian's differential test).
//!
//! usage: fanjian-peers SIMPLIFIED_FILE TRADITIONAL_FILE [CONFIG,...]
//!
//! Prints one line per config: config corpus fanjian_MBps then, per peer (zhconv, ferrous-opencc,
//! opencc-fmmseg), MB/s and the share of lines that differ from OpenCC, or "- -" when the peer
//! has no such conversion. s2* configs run on the Simplified file, the others on the Traditional.

use std::time::{Duration, Instant};

use fanjian::{Config, Converter};
use zhconv::Variant;

fn median(f: &mut dyn FnMut() -> String) -> (Duration, String) {
    let out = f(); // warm up (and load lazily built tables)
    let mut times: Vec<Duration> = (0..5)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            t.elapsed()
        })
        .collect();
    times.sort();
    (times[2], out)
}

fn differing_lines(got: &str, want: &str) -> f64 {
    let (mut differ, mut all) = (0usize, 0usize);
    for (g, w) in got.lines().zip(want.lines()) {
        all += 1;
        differ += usize::from(g != w);
    }
    100.0 * differ as f64 / all.max(1) as f64
}

fn zhconv_variant(config: Config) -> Option<Variant> {
    Some(match config {
        Config::S2t | Config::Hk2t | Config::Tw2t => Variant::ZhHant,
        Config::T2s | Config::Tw2s | Config::Hk2s => Variant::ZhHans,
        Config::S2tw | Config::S2twp | Config::T2tw => Variant::ZhTW,
        Config::S2hk | Config::S2hkp | Config::T2hk => Variant::ZhHK,
        Config::Tw2sp | Config::Hk2sp => Variant::ZhCN,
        Config::T2jp | Config::Jp2t => return None,
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let simplified = std::fs::read_to_string(&args[1]).expect("Simplified corpus");
    let traditional = std::fs::read_to_string(&args[2]).expect("Traditional corpus");
    let fmmseg = opencc_fmmseg::OpenCC::new();
    let only: Option<Vec<&str>> = args.get(3).map(|list| list.split(',').collect());
    for config in Config::ALL {
        let name = config.name();
        if only.as_ref().is_some_and(|only| !only.contains(&name)) {
            continue;
        }
        let (corpus, text) = if name.starts_with('s') { ("simplified", &simplified) } else { ("traditional", &traditional) };
        let mb = text.len() as f64 / 1e6;
        let fanjian = Converter::new(config);
        let (t, want) = median(&mut || fanjian.convert(text).into_owned());
        let mut line = format!("{name} {corpus} {:.1}", mb / t.as_secs_f64());
        let mut peer = |f: Option<&mut dyn FnMut() -> String>| match f {
            Some(f) => {
                let (t, got) = median(f);
                line.push_str(&format!(" {:.1} {:.1}", mb / t.as_secs_f64(), differing_lines(&got, &want)));
            }
            None => line.push_str(" - -"),
        };
        match zhconv_variant(config) {
            Some(v) => peer(Some(&mut || zhconv::zhconv(text, v))),
            None => peer(None),
        }
        let file = format!("{name}.json");
        match ferrous_opencc::config::BuiltinConfig::from_filename(&file).ok().and_then(|c| ferrous_opencc::OpenCC::from_config(c).ok()) {
            Some(cc) => peer(Some(&mut || cc.convert(text))),
            None => peer(None),
        }
        peer(Some(&mut || fmmseg.convert(text, name, false)));
        println!("{line}");
    }
}

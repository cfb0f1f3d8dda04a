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

/// Runs every converter once (a warm-up that also builds lazily made tables, and gives its
/// output), then `ROUNDS` rounds of one timed run each, the converters one after the other in
/// every round, so that they all meet the same load on a noisy machine; returns each one's
/// median time and output.
fn medians(fs: &mut [&mut dyn FnMut() -> String]) -> Vec<(Duration, String)> {
    const ROUNDS: usize = 7;
    let outs: Vec<String> = fs.iter_mut().map(|f| f()).collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); fs.len()];
    for _ in 0..ROUNDS {
        for (f, t) in fs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            std::hint::black_box(f());
            t.push(start.elapsed());
        }
    }
    times
        .into_iter()
        .zip(outs)
        .map(|(mut t, out)| {
            t.sort();
            (t[ROUNDS / 2], out)
        })
        .collect()
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
        let (corpus, text) = if name.starts_with('s') {
            ("simplified", &simplified)
        } else {
            ("traditional", &traditional)
        };
        let mb = text.len() as f64 / 1e6;
        let fanjian = Converter::new(config);
        let file = format!("{name}.json");
        let ferrous = ferrous_opencc::config::BuiltinConfig::from_filename(&file)
            .ok()
            .and_then(|c| ferrous_opencc::OpenCC::from_config(c).ok());
        let variant = zhconv_variant(config);
        // fanjian, then the peers that have this conversion, timed round by round together.
        let mut run_fanjian = || fanjian.convert(text).into_owned();
        let mut run_zhconv = || zhconv::zhconv(text, variant.expect("checked"));
        let mut run_ferrous = || ferrous.as_ref().expect("checked").convert(text);
        let mut run_fmmseg = || fmmseg.convert(text, name, false);
        let mut fs: Vec<&mut dyn FnMut() -> String> = vec![&mut run_fanjian];
        let has = [variant.is_some(), ferrous.is_some(), true];
        if has[0] {
            fs.push(&mut run_zhconv);
        }
        if has[1] {
            fs.push(&mut run_ferrous);
        }
        fs.push(&mut run_fmmseg);
        let mut results = medians(&mut fs).into_iter();
        let (t, want) = results.next().expect("fanjian's");
        let mut line = format!("{name} {corpus} {:.1}", mb / t.as_secs_f64());
        for present in has {
            match present.then(|| results.next().expect("a peer's")) {
                Some((t, got)) => line.push_str(&format!(
                    " {:.1} {:.1}",
                    mb / t.as_secs_f64(),
                    differing_lines(&got, &want)
                )),
                None => line.push_str(" - -"),
            }
        }
        println!("{line}");
    }
}

//! Throughput per config and config load time.
//!
//! `cargo bench --bench throughput [-- FILE]` converts FILE with each of the 16 configs (by
//! default, as in the README's table: OpenCC's benchmark text, tests/data/zuozhuan.txt, 1.87 MB
//! of Classical Chinese in Simplified characters, for the s2* configs, and the Hong Kong text
//! of `benches/corpora.sh`, target/corpora/traditional.txt, for the others where it is there)
//! and prints the median MB/s of several runs, then the time to build each config's converter and convert a
//! short text in a fresh process (cold), and to build it again in a warm one. Where the
//! differential test has left OpenCC's own output for that file in target/differential/, the
//! output is checked against it before anything is timed.
//!
//! Each config also runs through the streaming pipeline (Read -> Write), plainly and with the
//! normalizations of `--normalize --punct auto`, to show what they cost.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use fanjian::{convert_stream, Config, Converter, Normalize, QuoteStyle, StreamOptions};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// `--load CONFIG`: prints the µs to build a converter and convert a short text, cold.
fn load_once(name: &str) {
    let t = Instant::now();
    let converter = Converter::new(name.parse().unwrap());
    let out = converter.convert("汉字转换");
    let e = t.elapsed();
    assert!(!out.is_empty());
    println!("{:.1}", e.as_secs_f64() * 1e6);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--load") {
        return load_once(&args[i + 1]);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let given = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(PathBuf::from);
    let zuozhuan = root.join("tests/data/zuozhuan.txt");
    let hong_kong = root.join("target/corpora/traditional.txt");
    let simplified = given.clone().unwrap_or_else(|| zuozhuan.clone());
    let traditional = given.unwrap_or(if hong_kong.exists() {
        hong_kong
    } else {
        zuozhuan
    });
    let read = |path: PathBuf| {
        let text = std::fs::read_to_string(&path).expect("benchmark input");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        println!("input: {name}, {:.2} MB", text.len() as f64 / 1e6);
        (name, text)
    };
    let inputs = [read(simplified), read(traditional)];
    println!(
        "s2* configs convert the first input, the others the last; median of 7 runs, single thread"
    );
    println!(
        "{:<7} {:>10} {:>10} {:>10} {:>8} {:>10} {:>8}  checked against OpenCC",
        "config", "MB/s", "ms", "stream", "stream%", "normalize", "of stream"
    );
    for config in Config::ALL {
        let (name, text) = &inputs[usize::from(!config.name().starts_with("s2"))];
        let mb = text.len() as f64 / 1e6;
        let mut out = String::with_capacity(text.len() * 2);
        let converter = Converter::new(config);
        out.clear();
        converter.convert_into(text, &mut out);
        let oracle = root.join(format!("target/differential/{name}.{config}.notofu"));
        let checked = match std::fs::read_to_string(&oracle) {
            Ok(want) => {
                assert!(out == want, "{config}: output differs from OpenCC's");
                "yes"
            }
            Err(_) => "no (run the differential test first)",
        };
        let times: Vec<Duration> = (0..7)
            .map(|_| {
                out.clear();
                let t = Instant::now();
                converter.convert_into(std::hint::black_box(text), &mut out);
                t.elapsed()
            })
            .collect();
        let t = median(times);
        // The same text through the streaming pipeline: UTF-8 bytes in, UTF-8 bytes out.
        let mut sink = Vec::with_capacity(text.len() * 2);
        let stream_times: Vec<Duration> = (0..7)
            .map(|_| {
                sink.clear();
                let t = Instant::now();
                convert_stream(
                    &converter,
                    text.as_bytes(),
                    &mut sink,
                    &StreamOptions::default(),
                )
                .unwrap();
                t.elapsed()
            })
            .collect();
        assert!(sink == out.as_bytes(), "{config}: streamed output differs");
        let s = median(stream_times);
        // And with the normalizations of --normalize --punct auto.
        let quotes = if config.name().ends_with('s') || config.name().ends_with("sp") {
            QuoteStyle::Mainland
        } else {
            QuoteStyle::Corner
        };
        let normalized = StreamOptions {
            normalize: Normalize {
                quotes: Some(quotes),
                ..Normalize::prose()
            },
            ..StreamOptions::default()
        };
        let norm_times: Vec<Duration> = (0..7)
            .map(|_| {
                sink.clear();
                let t = Instant::now();
                convert_stream(&converter, text.as_bytes(), &mut sink, &normalized).unwrap();
                t.elapsed()
            })
            .collect();
        let n = median(norm_times);
        println!(
            "{:<7} {:>10.1} {:>10.2} {:>10.1} {:>7.0}% {:>10.1} {:>7.0}%  {checked}",
            config.name(),
            mb / t.as_secs_f64(),
            t.as_secs_f64() * 1e3,
            mb / s.as_secs_f64(),
            100.0 * t.as_secs_f64() / s.as_secs_f64(),
            mb / n.as_secs_f64(),
            100.0 * s.as_secs_f64() / n.as_secs_f64(),
        );
    }
    // The physical limits on this machine for the same bytes (the first input).
    let text = &inputs[0].1;
    let mb = text.len() as f64 / 1e6;
    let limit = |f: &mut dyn FnMut() -> usize| {
        let times: Vec<Duration> = (0..7)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(f());
                t.elapsed()
            })
            .collect();
        mb / median(times).as_secs_f64()
    };
    let mut copy = Vec::with_capacity(text.len());
    let memcpy = limit(&mut || {
        copy.clear();
        copy.extend_from_slice(text.as_bytes());
        copy.len()
    });
    let validate = limit(&mut || usize::from(simdutf8::basic::from_utf8(text.as_bytes()).is_ok()));
    let decode = limit(&mut || {
        text.chars()
            .map(|c| c as usize)
            .fold(0, usize::wrapping_add)
    });
    println!();
    println!("limits: memcpy {memcpy:.0} MB/s, UTF-8 validation {validate:.0} MB/s, decoding every character {decode:.0} MB/s");
    println!();
    println!("{:<7} {:>12} {:>12}", "config", "load (µs)", "again (µs)");
    for config in Config::ALL {
        // A fresh process per config, so that the first use is really cold.
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new(exe)
            .args(["--load", config.name()])
            .output()
            .unwrap();
        let first = String::from_utf8(out.stdout).unwrap();
        let times: Vec<Duration> = (0..201)
            .map(|_| {
                let t = Instant::now();
                let c = std::hint::black_box(Converter::new(config));
                let e = t.elapsed();
                drop(c);
                e
            })
            .collect();
        println!(
            "{:<7} {:>12} {:>12.1}",
            config.name(),
            first.trim(),
            median(times).as_secs_f64() * 1e6
        );
    }
}

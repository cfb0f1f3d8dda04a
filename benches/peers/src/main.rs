//! Times fanjian and its Rust peers on the same text, single-threaded, and measures how often each
//! peer's output differs from OpenCC 1.4.2's (= fanjian's, checked by fanjian's differential test).
//!
//! usage: fanjian-peers SIMPLIFIED_FILE TRADITIONAL_FILE [CONFIG,...]
//! env:   OPENCC_PYTHON: a Python with opencc==1.4.2, to time OpenCC in the same rounds (through
//!        `benches/opencc_speed.py --serve`, which converts on request and reports its own time)
//!
//! Prints one line per config: config corpus fanjian_MBps OpenCC_MBps (or "-" without
//! OPENCC_PYTHON) then, per peer (zhconv, ferrous-opencc, opencc-fmmseg), MB/s and the share of
//! lines that differ from OpenCC, or "- -" when the peer has no such conversion. s2* configs run
//! on the Simplified file, the others on the Traditional.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use fanjian::{Config, Converter};
use zhconv::Variant;

/// A converter's run: its output, and the time it took where it timed itself (OpenCC, in
/// another process).
type Run = (String, Option<Duration>);

/// Runs every converter once (a warm-up that also builds lazily made tables, and gives its
/// output), then `ROUNDS` rounds of one timed run each, the converters one after the other in
/// every round, so that they all meet the same load on a noisy machine; returns each one's
/// median time and output.
fn medians(fs: &mut [&mut dyn FnMut() -> Run]) -> Vec<(Duration, String)> {
    const ROUNDS: usize = 7;
    let outs: Vec<String> = fs.iter_mut().map(|f| f().0).collect();
    let mut times = vec![Vec::with_capacity(ROUNDS); fs.len()];
    for _ in 0..ROUNDS {
        for (f, t) in fs.iter_mut().zip(&mut times) {
            let start = Instant::now();
            let (out, own) = f();
            let elapsed = start.elapsed();
            std::hint::black_box(out);
            t.push(own.unwrap_or(elapsed));
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

/// OpenCC 1.4.2's Python package in a process of its own, converting a file with a config on
/// request (see `benches/opencc_speed.py --serve`).
struct OpenCc {
    child: Child,
    requests: ChildStdin,
    replies: BufReader<ChildStdout>,
}

impl OpenCc {
    fn start(python: &str) -> OpenCc {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../opencc_speed.py");
        let mut child = Command::new(python)
            .args([script, "--serve"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("OPENCC_PYTHON runs");
        let requests = child.stdin.take().expect("piped");
        let replies = BufReader::new(child.stdout.take().expect("piped"));
        OpenCc {
            child,
            requests,
            replies,
        }
    }

    /// The time OpenCC took to convert the file at `path` with `config`, once.
    fn convert(&mut self, config: &str, path: &str) -> Duration {
        writeln!(self.requests, "{config} {path}").expect("OpenCC's process reads");
        self.requests.flush().expect("OpenCC's process reads");
        let mut reply = String::new();
        self.replies
            .read_line(&mut reply)
            .expect("OpenCC's process replies");
        let seconds: f64 = reply.trim().parse().expect("seconds from OpenCC's process");
        Duration::from_secs_f64(seconds)
    }
}

impl Drop for OpenCc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
    let mut opencc = std::env::var("OPENCC_PYTHON")
        .ok()
        .map(|python| OpenCc::start(&python));
    let only: Option<Vec<&str>> = args.get(3).map(|list| list.split(',').collect());
    for config in Config::ALL {
        let name = config.name();
        if only.as_ref().is_some_and(|only| !only.contains(&name)) {
            continue;
        }
        let (corpus, text, path) = if name.starts_with('s') {
            ("simplified", &simplified, &args[1])
        } else {
            ("traditional", &traditional, &args[2])
        };
        let mb = text.len() as f64 / 1e6;
        let fanjian = Converter::new(config);
        let file = format!("{name}.json");
        let ferrous = ferrous_opencc::config::BuiltinConfig::from_filename(&file)
            .ok()
            .and_then(|c| ferrous_opencc::OpenCC::from_config(c).ok());
        let variant = zhconv_variant(config);
        // fanjian, the peers that have this conversion, then OpenCC, timed round by round
        // together (fanjian's run follows OpenCC's of the round before).
        let mut run_fanjian = || (fanjian.convert(text).into_owned(), None);
        let timing_opencc = opencc.is_some();
        let mut run_opencc = || {
            let took = opencc.as_mut().expect("checked").convert(name, path);
            (String::new(), Some(took))
        };
        let mut run_zhconv = || (zhconv::zhconv(text, variant.expect("checked")), None);
        let mut run_ferrous = || (ferrous.as_ref().expect("checked").convert(text), None);
        let mut run_fmmseg = || (fmmseg.convert(text, name, false), None);
        let mut fs: Vec<&mut dyn FnMut() -> Run> = vec![&mut run_fanjian];
        let has = [variant.is_some(), ferrous.is_some(), true];
        if has[0] {
            fs.push(&mut run_zhconv);
        }
        if has[1] {
            fs.push(&mut run_ferrous);
        }
        fs.push(&mut run_fmmseg);
        if timing_opencc {
            fs.push(&mut run_opencc);
        }
        let mut results: Vec<_> = medians(&mut fs);
        let opencc_time = timing_opencc.then(|| results.pop().expect("OpenCC's").0);
        let mut results = results.into_iter();
        let (t, want) = results.next().expect("fanjian's");
        let mut line = format!("{name} {corpus} {:.1}", mb / t.as_secs_f64());
        match opencc_time {
            Some(t) => line.push_str(&format!(" {:.1}", mb / t.as_secs_f64())),
            None => line.push_str(" -"),
        }
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

//! Differential test against the reference: the official `opencc==1.4.2` Python package.
//!
//! For all 16 configs and both tofu settings, fanjian's output must be byte-identical to OpenCC's
//! on zuozhuan.txt, the golden us_constitution input, and generated adversarial text, dense and
//! mostly ASCII (see `common/adversarial.rs`). The oracle runs in the virtual environment `.ci/run` creates
//! (`target/oracle-venv`), or the Python named by `FANJIAN_ORACLE_PYTHON`.

mod common;

use std::path::PathBuf;
use std::process::Command;

use fanjian::{Config, Converter};

fn oracle_python() -> PathBuf {
    if let Some(p) = std::env::var_os("FANJIAN_ORACLE_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = common::root().join("target/oracle-venv/bin/python");
    assert!(
        venv.exists(),
        "the OpenCC 1.4.2 oracle is not installed: run `bash .ci/run` once (it creates \
         target/oracle-venv), or set FANJIAN_ORACLE_PYTHON to a Python with opencc==1.4.2"
    );
    venv
}

/// Differing bytes between two outputs: positions that differ plus the length difference.
fn differing_bytes(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count() + a.len().abs_diff(b.len())
}

/// The first differing line, for the failure message.
fn first_difference(got: &str, want: &str) -> String {
    for (n, (g, w)) in got.split('\n').zip(want.split('\n')).enumerate() {
        if g != w {
            return format!("line {}:\n  fanjian: {g:?}\n  opencc:  {w:?}", n + 1);
        }
    }
    "one output is a prefix of the other".to_string()
}

#[test]
fn byte_identical_to_opencc_for_all_configs() {
    let dir = common::root().join("target/differential");
    std::fs::create_dir_all(&dir).unwrap();
    let pool = common::adversarial::Pool::new();
    let mut inputs = vec![
        common::data("zuozhuan.txt"),
        common::data("golden/us_constitution_zhs.txt"),
    ];
    for seed in 1..=3 {
        let path = dir.join(format!("adversarial-{seed}.txt"));
        std::fs::write(&path, pool.text(seed, 120_000)).unwrap();
        inputs.push(path);
    }
    // Mostly ASCII: the scanner skips ASCII a block at a time, around ASCII-led keys.
    let path = dir.join("mostly-ascii.txt");
    std::fs::write(&path, pool.mostly_ascii(4, 300_000)).unwrap();
    inputs.push(path);
    let status = Command::new(oracle_python())
        .arg(common::root().join("tests/oracle.py"))
        .arg(&dir)
        .args(&inputs)
        .status()
        .expect("run the OpenCC oracle");
    assert!(status.success(), "the OpenCC oracle failed");

    let texts: Vec<(String, String)> = inputs
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect();
    let total_in: usize = texts.iter().map(|(_, t)| t.len()).sum();
    let mut report = format!(
        "differential test against opencc 1.4.2: {} inputs, {} bytes each run\n\
         config  tofu     bytes out   differing bytes\n",
        texts.len(),
        total_in
    );
    let mut failures = Vec::new();
    for config in Config::ALL {
        for tofu in [false, true] {
            let converter = Converter::builder(config)
                .include_tofu_risk_dictionaries(tofu)
                .build();
            let (mut bytes, mut differing) = (0, 0);
            for (name, text) in &texts {
                let got = converter.convert(text);
                let oracle = dir.join(format!(
                    "{name}.{config}.{}",
                    if tofu { "tofu" } else { "notofu" }
                ));
                let want = std::fs::read_to_string(&oracle).unwrap();
                bytes += want.len();
                let d = differing_bytes(got.as_bytes(), want.as_bytes());
                differing += d;
                if d != 0 {
                    failures.push(format!(
                        "{config} tofu={tofu} {name}: {}",
                        first_difference(&got, &want)
                    ));
                }
            }
            report.push_str(&format!(
                "{:<7} {:<5} {bytes:>12} {differing:>17}\n",
                config.name(),
                if tofu { "incl" } else { "excl" }
            ));
        }
    }
    std::fs::write(dir.join("report.txt"), &report).unwrap();
    println!("{report}");
    assert!(
        failures.is_empty(),
        "outputs differ from OpenCC 1.4.2:\n{}",
        failures.join("\n")
    );
}

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

#[path = "../../src/spec.rs"]
pub mod spec;

pub mod adversarial;

#[path = "../../src/dict.rs"]
pub mod dict;

/// The project root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A file under `tests/data/`.
pub fn data(name: &str) -> PathBuf {
    root().join("tests/data").join(name)
}

/// The built fanjian binary.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_fanjian"))
}

/// Runs the fanjian binary with `args`, feeding `stdin`, and waits for it.
pub fn run_bin(args: &[&str], stdin: &[u8]) -> std::process::Output {
    run_bin_in(Path::new("."), args, stdin)
}

/// Runs the fanjian binary in `dir` with `args`, feeding `stdin` through a pipe (from a
/// thread of its own, so that a large input and output cannot fill both pipes at once).
pub fn run_bin_in(dir: &Path, args: &[&str], stdin: &[u8]) -> std::process::Output {
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin())
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut pipe, &input));
    let output = child.wait_with_output().unwrap();
    // (A command that stops early need not read all of it.)
    if let Err(e) = writer.join().unwrap() {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    output
}

/// One case of OpenCC's `testcases.json`: id, input, and (config, expected output) pairs.
pub type TestCase = (String, String, Vec<(String, String)>);

/// OpenCC's `testcases.json`.
pub fn testcases() -> Vec<TestCase> {
    let text = std::fs::read_to_string(data("testcases.json")).unwrap();
    let spec::Json::Object(top) = spec::parse_jsonc(&text).unwrap() else {
        panic!("testcases.json: not an object")
    };
    let (_, spec::Json::Array(cases)) = top.into_iter().find(|(k, _)| k == "cases").unwrap() else {
        panic!("testcases.json: no cases array")
    };
    cases
        .into_iter()
        .map(|case| {
            let spec::Json::Object(members) = case else {
                panic!("case is not an object")
            };
            let get = |name: &str| {
                members
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
            };
            let Some(spec::Json::String(id)) = get("id") else {
                panic!("case without id")
            };
            let Some(spec::Json::String(input)) = get("input") else {
                panic!("case without input")
            };
            let Some(spec::Json::Object(expected)) = get("expected") else {
                panic!("case without expected")
            };
            let expected = expected
                .into_iter()
                .map(|(cfg, v)| match v {
                    spec::Json::String(s) => (cfg, s),
                    _ => panic!("expected value is not a string"),
                })
                .collect();
            (id, input, expected)
        })
        .collect()
}

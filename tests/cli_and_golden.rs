//! OpenCC's golden files, the command line's behaviour, and error messages for bad configs,
//! dictionaries and input.

mod common;

use std::process::Output;

use fanjian::{Config, Converter};

#[test]
fn golden_us_constitution() {
    let input = std::fs::read_to_string(common::data("golden/us_constitution_zhs.txt")).unwrap();
    for config in [
        Config::S2t,
        Config::S2tw,
        Config::S2twp,
        Config::S2hk,
        Config::S2hkp,
    ] {
        let want = std::fs::read_to_string(common::data(&format!(
            "golden/us_constitution_zhs.{config}.txt"
        )))
        .unwrap();
        assert!(
            Converter::new(config).convert(&input) == want,
            "{config} differs from OpenCC's golden output"
        );
    }
}

fn run(args: &[&str], stdin: &[u8]) -> Output {
    common::run_bin(args, stdin)
}

#[test]
fn stdin_to_stdout_keeps_line_endings_and_final_newline() {
    let out = run(&["-c", "s2t"], "头发\r\n\n头发".as_bytes());
    assert!(out.status.success());
    assert_eq!(out.stdout, "頭髮\r\n\n頭髮".as_bytes());
    let out = run(&["-c", "S2T.json"], b"");
    assert!(out.status.success());
    assert_eq!(out.stdout, b"");
}

#[test]
fn files_in_and_out_and_a_config_path() {
    let dir = common::root().join("target/cli-test-files");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.txt");
    let output = dir.join("out.txt");
    std::fs::write(&input, "鼠标和内存\n").unwrap();
    let config = common::root().join("tables/opencc/config/s2twp.json");
    let out = run(
        &[
            "-c",
            config.to_str().unwrap(),
            "-i",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        b"",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "滑鼠和記憶體\n");
    // No temporary file is left behind.
    let names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn invalid_utf8_is_reported_with_position_and_output_untouched() {
    let dir = common::root().join("target/cli-test-invalid");
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("notes.txt");
    let output = dir.join("out.txt");
    std::fs::write(&input, b"line one\n\xe5\xa4\xb4\xff\n").unwrap();
    std::fs::write(&output, "old content").unwrap();
    let out = run(
        &[
            "-c",
            "s2t",
            "-i",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with("fanjian: ")
            && stderr.contains("notes.txt:2:2 (byte 12): invalid UTF-8 sequence [FF]"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "old content");

    let out = run(
        &["-c", "s2t"],
        "头发ab"
            .bytes()
            .chain(*b"\xe5\xa4")
            .collect::<Vec<u8>>()
            .as_slice(),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("<stdin>:1:5 (byte 8): truncated UTF-8 sequence [E5 A4] at end of input"),
        "{stderr}"
    );
}

#[test]
fn unknown_config_is_a_clear_error() {
    let out = run(&["-c", "s2x"], b"");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("unknown config \"s2x\""), "{stderr}");
}

#[test]
fn config_errors_name_file_and_position() {
    let dir = common::root().join("target/config-errors");
    std::fs::create_dir_all(&dir).unwrap();
    // Writes a config and returns the error of loading it.
    let load = |name: &str, json: &str| {
        let path = dir.join(name);
        std::fs::write(&path, json).unwrap();
        Converter::from_config_file(&path, false)
            .unwrap_err()
            .to_string()
    };
    let text_dict = |file: &str| {
        format!(r#"{{"conversion_chain": [{{"dict": {{"type": "text", "file": "{file}"}}}}]}}"#)
    };

    let e = load(
        "bad.json",
        "{\n  \"conversion_chain\": [\n    {\"dict\": }\n  ]\n}",
    );
    assert!(e.ends_with("bad.json:3:14: expected a JSON value"), "{e}");

    let e = load("missing.json", &text_dict("Nope.txt"));
    assert!(e.contains("Nope.txt: No such file"), "{e}");

    std::fs::write(dir.join("Bad.txt"), "# my words\n头\t頭\n发 髮\n").unwrap();
    let e = load("bad-dict.json", &text_dict("Bad.txt"));
    assert!(
        e.ends_with("Bad.txt:3: no tab between key and value in \"发 髮\""),
        "{e}"
    );

    let e = load(
        "ocd.json",
        r#"{"conversion_chain": [{"dict": {"type": "ocd2", "file": "STPhrases.ocd2"}}]}"#,
    );
    assert!(e.contains("binary format"), "{e}");
}

#[test]
fn user_config_with_own_dictionary_and_built_in_ones() {
    // A config in its own folder that adds a dictionary in front of OpenCC's (found built in).
    let dir = common::root().join("target/user-config");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Mine.txt"), "内存\t記憶體\n").unwrap();
    let config = dir.join("mine.json");
    std::fs::write(
        &config,
        r#"{
  // comments and trailing commas, as OpenCC allows
  "name": "mine",
  "conversion_chain": [{"dict": {"type": "group", "dicts": [
      {"type": "text", "file": "Mine.txt"},
      {"type": "text", "file": "STPhrases.txt"},
      {"type": "text", "file": "STCharacters.txt"},
  ]}}],
}"#,
    )
    .unwrap();
    let c = Converter::from_config_file(&config, false).unwrap();
    assert_eq!(c.convert("内存的头发"), "記憶體的頭髮");
    assert_eq!(
        Converter::new(Config::S2t).convert("内存的头发"),
        "內存的頭髮"
    );
}

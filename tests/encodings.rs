//! Encodings: real text encoded with encoding_rs in each encoding Chinese files come in is
//! detected and converted right; detection accuracy on short windows (printed as figures); bad
//! input gets a clear error through the command line and loses nothing.

mod common;

use std::process::Command;

use common::adversarial::Rng;
use fanjian::{convert_stream, detect, Config, Converter, Encoding, OutputEncoding, StreamOptions};

fn simplified() -> String {
    let text = std::fs::read_to_string(common::data("zuozhuan.txt")).unwrap();
    text.chars().take(20_000).collect()
}

fn traditional() -> String {
    std::fs::read_to_string(common::data("golden/us_constitution_zhs.s2tw.txt")).unwrap()
}

fn encode(text: &str, enc: Encoding, bom: bool) -> Vec<u8> {
    let mut out = if bom { enc.bom().to_vec() } else { Vec::new() };
    fanjian::Encoder::new(enc, false)
        .encode(text, true, &mut out)
        .unwrap();
    out
}

fn convert_bytes(
    config: Config,
    input: &[u8],
    options: &StreamOptions,
) -> (Vec<u8>, fanjian::StreamReport) {
    let mut out = Vec::new();
    let report = convert_stream(&Converter::new(config), input, &mut out, options).unwrap();
    (out, report)
}

#[test]
fn real_text_in_every_encoding_is_detected_and_converted() {
    // GB18030's four-byte sequences: characters outside GBK.
    let extra = "\n㐀𠀀😀€\n";
    let cases = [
        (simplified(), Config::S2t, Encoding::Utf8, true),
        (simplified(), Config::S2t, Encoding::Gb18030, false),
        (simplified() + extra, Config::S2t, Encoding::Gb18030, false),
        (traditional(), Config::T2s, Encoding::Gb18030, false),
        (traditional(), Config::T2s, Encoding::Big5, false),
        (traditional(), Config::T2s, Encoding::Utf16Le, true),
        (traditional(), Config::T2s, Encoding::Utf16Be, true),
        (traditional(), Config::T2s, Encoding::Utf16Le, false),
        (traditional(), Config::T2s, Encoding::Utf16Be, false),
        (simplified(), Config::S2twp, Encoding::Utf16Le, false),
    ];
    for (text, config, enc, bom) in cases {
        let input = encode(&text, enc, bom);
        let (out, report) = convert_bytes(config, &input, &StreamOptions::default());
        assert_eq!(
            (report.input_encoding, report.input_bom),
            (enc, bom),
            "{config} {enc} bom={bom}"
        );
        assert!(
            out == Converter::new(config).convert(&text).as_bytes(),
            "{config} {enc} bom={bom}"
        );
        // Written back in the input's encoding, BOM and all (Big5 has no Simplified characters).
        if enc == Encoding::Big5 {
            continue;
        }
        let keep = StreamOptions {
            to: OutputEncoding::Keep,
            ..StreamOptions::default()
        };
        let (out, _) = convert_bytes(config, &input, &keep);
        assert_eq!(
            out,
            encode(&Converter::new(config).convert(&text), enc, bom),
            "{config} {enc} keep"
        );
    }
}

/// Random windows of `n` Han characters (with whatever lies between them) from `text`.
fn windows(text: &str, n: usize, count: usize, rng: &mut Rng) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let is_han = |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c);
    let mut out = Vec::new();
    while out.len() < count {
        let start = rng.below(chars.len());
        let mut han = 0;
        let mut end = start;
        while end < chars.len() && han < n {
            han += usize::from(is_han(chars[end]));
            end += 1;
        }
        if han == n {
            out.push(chars[start..end].iter().collect());
        }
    }
    out
}

#[test]
fn detection_accuracy_on_short_windows() {
    let mut rng = Rng::new(2024);
    let mut report = String::from("detection accuracy on 400 random windows each\n");
    let samples = [
        ("Simplified", simplified(), Encoding::Gbk, Encoding::Gb18030),
        (
            "Traditional",
            traditional(),
            Encoding::Gbk,
            Encoding::Gb18030,
        ),
        ("Traditional", traditional(), Encoding::Big5, Encoding::Big5),
    ];
    for n in [6, 12] {
        for (script, text, enc, expect) in &samples {
            let mut right = 0;
            let tries = windows(text, n, 400, &mut rng);
            for w in &tries {
                let mut bytes = Vec::new();
                if fanjian::Encoder::new(*enc, false)
                    .encode(w, true, &mut bytes)
                    .is_err()
                {
                    continue;
                }
                right += usize::from(detect(&bytes, true).encoding == *expect);
            }
            let share = right as f64 / tries.len() as f64;
            report.push_str(&format!(
                "{n:>3} Han chars  {script:<11} in {enc:<5}: {right}/{}\n",
                tries.len()
            ));
            let floor = if n == 6 { 0.90 } else { 0.97 };
            assert!(
                share >= floor,
                "{script} in {enc}, {n} Han characters: {right}/{}",
                tries.len()
            );
        }
    }
    println!("{report}");
    std::fs::create_dir_all(common::root().join("target")).unwrap();
    std::fs::write(common::root().join("target/detection-report.txt"), report).unwrap();
}

fn fanjian(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(common::bin()).args(args).output().unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn bad_input_gets_a_clear_error_and_loses_nothing() {
    let dir = common::root().join("target/encoding-errors");
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("out.txt");
    let out_s = out.to_str().unwrap();
    let file = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.to_str().unwrap().to_string()
    };

    // Invalid bytes in GBK text.
    let mut gbk = encode("第一行\n第二行文字", Encoding::Gbk, false);
    gbk.insert(11, 0xFF);
    let notes = file("notes.txt", &gbk);
    std::fs::write(&out, "keep me").unwrap();
    let (code, err) = fanjian(&[
        "-c",
        "s2t",
        "--from-encoding",
        "gbk",
        "-i",
        &notes,
        "-o",
        out_s,
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("notes.txt:2:3 (byte 11): invalid GBK sequence [FF]"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");

    // The same, lossy: replaced and reported.
    let (code, err) = fanjian(&[
        "-c",
        "s2t",
        "--from-encoding",
        "gbk",
        "--lossy",
        "-i",
        &notes,
        "-o",
        out_s,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("replaced 1 malformed GBK sequence(s) with U+FFFD"),
        "{err}"
    );
    assert!(std::fs::read_to_string(&out).unwrap().contains('\u{FFFD}'));

    // A multibyte sequence cut at the end of the file.
    let mut big5 = encode("繁體中文", Encoding::Big5, false);
    big5.push(0xA4);
    let cut = file("cut.txt", &big5);
    std::fs::write(&out, "keep me").unwrap();
    let (code, err) = fanjian(&[
        "-c",
        "t2s",
        "--from-encoding",
        "big5",
        "-i",
        &cut,
        "-o",
        out_s,
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("cut.txt:1:5 (byte 8): truncated Big5 sequence [A4] at end of input"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");

    // A sequence that starts like one of four bytes of GB18030 and goes wrong in the next read
    // (reads of 64 KiB): the error of the whole, its first byte (it stopped the program).
    let mut split = vec![b'a'; 65_534];
    split.extend_from_slice(b"\x81\x30\x81\x0a");
    let split = file("split.txt", &split);
    std::fs::write(&out, "keep me").unwrap();
    let (code, err) = fanjian(&[
        "-c",
        "s2t",
        "--from-encoding",
        "gb18030",
        "-i",
        &split,
        "-o",
        out_s,
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("split.txt:1:65535 (byte 65534): invalid GB18030 sequence [81]"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");

    // A character the output encoding cannot represent.
    let simp = file("simp.txt", "一行\n简体𠀀".as_bytes());
    let (code, err) = fanjian(&[
        "-c",
        "s2t",
        "--to-encoding",
        "big5",
        "-i",
        &simp,
        "-o",
        out_s,
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("simp.txt:2:3 (byte 9): '𠀀' (U+20000) cannot be written in Big5"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "keep me");
    let (code, err) = fanjian(&[
        "-c",
        "s2t",
        "--to-encoding",
        "big5",
        "--replace-unmappable",
        "-i",
        &simp,
        "-o",
        out_s,
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("wrote 1 character(s) that Big5 lacks as '?'"),
        "{err}"
    );

    // An empty file, and a file that is only a BOM: empty output, no error.
    for (name, bytes) in [("empty.txt", &b""[..]), ("bom.txt", &b"\xEF\xBB\xBF"[..])] {
        let p = file(name, bytes);
        let (code, err) = fanjian(&["-c", "s2t", "-i", &p, "-o", out_s]);
        assert_eq!((code, err.as_str()), (Some(0), ""), "{name}");
        assert_eq!(std::fs::read(&out).unwrap(), b"", "{name}");
    }
    // With --to-encoding keep, the BOM is written back.
    let p = file("bom2.txt", "\u{FEFF}头发".as_bytes());
    fanjian(&["-c", "s2t", "--to-encoding", "keep", "-i", &p, "-o", out_s]);
    assert_eq!(std::fs::read(&out).unwrap(), "\u{FEFF}頭髮".as_bytes());

    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(".tmp"))
        .collect();
    assert!(names.is_empty(), "temporary files left behind: {names:?}");
}

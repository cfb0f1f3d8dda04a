//! Normalization and customization through the command line: punctuation, folds, user
//! dictionaries and kept terms; and script detection accuracy on real text (printed as figures).

mod common;

use common::adversarial::Rng;
use fanjian::{detect_script, Config, Converter, Script};

fn fanjian(args: &[&str], input: &str) -> (Option<i32>, String, String) {
    let o = common::run_bin(args, input.as_bytes());
    (
        o.status.code(),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

#[test]
fn normalization_through_the_command_line() {
    let cases: [(&[&str], &str, &str); 9] = [
        // --normalize: forms, halfwidth CJK punctuation, interpunct, ASCII punctuation in Chinese.
        (
            &["-c", "s2t", "--normalize"],
            "︐活久见,OpenAI和Google｢世纪握手｣,达成合作了!",
            "，活久見，OpenAI和Google「世紀握手」，達成合作了！",
        ),
        // …but not quotation marks, width or radicals, and never U+3000 or numbers and English.
        (
            &["-c", "s2t", "--normalize"],
            "\u{3000}“引号”ＡＢ１⼈ 1,000 and 3:30, ok",
            "\u{3000}“引號”ＡＢ１⼈ 1,000 and 3:30, ok",
        ),
        (
            &["-c", "s2twp", "--punct", "auto"],
            "他说：“她说‘我说“好”’。”",
            "他說：「她說『我說「好」』。」",
        ),
        (
            &["-c", "tw2sp", "--punct", "auto"],
            "他說：「軟體『很好』」",
            "他说：“软件‘很好’”",
        ),
        (
            &["-c", "s2t", "--punct", "tw"],
            "他说“that’s it”和 \"ASCII\"",
            "他說「that’s it」和 \"ASCII\"",
        ),
        (&["-c", "s2t", "--fold-radicals"], "⼈民⻓发", "人民長髮"),
        (&["-c", "s2t", "--fold-width"], "ＡＢＣ１２３", "ABC123"),
        (
            &["-c", "t2s", "--fold-interpunct"],
            "約翰・史密斯――",
            "约翰·史密斯——",
        ),
        // A URL with quotes and commas stays as it is, up to the next space.
        (
            &["-c", "s2t", "--normalize"],
            "见https://例子.com/?q=\"a,b\",谢谢 好,",
            "見https://例子.com/?q=\"a,b\",謝謝 好，",
        ),
    ];
    for (args, input, want) in cases {
        let (code, out, err) = fanjian(args, input);
        assert_eq!(
            (code, out.as_str()),
            (Some(0), want),
            "{args:?} {input}: {err}"
        );
    }
    // An unbalanced quotation mark is left alone and reported.
    let (code, out, err) = fanjian(&["-c", "s2t", "--punct", "tw"], "他说“没完");
    assert_eq!((code, out.as_str()), (Some(0), "他說“沒完"));
    assert!(
        err.contains("left 1 unbalanced quotation mark(s) alone"),
        "{err}"
    );
}

#[test]
fn all_options_off_is_opencc() {
    // The defaults add nothing to OpenCC's conversion (the differential test covers the rest).
    let text = "︐｢头发｣,“引号” ⼈ＡＢ・―";
    let (_, out, _) = fanjian(&["-c", "s2t"], text);
    assert_eq!(out, Converter::new(Config::S2t).convert(text));
    assert_eq!(out, "︐｢頭髮｣,“引號” ⼈ＡＢ・―");
}

#[test]
fn user_dictionaries_and_kept_terms() {
    let dir = std::env::temp_dir().join(format!("fanjian-test-{}-dicts", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let dict = dir.join("mine.txt");
    std::fs::write(&dict, "# my words\n量子比特\t量子位元\n头发\t頭发\n").unwrap();
    let keep = dir.join("keep.txt");
    std::fs::write(&keep, "乾安县\n# comment\n").unwrap();
    let d = dict.to_str().unwrap();
    let k = keep.to_str().unwrap();
    // An added phrase is converted whole, in s2t and in s2twp (which segments: 改变量 would
    // otherwise take 变量).
    assert_eq!(
        fanjian(&["-c", "s2t", "--dict", d], "改变量子比特").1,
        "改變量子位元"
    );
    assert_eq!(
        fanjian(&["-c", "s2twp", "--dict", d], "改变量子比特").1,
        "改變量子位元"
    );
    assert_eq!(fanjian(&["-c", "s2twp"], "改变量子比特").1, "改變數子位元");
    // An override of a built-in entry.
    assert_eq!(fanjian(&["-c", "s2t", "--dict", d], "头发").1, "頭发");
    // Kept terms, from a file and as words.
    assert_eq!(
        fanjian(
            &["-c", "s2t", "--keep", k, "--keep", "头发"],
            "乾安县的头发"
        )
        .1,
        "乾安县的头发"
    );
    // A malformed line is reported with its file and line number.
    let bad = dir.join("bad.txt");
    std::fs::write(&bad, "好\t好\n\n坏 行\n").unwrap();
    let (code, _, err) = fanjian(&["-c", "s2t", "--dict", bad.to_str().unwrap()], "");
    assert_eq!(code, Some(2));
    assert!(
        err.contains("bad.txt:3: no tab between key and value"),
        "{err}"
    );
    // Streaming: a kept term across a read boundary is still kept.
    let c = Converter::new(Config::S2t).with_overrides([("头发", "头发")]);
    let mut stream = c.stream();
    let mut out = String::new();
    stream.push("我的头", &mut out);
    stream.push("发。", &mut out);
    stream.finish(&mut out);
    assert_eq!(out, "我的头发。");
}

#[test]
fn script_detection_accuracy() {
    let zuozhuan = std::fs::read_to_string(common::data("zuozhuan.txt")).unwrap();
    let simplified: Vec<char> = zuozhuan.chars().collect();
    let traditional: Vec<char> = Converter::new(Config::S2t)
        .convert(&zuozhuan)
        .chars()
        .collect();
    let constitution_s: Vec<char> =
        std::fs::read_to_string(common::data("golden/us_constitution_zhs.txt"))
            .unwrap()
            .chars()
            .collect();
    let constitution_t: Vec<char> =
        std::fs::read_to_string(common::data("golden/us_constitution_zhs.s2tw.txt"))
            .unwrap()
            .chars()
            .collect();
    let is_han = |c: char| ('\u{4E00}'..='\u{9FFF}').contains(&c);
    let mut rng = Rng::new(31);
    let mut report = String::from("script detection on 300 random windows each\n");
    for n in [10, 30, 100] {
        for (name, text, want) in [
            ("zuozhuan, Simplified", &simplified, Script::Simplified),
            ("zuozhuan, Traditional", &traditional, Script::Traditional),
            (
                "constitution, Simplified",
                &constitution_s,
                Script::Simplified,
            ),
            (
                "constitution, Traditional",
                &constitution_t,
                Script::Traditional,
            ),
        ] {
            let mut right = 0;
            for _ in 0..300 {
                let start = rng.below(text.len() - 1000);
                let mut han = 0;
                let window: String = text[start..]
                    .iter()
                    .take_while(|&&c| {
                        han += usize::from(is_han(c));
                        han <= n
                    })
                    .collect();
                right += usize::from(detect_script(&window).script == want);
            }
            report.push_str(&format!("{n:>4} Han chars  {name:<26} {right}/300\n"));
            let floor = match n {
                10 => 240,
                30 => 285,
                _ => 297,
            };
            assert!(right >= floor, "{name}, {n} Han characters: {right}/300");
        }
    }
    println!("{report}");
    std::fs::write(common::root().join("target/script-report.txt"), report).unwrap();
}

#[test]
fn ambiguity_report_as_json_lines() {
    let dir = std::env::temp_dir().join(format!("fanjian-test-{}-ambiguities", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.txt");
    std::fs::write(&input, "发\n头发 了\n").unwrap();
    let report = dir.join("report.jsonl");
    let (code, out, err) = fanjian(
        &[
            "-c",
            "s2t",
            "--ambiguities",
            report.to_str().unwrap(),
            input.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!((code, out.as_str()), (Some(0), "發\n頭髮 了\n"), "{err}");
    let lines = std::fs::read_to_string(&report).unwrap();
    let name = input.display().to_string();
    assert_eq!(
        lines,
        format!(
            "{{\"path\":\"{name}\",\"line\":1,\"column\":1,\"byte\":0,\"source\":\"发\",\"chosen\":\"發\",\"alternatives\":[\"髮\"]}}\n\
             {{\"path\":\"{name}\",\"line\":2,\"column\":4,\"byte\":11,\"source\":\"了\",\"chosen\":\"了\",\"alternatives\":[\"瞭\"]}}\n"
        )
    );
}

#[test]
fn variation_selectors_attached_mode() {
    let vs = "\u{FE00}";
    let ivs = "\u{E0100}";
    for (config, input, default, attached) in [
        (
            Config::S2t,
            format!("头{vs}发"),
            format!("頭{vs}發"),
            format!("頭{vs}髮"),
        ),
        (
            Config::S2twp,
            format!("鼠{ivs}标{vs}和内存"),
            format!("鼠{ivs}標{vs}和記憶體"),
            format!("滑{ivs}鼠{vs}和記憶體"),
        ),
        (
            Config::T2s,
            format!("頭{vs}髮{vs}"),
            format!("头{vs}发{vs}"),
            format!("头{vs}发{vs}"),
        ),
        // A value longer than its key: the selectors follow the value.
        (
            Config::S2twp,
            format!("内{vs}存"),
            format!("內{vs}存"),
            format!("記憶體{vs}"),
        ),
    ] {
        assert_eq!(
            Converter::new(config).convert(&input),
            default,
            "{config} default"
        );
        let c = Converter::new(config).attach_variation_selectors(true);
        assert_eq!(c.convert(&input), attached, "{config} attached");
        // Streaming never separates a selector from its base.
        for i in (0..=input.len()).filter(|&i| input.is_char_boundary(i)) {
            let mut stream = c.stream();
            let mut out = String::new();
            stream.push(&input[..i], &mut out);
            stream.push(&input[i..], &mut out);
            stream.finish(&mut out);
            assert_eq!(out, attached, "{config} split at {i}");
        }
    }
    let (_, out, _) = fanjian(
        &["-c", "s2t", "--attach-variation-selectors"],
        &format!("头{vs}发"),
    );
    assert_eq!(out, format!("頭{vs}髮"));
}

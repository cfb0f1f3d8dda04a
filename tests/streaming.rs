//! Streaming gives the same bytes as converting the whole text at once: every split point of
//! small inputs and random chunkings of large ones, for all 16 configs, through the push API
//! and through the `Read` → `Write` pipeline (with buffers down to one byte).

mod common;

use common::adversarial::{Pool, Rng};
use fanjian::{
    convert_file, convert_stream, Config, Converter, Encoding, Normalize, OutputEncoding,
    QuoteStyle, ReadAt, StreamOptions,
};
use std::sync::atomic::{AtomicUsize, Ordering};

/// OpenCC's benchmark text (1.87 MB of Classical Chinese), `times` times over.
fn book(times: usize) -> String {
    std::fs::read_to_string("tests/data/zuozhuan.txt")
        .unwrap()
        .repeat(times)
}

/// A pool of `threads` threads, for conversions with up to that many.
fn pool_of(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
}

/// A reader that gives at most `.1` bytes a call.
struct Trickle<'a>(&'a [u8], usize);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(self.1);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

/// Input read at offsets from memory (or, through `&Mem`, in order from how far it has been
/// read), at most 100,000 bytes a call; the reads that cover byte `fail_at` fail, the first
/// `failures` times (all of them with `usize::MAX`). It notes how far it has been read, and
/// how many bytes were read in all.
struct Mem<'a> {
    bytes: &'a [u8],
    fail_at: u64,
    failures: AtomicUsize,
    read_to: AtomicUsize,
    read: AtomicUsize,
}

impl Mem<'_> {
    fn new(bytes: &[u8]) -> Mem<'_> {
        Mem {
            bytes,
            fail_at: u64::MAX,
            failures: AtomicUsize::new(0),
            read_to: AtomicUsize::new(0),
            read: AtomicUsize::new(0),
        }
    }
}

impl std::io::Read for &Mem<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.read_at(buf, self.read_to.load(Ordering::SeqCst) as u64)
    }
}

impl ReadAt for Mem<'_> {
    fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<usize> {
        let start = (offset as usize).min(self.bytes.len());
        let n = buf.len().min(self.bytes.len() - start).min(100_000);
        if (offset..offset + n as u64).contains(&self.fail_at)
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| {
                    (k > 0).then(|| k.saturating_sub((k != usize::MAX) as usize))
                })
                .is_ok()
        {
            return Err(std::io::Error::other("the disk failed"));
        }
        buf[..n].copy_from_slice(&self.bytes[start..start + n]);
        self.read_to.fetch_max(start + n, Ordering::SeqCst);
        self.read.fetch_add(n, Ordering::SeqCst);
        Ok(n)
    }
}

fn converters() -> Vec<(String, Converter)> {
    Config::ALL
        .iter()
        .flat_map(|&c| {
            [false, true].map(|tofu| {
                let name = format!("{c}{}", if tofu { "+tofu" } else { "" });
                (
                    name,
                    Converter::builder(c)
                        .include_tofu_risk_dictionaries(tofu)
                        .build(),
                )
            })
        })
        .collect()
}

/// Converts `pieces` one after the other through the push API.
fn streamed(converter: &Converter, pieces: &[&str]) -> String {
    let mut stream = converter.stream();
    let mut out = String::new();
    for p in pieces {
        stream.push(p, &mut out);
    }
    stream.finish(&mut out);
    out
}

const SMALL: [&str; 10] = [
    "头发很长，头发。",
    "勇敢的士兵 改变量子比特\r\n鼠标和内存\n",
    "⿰氵青⿱⿰木木木 ⿰氵",
    "⿰\n青 ⿲a b ⿰。发 ⿱ 发",
    "乾隆年间，皇后娘娘说：“这些头发。”",
    "下載程式碼 記憶體 滑鼠 計程車",
    "一个\u{FE00}字 和 𠀀𪢮 豈更",
    "",
    "\n\n\r\n",
    "OpenCC 1.4.2 头发 ABC·DE",
];

#[test]
fn every_split_point_of_small_inputs() {
    let mut checked = 0;
    for (name, c) in converters() {
        for text in SMALL {
            let whole = c.convert(text);
            let bounds: Vec<usize> = (0..=text.len())
                .filter(|&i| text.is_char_boundary(i))
                .collect();
            for &i in &bounds {
                assert_eq!(
                    streamed(&c, &[&text[..i], &text[i..]]),
                    whole,
                    "{name} split at {i} of {text:?}"
                );
                checked += 1;
            }
            // Every pair of split points as well, for the shorter inputs.
            if bounds.len() <= 24 {
                for &i in &bounds {
                    for &j in bounds.iter().filter(|&&j| j >= i) {
                        let parts = [&text[..i], &text[i..j], &text[j..]];
                        assert_eq!(
                            streamed(&c, &parts),
                            whole,
                            "{name} split at {i},{j} of {text:?}"
                        );
                        checked += 1;
                    }
                }
            }
        }
    }
    println!("{checked} split streams equal to one-shot conversion");
}

#[test]
fn random_chunkings_of_large_text() {
    let pool = Pool::new();
    let zuozhuan = std::fs::read_to_string(common::data("zuozhuan.txt")).unwrap();
    // The first 300 KB of zuozhuan with its newlines removed, and generated adversarial text.
    let no_newlines: String = zuozhuan
        .chars()
        .take(100_000)
        .filter(|&c| c != '\n')
        .collect();
    let texts = [no_newlines, pool.text(5, 60_000)];
    let mut rng = Rng::new(99);
    for (name, c) in converters() {
        for text in &texts {
            let whole = c.convert(text);
            for _ in 0..3 {
                let mut pieces = Vec::new();
                let mut at = 0;
                while at < text.len() {
                    let mut end = (at + 1 + rng.below(4000)).min(text.len());
                    while !text.is_char_boundary(end) {
                        end += 1;
                    }
                    pieces.push(&text[at..end]);
                    at = end;
                }
                assert!(
                    streamed(&c, &pieces) == whole,
                    "{name}: chunked output differs"
                );
            }
        }
    }
}

#[test]
fn phrase_straddling_a_read_boundary() {
    // OpenCC's command line prints 頭發 for this text: it converts all but the last 16 code points
    // of a 1 MiB read, and 头 is the 17th from the end, so 头 and 发 land in different calls.
    // fanjian only cuts where no key can span, whatever the read boundaries.
    let s2t = Converter::new(Config::S2t);
    let mut text = "汉".repeat((1 << 20) / 3 - 16);
    text.push('头');
    let cut = text.len();
    text.push_str("发很长很长很长很长很长很长很长。");
    let whole = s2t.convert(&text);
    assert!(whole.contains("頭髮很長"));
    assert!(streamed(&s2t, &[&text[..cut], &text[cut..]]) == whole);
    // Through the pipeline, with a read boundary between 头 and 发, and inside 发's bytes.
    for at in [cut, cut + 1, cut + 2] {
        let options = StreamOptions {
            buffer_size: at,
            ..StreamOptions::default()
        };
        let mut out = Vec::new();
        convert_stream(&s2t, text.as_bytes(), &mut out, &options).unwrap();
        assert!(out == whole.as_bytes(), "read boundary at byte {at}");
    }
}

#[test]
fn ids_open_across_a_boundary() {
    let s2t = Converter::new(Config::S2t);
    // 发 inside a complete IDS is copied, not converted, however the text is cut (。 and the
    // space occur in no key, so only the IDS stops a cut before them).
    let text = "头⿰发发发 ⿰。发 ⿱ 发";
    let whole = s2t.convert(text);
    assert_eq!(whole, "頭⿰发发發 ⿰。发 ⿱ 发");
    for i in (0..=text.len()).filter(|&i| text.is_char_boundary(i)) {
        assert_eq!(streamed(&s2t, &[&text[..i], &text[i..]]), whole);
    }
}

#[test]
fn pipeline_with_tiny_buffers_in_every_encoding() {
    let text = "第一行：头发\r\n第二行：“鼠标”和内存。\n\n最后一行没有换行";
    for config in [Config::S2t, Config::S2twp, Config::T2s] {
        let c = Converter::new(config);
        let want = c.convert(text).into_owned();
        for enc in [
            Encoding::Utf8,
            Encoding::Gb18030,
            Encoding::Utf16Le,
            Encoding::Utf16Be,
        ] {
            let mut input = Vec::new();
            fanjian::Encoder::new(enc, false)
                .encode(text, true, &mut input)
                .unwrap();
            for buffer_size in [1, 2, 3, 5, 7, 64] {
                let options = StreamOptions {
                    from: Some(enc),
                    to: OutputEncoding::Keep,
                    buffer_size,
                    ..StreamOptions::default()
                };
                let mut out = Vec::new();
                convert_stream(&c, &input[..], &mut out, &options).unwrap();
                let mut expected = Vec::new();
                fanjian::Encoder::new(enc, false)
                    .encode(&want, true, &mut expected)
                    .unwrap();
                assert_eq!(out, expected, "{config} {enc} buffer {buffer_size}");
            }
        }
    }
}

#[test]
fn malformed_utf8_anywhere_same_error_and_same_lossy_output_for_every_buffer_size() {
    let s2t = Converter::new(Config::S2t);
    let mut input = "第一行头发\n第二".as_bytes().to_vec();
    input.push(0xFF);
    input.extend_from_slice("行头发\u{FEFF}".as_bytes());
    input.extend_from_slice(b"\xE5\xA4"); // cut short at the end
    let run = |buffer_size: usize, lossy: bool| {
        let options = StreamOptions {
            from: Some(Encoding::Utf8),
            lossy,
            buffer_size,
            ..StreamOptions::default()
        };
        let mut out = Vec::new();
        convert_stream(&s2t, &input[..], &mut out, &options).map(|r| (out, r.replaced_malformed))
    };
    let want = run(0, true).unwrap();
    assert_eq!(want.1, 2);
    assert_eq!(
        String::from_utf8(want.0.clone()).unwrap(),
        "第一行頭髮\n第二\u{FFFD}行頭髮\u{FEFF}\u{FFFD}"
    );
    for buffer_size in 1..=12 {
        assert_eq!(
            run(buffer_size, true).unwrap(),
            want,
            "lossy, buffer {buffer_size}"
        );
        let err = run(buffer_size, false).unwrap_err().to_string();
        assert_eq!(
            err, "2:3 (byte 22): invalid UTF-8 sequence [FF]",
            "buffer {buffer_size}"
        );
    }
}

#[test]
fn threads_convert_slots_as_they_come_with_the_same_bytes() {
    // 5.7 MB of Classical Chinese (three times the book), converted in slots on two and three
    // threads (more slots than the flow holds at once, so that they are used again), written
    // in order while the calling thread reads on: the bytes, their order and the report are
    // those of one thread; GB18030 output too (encoded after conversion), GB18030 input
    // (decoded before), read a few KB at a time, and normalization around the conversion.
    let text = book(3);
    let (gb18030, _, _) = encoding_rs::GB18030.encode(&text);
    let pool = pool_of(3);
    // Normalized too (full-width punctuation before the conversion, quotation marks paired
    // line by line after it), on text given straight quotes and half-width punctuation.
    let marked = text.replace('，', ", \"").replace('。', "\". ");
    let prose = Normalize {
        quotes: Some(QuoteStyle::Corner),
        ..Normalize::prose()
    };
    for (config, normalize) in [
        (Config::S2t, Normalize::default()),
        (Config::S2twp, Normalize::default()),
        (Config::S2twp, prose),
    ] {
        let c = Converter::new(config);
        let text = if normalize.is_off() { &text } else { &marked };
        for to in [
            OutputEncoding::Utf8,
            OutputEncoding::Encoding(Encoding::Gb18030),
        ] {
            let run = |input: &[u8], threads: usize, buffer_size: usize| {
                let options = StreamOptions {
                    threads,
                    buffer_size,
                    to,
                    normalize,
                    ..StreamOptions::default()
                };
                let mut out = Vec::new();
                let mut report = pool
                    .install(|| convert_stream(&c, Trickle(input, 5_000), &mut out, &options))
                    .unwrap();
                assert_eq!(report.bytes_out, out.len() as u64);
                assert_eq!(report.bytes_in, input.len() as u64);
                report.bytes_in = 0;
                report.input_encoding = Encoding::Utf8;
                (out, report)
            };
            let one = run(text.as_bytes(), 1, 0);
            if !normalize.is_off() && to == OutputEncoding::Utf8 {
                let out = std::str::from_utf8(&one.0).unwrap();
                assert!(out.contains('「') && out.contains('，'), "normalized");
            }
            for (threads, buffer_size) in [(2, 0), (3, 300_000), (2, 70_000)] {
                assert!(
                    run(text.as_bytes(), threads, buffer_size) == one,
                    "{config} {to:?} {normalize:?} threads {threads} buffer {buffer_size}"
                );
            }
            if normalize.is_off() {
                assert!(
                    run(&gb18030, 2, 200_000) == one,
                    "{config} {to:?} from GB18030"
                );
            }
        }
    }
}

#[test]
fn a_failing_writer_stops_threaded_streaming_with_its_error() {
    struct FailAfter(usize);
    impl std::io::Write for FailAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.len() > self.0 {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    // Long enough that slots handed to the threads are still waiting when the writer fails:
    // the threads must leave them, and the call return (on a thread of its own, so that a
    // hang fails the test instead of stopping it).
    let text = book(4);
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let c = Converter::new(Config::S2t);
        for limit in [0, 100_000, 1_000_000, 5_000_000] {
            for threads in [2, 3] {
                let options = StreamOptions {
                    threads,
                    buffer_size: 200_000,
                    ..StreamOptions::default()
                };
                let err =
                    convert_stream(&c, text.as_bytes(), FailAfter(limit), &options).unwrap_err();
                assert!(err.to_string().contains("disk full"), "{limit}: {err}");
                // Read at offsets, by the threads.
                let input = Mem::new(text.as_bytes());
                let err = convert_file(&c, &input, FailAfter(limit), &options).unwrap_err();
                assert!(err.to_string().contains("disk full"), "{limit}: {err}");
            }
        }
        done.send(()).unwrap();
    });
    result
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("every threaded conversion stopped at its writer's error");
}

#[test]
fn threads_meeting_malformed_utf8_or_nul_give_what_one_thread_gives() {
    // UTF-8 goes to the threads as read and is validated there, a slot at a time: a slot that
    // does not validate (or holds a NUL where that stops the conversion) sends the input from
    // there on back through the decoder. Wherever the bad bytes are (in the first slot, in
    // the last few KiB searched for a cut, deep in the text after many slots, cut short at the
    // very end), the error, its line and column, and the lossy output are one thread's.
    let text = book(2);
    let s2t = Converter::new(Config::S2t);
    let pool = pool_of(3);
    let at = |target: usize| (target..).find(|&i| text.is_char_boundary(i)).unwrap();
    // The text with bad bytes put in at character boundaries, in order.
    let spoilt_at = |bad: &[(usize, &[u8])]| {
        let mut input = vec![];
        let mut from = 0;
        for &(at, bytes) in bad {
            input.extend_from_slice(&text.as_bytes()[from..at]);
            input.extend_from_slice(bytes);
            from = at;
        }
        input.extend_from_slice(&text.as_bytes()[from..]);
        input
    };
    let spoilt = |at: usize, bad: &[u8]| spoilt_at(&[(at, bad)]);
    let mut inputs = vec![];
    for target in [10, 260_000, 1_000_003, 2_900_000, text.len() - 3] {
        inputs.push((spoilt(at(target), b"\xFF"), false));
        inputs.push((spoilt(at(target), b"\xE5\xA4"), false));
        inputs.push((spoilt(at(target), b"\0"), true));
    }
    // Cut short at the very end.
    inputs.push((spoilt(text.len(), b"\xE5\xA4"), false));
    // A NUL and a malformed byte in one read or in two, either first: whichever comes first
    // stops the conversion (the NUL stops the lossy one too).
    for (first, second) in [(600_000, 1_000_000), (600_000, 610_000)] {
        for (a, b) in [(&b"\0"[..], &b"\xFF"[..]), (b"\xFF", b"\0")] {
            inputs.push((spoilt_at(&[(at(first), a), (at(second), b)]), true));
        }
    }
    let stops = |bad: &[(usize, &[u8])], lossy: bool| {
        let options = StreamOptions {
            lossy,
            reject_binary: true,
            ..StreamOptions::default()
        };
        let input = spoilt_at(bad);
        let err = convert_stream(&s2t, &input[..], std::io::sink(), &options).unwrap_err();
        err.to_string()
    };
    let (nul, ff) = ((at(600_000), &b"\0"[..]), (at(610_000), &b"\xFF"[..]));
    assert!(stops(&[nul, ff], false).contains("NUL byte"));
    assert!(stops(&[(nul.0, ff.1), (ff.0, nul.1)], false).contains("invalid UTF-8"));
    let lossy = stops(&[(nul.0, ff.1), (ff.0, nul.1)], true);
    assert!(
        lossy.contains(&format!("(byte {}): NUL byte", ff.0 + 1)),
        "{lossy}"
    );
    for (input, nul) in &inputs {
        // Read by this thread, or (with threads) at offsets by the threads.
        let run = |threads: usize, buffer_size: usize, lossy: bool, at: bool| {
            let options = StreamOptions {
                threads,
                buffer_size,
                lossy,
                reject_binary: *nul,
                ..StreamOptions::default()
            };
            let mut out = Vec::new();
            pool.install(|| match at {
                true => convert_file(&s2t, &Mem::new(input), &mut out, &options),
                false => convert_stream(&s2t, &input[..], &mut out, &options),
            })
            .map(|r| (out, r.bytes_in, r.replaced_malformed))
            .map_err(|e| e.to_string())
        };
        for lossy in [false, true] {
            let one = run(1, 0, lossy, false);
            // The strict conversion stops; the lossy one replaces (NUL stops either way).
            assert_eq!(one.is_err(), *nul || !lossy, "{one:?}");
            for (threads, buffer_size, at) in [
                (2, 0, false),
                (3, 0, false),
                (2, 70_000, false),
                (2, 0, true),
                (3, 70_000, true),
            ] {
                assert!(
                    run(threads, buffer_size, lossy, at) == one,
                    "{} bytes, lossy {lossy}, threads {threads}, buffer {buffer_size}, at \
                     offsets {at}: {:?}",
                    input.len(),
                    one.as_ref().err()
                );
            }
        }
    }
}

#[test]
fn threads_cut_only_at_safe_places() {
    // A text of one phrase over and over (头发, which converts as a whole: 頭髮, and as two
    // characters: 頭發), with a line end only every 600 to 7,200 bytes, some of them the
    // last operand of an IDS (⿰头 and the newline: copied as it is, where whole). A slot cut
    // anywhere else than at a safe place, or without its line end, changes the output.
    let mut rng = Rng::new(7);
    let ends = ["。\n", "\n", "⿰头\n"];
    let mut text = String::new();
    while text.len() < 3_000_000 {
        text.push_str(&"头发".repeat(100 + rng.below(1100)));
        text.push_str(ends[rng.below(ends.len())]);
    }
    let s2t = Converter::new(Config::S2t);
    let pool = pool_of(3);
    let (gb18030, _, _) = encoding_rs::GB18030.encode(&text);
    for input in [text.as_bytes(), &gb18030] {
        // Read in order, or at offsets.
        let run = |threads: usize, buffer_size: usize, at: bool| {
            let options = StreamOptions {
                threads,
                buffer_size,
                ..StreamOptions::default()
            };
            let mut out = Vec::new();
            pool.install(|| match at {
                true => convert_file(&s2t, &Mem::new(input), &mut out, &options),
                false => convert_stream(&s2t, input, &mut out, &options),
            })
            .unwrap();
            out
        };
        let one = run(1, 0, false);
        let one_text = std::str::from_utf8(&one).unwrap();
        assert!(one_text.contains("⿰头\n頭髮") && !one_text.contains('發'));
        for (threads, buffer_size) in [(2, 0), (3, 0), (2, 70_000), (3, 5_000)] {
            for at in [false, true] {
                assert!(
                    run(threads, buffer_size, at) == one,
                    "threads {threads}, buffer {buffer_size}, at offsets {at}"
                );
            }
        }
    }
}

#[test]
fn threads_reading_their_own_slots_give_the_same_bytes() {
    // A file read at offsets (here from memory, in reads of at most 100,000 bytes): with
    // threads, each reads the slot it converts, after the calling thread has read the bytes
    // before the slot's end to find a safe cut; the calling thread reads the rest. The bytes
    // and the report are those of one thread reading in order, for UTF-8 and GB18030 input,
    // normalized or not; and for a real file.
    let text = book(3);
    let (gb18030, _, _) = encoding_rs::GB18030.encode(&text);
    let pool = pool_of(3);
    let path = std::env::temp_dir().join(format!("fanjian-at-{}.txt", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    for (config, normalize) in [
        (Config::S2t, Normalize::default()),
        (Config::S2twp, Normalize::prose()),
    ] {
        let c = Converter::new(config);
        for input in [text.as_bytes(), &gb18030] {
            let options = |threads: usize, buffer_size: usize| StreamOptions {
                threads,
                buffer_size,
                normalize,
                ..StreamOptions::default()
            };
            let mut one = Vec::new();
            let want = convert_stream(&c, input, &mut one, &options(1, 0)).unwrap();
            for (threads, buffer_size) in [(1, 0), (2, 0), (3, 0), (2, 70_000), (3, 5_000)] {
                let mut out = Vec::new();
                let options = options(threads, buffer_size);
                let report = pool
                    .install(|| convert_file(&c, &Mem::new(input), &mut out, &options))
                    .unwrap();
                assert!(
                    out == one && report == want,
                    "{config} {normalize:?} threads {threads} buffer {buffer_size}"
                );
            }
        }
        let mut out = Vec::new();
        pool.install(|| convert_file(&c, &file, &mut out, &options_of(normalize, 2)))
            .unwrap();
        let mut one = Vec::new();
        convert_stream(&c, text.as_bytes(), &mut one, &options_of(normalize, 1)).unwrap();
        assert!(out == one, "{config} {normalize:?} from a file");
    }
    std::fs::remove_file(&path).unwrap();
}

/// What one thread makes of `input`.
fn one_thread(c: &Converter, input: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    convert_stream(c, input, &mut out, &options_of(Normalize::default(), 1)).unwrap();
    out
}

fn options_of(normalize: Normalize, threads: usize) -> StreamOptions {
    StreamOptions {
        threads,
        normalize,
        ..StreamOptions::default()
    }
}

#[test]
fn a_slot_the_threads_could_not_read_is_read_again_in_order() {
    // A read that fails once, by a thread reading its slot or by the calling thread reading
    // the bytes before a slot's end, costs nothing: the input from that slot on is read
    // again in order, and the output is the same. (The reads in order, of the first bytes
    // and of the last slot, stop at their first error.) A read that keeps failing stops the
    // conversion with its error, as with one thread.
    let text = book(2);
    let s2t = Converter::new(Config::S2t);
    let pool = pool_of(3);
    let one = one_thread(&s2t, text.as_bytes());
    for fail_at in [100_000, 262_000, 1_000_000, 2_000_000, 3_000_000] {
        for threads in [2, 3] {
            let options = options_of(Normalize::default(), threads);
            let input = Mem {
                fail_at,
                failures: AtomicUsize::new(1),
                ..Mem::new(text.as_bytes())
            };
            let mut out = Vec::new();
            let report = pool.install(|| convert_file(&s2t, &input, &mut out, &options));
            assert_eq!(
                input.failures.load(Ordering::SeqCst),
                0,
                "{fail_at}: failed once"
            );
            assert!(report.is_ok() && out == one, "{fail_at}, threads {threads}");
            let input = Mem {
                failures: AtomicUsize::new(usize::MAX),
                ..input
            };
            let err = pool
                .install(|| convert_file(&s2t, &input, std::io::sink(), &options))
                .unwrap_err();
            assert_eq!(err.to_string(), "the disk failed", "{fail_at}");
        }
    }
}

#[test]
fn pieces_converted_in_any_order_on_one_thread_give_the_same_bytes() {
    // A thread learns tables as it converts (the table loop's pairs and walks), and the
    // threaded pipeline gives a thread whichever slot is next: what a thread converted before
    // must not change what it makes of a piece. The book (for the configs from Traditional,
    // converted to it first; for jp2t, to Japanese forms), cut at line ends into pieces of
    // about 100 KB, converted in two shuffled orders, each on a fresh thread.
    let book = book(1);
    let traditional = Converter::new(Config::S2t).convert(&book).into_owned();
    let japanese = Converter::new(Config::T2jp)
        .convert(&traditional)
        .into_owned();
    let mut rng = Rng::new(11);
    for config in Config::ALL {
        let text = match config.to_string() {
            name if name == "jp2t" => &japanese,
            name if name.starts_with('s') => &book,
            _ => &traditional,
        };
        let c = Converter::new(config);
        let whole = c.convert(text);
        let mut pieces = vec![];
        let mut rest = text.as_str();
        while !rest.is_empty() {
            let end = rest.as_bytes()[rest.len().min(100_000)..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| rest.len().min(100_000) + i + 1);
            pieces.push(&rest[..end]);
            rest = &rest[end..];
        }
        for _ in 0..2 {
            let mut order: Vec<usize> = (0..pieces.len()).collect();
            for i in (1..order.len()).rev() {
                order.swap(i, rng.below(i + 1));
            }
            let outs = std::thread::scope(|s| {
                s.spawn(|| {
                    let mut outs = vec![String::new(); pieces.len()];
                    for &k in &order {
                        outs[k] = c.convert(pieces[k]).into_owned();
                    }
                    outs
                })
                .join()
                .unwrap()
            });
            assert!(outs.concat() == whole, "{config}, order {order:?}");
        }
    }
}

#[test]
fn threads_find_sparse_safe_cuts_and_write_as_the_input_comes() {
    // Lines of 64 KiB of Han characters, whose line ends (their only safe cuts) come just
    // after the start of a 64 KiB read: never in the last few KiB of the input held when a
    // read makes it a slot's worth. The cut is searched further back there: the threads get
    // slots as the input comes (read in order, or at offsets), and the output is written
    // before half the input is read, with one thread's bytes.
    let mut text = "头".repeat(33) + "\n";
    while text.len() < 8 << 20 {
        text.push_str(&"发".repeat(21_845));
        text.push('\n');
    }
    let s2t = Converter::new(Config::S2t);
    let one = one_thread(&s2t, text.as_bytes());
    /// Output that notes how far the input had been read at its first write.
    struct FirstWrite<'a>(&'a Mem<'a>, Option<usize>, Vec<u8>);
    impl std::io::Write for FirstWrite<'_> {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if !buf.is_empty() && self.1.is_none() {
                self.1 = Some(self.0.read_to.load(Ordering::SeqCst));
            }
            self.2.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let pool = pool_of(3);
    for at in [false, true] {
        let input = Mem::new(text.as_bytes());
        let mut out = FirstWrite(&input, None, Vec::new());
        let options = options_of(Normalize::default(), 2);
        pool.install(|| match at {
            true => convert_file(&s2t, &input, &mut out, &options),
            false => convert_stream(&s2t, &input, &mut out, &options),
        })
        .unwrap();
        assert!(out.2 == one, "at offsets {at}");
        let first = out.1.unwrap();
        // (The slots in flight, eight of about 300 KB here, are read before one is written
        // where the threads are slow.)
        assert!(
            first < text.len() / 2,
            "at offsets {at}: first write after {first} bytes"
        );
        // Read once, and a window of 4.3 KiB a slot (not again after each read in order).
        let read = input.read.load(Ordering::SeqCst);
        assert!(read < text.len() + text.len() / 40, "{read} bytes read");
    }
}

/// Puts up to three of `defects` into `text` at random places that are multiples of `step`.
fn spoil(text: &mut Vec<u8>, defects: &[&[u8]], step: usize, rng: &mut Rng) {
    for _ in 0..rng.below(4) {
        let bad = defects[rng.below(defects.len())];
        let at = rng.below(text.len() / step) * step;
        text.splice(at..at, bad.iter().copied());
    }
}

/// Converts `text` (in `from`) on one thread, read whole, and on two to four threads with
/// random read buffers, read in order in reads of random sizes or at offsets, strict or lossy,
/// stopping at NUL or not, written in UTF-8, GB18030, GBK, Big5 or UTF-16 (characters those
/// lack an error or replaced), normalized or not (before the conversion and after it, both of
/// which the threads do in their slots): asserts the same output and report, or the same error (a
/// strict conversion that stops has written part of its output).
fn threads_give_one_threads(
    pool: &rayon::ThreadPool,
    c: &Converter,
    text: &[u8],
    from: Encoding,
    rng: &mut Rng,
    case: &str,
) {
    let (lossy, reject_binary) = (rng.below(2) == 0, rng.below(2) == 0);
    let encodings = [
        Encoding::Utf8,
        Encoding::Gb18030,
        Encoding::Gbk,
        Encoding::Big5,
        Encoding::Utf16Le,
    ];
    let to = encodings[rng.below(encodings.len())];
    let replace_unmappable = rng.below(2) == 0;
    let normalize = [
        Normalize::default(),
        Normalize::prose(),
        Normalize {
            fullwidth_ascii: true,
            radicals: true,
            quotes: Some(QuoteStyle::Corner),
            ..Normalize::prose()
        },
    ][rng.below(3)];
    let run = |threads: usize, buffer_size: usize, read: usize, at: bool| {
        let mut out = Vec::new();
        let options = StreamOptions {
            threads,
            buffer_size,
            lossy,
            reject_binary,
            from: Some(from),
            to: OutputEncoding::Encoding(to),
            replace_unmappable,
            normalize,
            ..StreamOptions::default()
        };
        pool.install(|| match at {
            true => convert_file(c, &Mem::new(text), &mut out, &options),
            false => convert_stream(c, Trickle(text, read), &mut out, &options),
        })
        .map(|report| (out, report))
        .map_err(|e| e.to_string())
    };
    let one = run(1, 0, usize::MAX, false);
    let (threads, buffer_size) = (2 + rng.below(3), [0, 5_000, 70_000][rng.below(3)]);
    let (read, at) = ([1_000, 65_536, usize::MAX][rng.below(3)], rng.below(2) == 0);
    // One thread with those reads too: where the input stops, the text before it is written
    // whatever the reads.
    let single = run(1, buffer_size, read, at);
    let many = run(threads, buffer_size, read, at);
    let same = |one: &Result<_, String>, many: &Result<_, String>| match (one, many) {
        (Ok(one), Ok(many)) => one == many,
        (Err(one), Err(many)) => one == many,
        _ => false,
    };
    assert!(
        same(&one, &single),
        "{case}, one thread, buffer {buffer_size}, reads of {read}, at offsets {at}: {:?} \
         against {:?}",
        one.as_ref().map(|r| &r.1),
        single.as_ref().map(|r| &r.1)
    );
    assert!(
        same(&one, &many),
        "{case}, {} bytes, lossy {lossy}, NUL stops {reject_binary}, to {to}, replacing \
         {replace_unmappable}, {normalize:?}, threads {threads}, buffer {buffer_size}, reads of \
         {read}, at offsets {at}: {:?} against {:?}",
        text.len(),
        one.as_ref().map(|r| &r.1),
        many.as_ref().map(|r| &r.1)
    );
}

#[test]
fn threads_give_one_threads_result_on_random_text_with_random_defects() {
    // Random stretches of the book with up to three defects (a malformed byte, a cut-short
    // sequence, a NUL, a cut-short four-byte sequence) at random places, strict or lossy,
    // stopping at NUL or not, through one of four configs, read in order or at offsets in
    // random sizes, on two to four threads with random read buffers: the output, the report
    // or the error are one thread's. Some of its commas and colons are ASCII, for the
    // normalization to change; every fourth stretch has no ASCII whitespace over 1.3 MB,
    // more than the flow holds without a cut where the threads normalize (the rest then goes
    // through this thread's normalizer).
    let book = book(3).replace('，', ",").replace('：', ":").into_bytes();
    let configs = [Config::S2t, Config::S2twp, Config::T2hk, Config::Tw2sp];
    let converters: Vec<Converter> = configs.iter().map(|&c| Converter::new(c)).collect();
    let pool = pool_of(4);
    let mut rng = Rng::new(23);
    for case in 0..60 {
        let start = rng.below(book.len() / 2);
        let mut text = book[start..start + 300_000 + rng.below(book.len() / 2 - 300_000)].to_vec();
        if case % 4 == 0 {
            let from = rng.below(200_000);
            let to = (from + 1_300_000).min(text.len());
            let kept: Vec<u8> = (text[from..to].iter().copied())
                .filter(|b| !b.is_ascii_whitespace())
                .collect();
            text.splice(from..to, kept);
        }
        let defects: [&[u8]; 4] = [b"\xFF", b"\xE5\xA4", b"\0", b"\xF0\x9F"];
        spoil(&mut text, &defects, 1, &mut rng);
        let k = rng.below(configs.len());
        let case = format!("case {case}: {}", configs[k]);
        let utf8 = Encoding::Utf8;
        threads_give_one_threads(&pool, &converters[k], &text, utf8, &mut rng, &case);
    }
}

#[test]
fn threads_decoding_gb18030_gbk_and_big5_give_one_threads_result() {
    // GB18030, GBK and Big5 go to the threads as read too, each slot cut before a byte below
    // 0x30 (which stands for itself in them: here a line end) at a safe cut, and decoded by
    // its thread. Random stretches of the book (for Big5, converted to Traditional first),
    // some without such bytes over more than the flow holds without a cut (the rest then goes
    // through one decoder), with up to three defects (a byte that starts no
    // character, a lead byte alone, a NUL, a four-byte sequence cut short after two or three
    // bytes): the output, the report or the error (its line, column and byte) are one
    // thread's.
    let simplified = book(3);
    let traditional = Converter::new(Config::S2t)
        .convert(&simplified)
        .into_owned();
    let configs = [Config::S2t, Config::S2twp, Config::T2s, Config::Tw2sp];
    let converters: Vec<Converter> = configs.iter().map(|&c| Converter::new(c)).collect();
    let pool = pool_of(4);
    let mut rng = Rng::new(29);
    for case in 0..40 {
        let encoding = [Encoding::Gb18030, Encoding::Gbk, Encoding::Big5][rng.below(3)];
        let book = match encoding {
            Encoding::Big5 => &traditional,
            _ => &simplified,
        };
        let start = book.floor_char_boundary(rng.below(book.len() / 3));
        let mut text = book[start..].to_string();
        // Every third case, no byte below 0x30 (the book's CR LF line ends, and a few spaces
        // and full stops) over 2.4 MB (1.6 MB encoded: the flow holds at most 1 MiB without a
        // cut), from somewhere in the first 200 KB.
        let stretch = case % 3 == 0;
        let size = match stretch {
            true => 2_700_000,
            false => 200_000 + rng.below(1_500_000),
        };
        text.truncate(text.floor_char_boundary(size));
        if stretch {
            let from = text.floor_char_boundary(rng.below(200_000));
            let to = text.floor_char_boundary(from + 2_400_000);
            text.replace_range(
                from..to,
                &text[from..to].replace(['\r', '\n', ' ', '.'], ""),
            );
        }
        let rs = match encoding {
            Encoding::Big5 => encoding_rs::BIG5,
            _ => encoding_rs::GB18030,
        };
        let mut input = rs.encode(&text).0.into_owned();
        let defects: [&[u8]; 5] = [b"\xFF", b"\x81", b"\0", b"\x81\x30", b"\x81\x30\x81"];
        spoil(&mut input, &defects, 1, &mut rng);
        let k = rng.below(configs.len());
        let case = format!("case {case}: {encoding} {}", configs[k]);
        threads_give_one_threads(&pool, &converters[k], &input, encoding, &mut rng, &case);
    }
}

#[test]
fn threads_reading_utf16_give_one_threads_result() {
    // UTF-16 goes to the threads as read too, each slot cut before a code unit below 0x30 at
    // a safe cut, and decoded by its thread. Random stretches of the book in UTF-16LE and UTF-16BE with up
    // to three defects (a lone surrogate, a NUL unit, a byte alone that shifts the units after
    // it): the output, the report or the error are one thread's, whatever the reads. Its
    // sentences end in ਁ一ਁ, whose bytes hold a line end's one byte off the units.
    let book = book(2).replace('。', "。ਁ一ਁ");
    let configs = [Config::S2t, Config::S2twp, Config::T2hk];
    let converters: Vec<Converter> = configs.iter().map(|&c| Converter::new(c)).collect();
    let pool = pool_of(4);
    let mut rng = Rng::new(31);
    for case in 0..16 {
        let big = rng.below(2) == 0;
        let start = book.floor_char_boundary(rng.below(book.len() / 2));
        let end = book.floor_char_boundary(start + 100_000 + rng.below(700_000));
        let mut input: Vec<u8> = book[start..end]
            .encode_utf16()
            .flat_map(|u| match big {
                true => u.to_be_bytes(),
                false => u.to_le_bytes(),
            })
            .collect();
        let surrogate: &[u8] = if big { b"\xD8\x00" } else { b"\x00\xD8" };
        let defects: [&[u8]; 3] = [surrogate, b"\0\0", b"\x41"];
        // (At even places, where units start, but for the byte alone.)
        spoil(&mut input, &defects, 2, &mut rng);
        let encoding = if big {
            Encoding::Utf16Be
        } else {
            Encoding::Utf16Le
        };
        let k = rng.below(configs.len());
        let case = format!("case {case}: {encoding} {}", configs[k]);
        threads_give_one_threads(&pool, &converters[k], &input, encoding, &mut rng, &case);
    }
}

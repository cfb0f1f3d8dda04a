//! Converts a file N times with one config, for profiling: `convert_file CONFIG FILE [N]`
//! in memory, or `convert_file CONFIG FILE N stream` through the streaming pipeline
//! (`normalize` instead of `stream`: with `--normalize --punct tw`).

use fanjian::{Config, Converter};

fn main() {
    let mut args = std::env::args().skip(1);
    let config: Config = args.next().expect("config").parse().expect("config name");
    let text = std::fs::read_to_string(args.next().expect("file")).expect("readable UTF-8 file");
    let n: usize = args.next().map_or(20, |n| n.parse().expect("count"));
    let mode = args.next().unwrap_or_default();
    let stream = mode == "stream" || mode == "normalize";
    let converter = Converter::new(config);
    let mut out = String::new();
    let mut bytes = Vec::new();
    for _ in 0..n {
        out.clear();
        bytes.clear();
        if stream {
            let mut options = fanjian::StreamOptions::default();
            if mode == "normalize" {
                options.normalize = fanjian::Normalize {
                    quotes: Some(fanjian::QuoteStyle::Corner),
                    ..fanjian::Normalize::prose()
                };
            }
            fanjian::convert_stream(&converter, text.as_bytes(), &mut bytes, &options)
                .expect("converts");
        } else {
            converter.convert_into(&text, &mut out);
        }
    }
    println!(
        "{} bytes in, {} bytes out",
        text.len(),
        out.len().max(bytes.len())
    );
}

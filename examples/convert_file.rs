//! Converts a file N times with one config, for profiling: `convert_file CONFIG FILE [N]`.

use fanjian::{Config, Converter};

fn main() {
    let mut args = std::env::args().skip(1);
    let config: Config = args.next().expect("config").parse().expect("config name");
    let text = std::fs::read_to_string(args.next().expect("file")).expect("readable UTF-8 file");
    let n: usize = args.next().map_or(20, |n| n.parse().expect("count"));
    let converter = Converter::new(config);
    let mut out = String::new();
    for _ in 0..n {
        out.clear();
        converter.convert_into(&text, &mut out);
    }
    println!("{} bytes in, {} bytes out", text.len(), out.len());
}

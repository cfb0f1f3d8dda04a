use fanjian::{Config, Converter};
fn main() {
    let text = std::fs::read_to_string("tests/data/zuozhuan.txt")
        .unwrap()
        .repeat(5);
    let cfg: Config = std::env::args().nth(1).unwrap().parse().unwrap();
    let c = Converter::new(cfg);
    let whole = c.convert(&text).into_owned();
    // pieces at newlines of about `size` bytes
    let mut pieces = vec![];
    let mut start = 0;
    let size: usize = std::env::args()
        .nth(2)
        .map(|s| s.parse().unwrap())
        .unwrap_or(262144);
    while start < text.len() {
        let mut end = (start + size).min(text.len());
        while end < text.len() && text.as_bytes()[end - 1] != b'\n' {
            end += 1;
        }
        pieces.push(&text[start..end]);
        start = end;
    }
    let mut seed = 12345u64;
    let mut bad = 0;
    for round in 0..40 {
        let mut order: Vec<usize> = (0..pieces.len()).collect();
        for i in (1..order.len()).rev() {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let j = (seed >> 33) as usize % (i + 1);
            order.swap(i, j);
        }
        let outs: Vec<String> = std::thread::scope(|s| {
            let c = &c;
            let pieces = &pieces;
            let h = s.spawn(move || {
                let mut outs = vec![String::new(); pieces.len()];
                for &k in &order {
                    outs[k] = c.convert(pieces[k]).into_owned();
                }
                outs
            });
            h.join().unwrap()
        });
        let joined: String = outs.concat();
        if joined != whole {
            bad += 1;
            let d = joined
                .bytes()
                .zip(whole.bytes())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            println!(
                "round {round}: differs at {d}: {:?} vs {:?}",
                &joined[d.saturating_sub(30)..(d + 30).min(joined.len())],
                &whole[d.saturating_sub(30)..(d + 30).min(whole.len())]
            );
        }
    }
    println!("{cfg}: {bad} of 40 rounds differ, {} pieces", pieces.len());
}

//! OpenCC 1.4.2's own test cases (`tests/data/testcases.json`, 243 cases, 556 expectations),
//! run the way upstream runs them: all inputs of a config, one per line, through the
//! `fanjian -c CONFIG` command.

mod common;

use std::collections::BTreeMap;

/// Runs every expectation through the binary; returns (passed, failures as (id, config, got)).
fn run_all(tofu: bool) -> (usize, Vec<(String, String, String)>) {
    let cases = common::testcases();
    let mut by_config: BTreeMap<String, Vec<(String, String, String)>> = BTreeMap::new();
    for (id, input, expected) in &cases {
        for (config, want) in expected {
            by_config.entry(config.clone()).or_default().push((
                id.clone(),
                input.clone(),
                want.clone(),
            ));
        }
    }
    assert_eq!(by_config.len(), 16, "testcases.json covers all 16 configs");
    let mut passed = 0;
    let mut failures = Vec::new();
    for (config, items) in &by_config {
        let input: String = items.iter().map(|(_, i, _)| format!("{i}\n")).collect();
        let mut args = vec!["-c", config.as_str()];
        if tofu {
            args.push("--include-tofu-risk-dictionaries");
        }
        let out = common::run_bin(&args, input.as_bytes());
        assert!(out.status.success(), "fanjian -c {config} failed");
        let out = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = out.split_terminator('\n').collect();
        assert_eq!(
            lines.len(),
            items.len(),
            "{config}: one output line per input line"
        );
        for ((id, _, want), got) in items.iter().zip(lines) {
            if got == want {
                passed += 1;
            } else {
                failures.push((id.clone(), config.clone(), got.to_string()));
            }
        }
    }
    (passed, failures)
}

#[test]
fn all_556_expectations_with_tofu_risk_dictionaries() {
    let (passed, failures) = run_all(true);
    assert_eq!(
        failures,
        vec![],
        "failures with tofu-risk dictionaries included"
    );
    assert_eq!(passed, 556);
    println!("testcases.json with --include-tofu-risk-dictionaries: {passed}/556");
}

#[test]
fn without_tofu_risk_only_the_three_known_t2s_differences() {
    let (passed, failures) = run_all(false);
    // OpenCC with its tofu-risk dictionaries excluded leaves 殢, 圞 and 樠 unconverted in t2s;
    // so must fanjian, and nothing else may differ.
    let cases: BTreeMap<String, String> = common::testcases()
        .into_iter()
        .map(|(id, input, _)| (id, input))
        .collect();
    let mut differing_chars = Vec::new();
    for (id, config, got) in &failures {
        assert_eq!(
            config, "t2s",
            "unexpected difference in {id} ({config}): {got}"
        );
        for c in ['殢', '圞', '樠'] {
            if cases[id].contains(c) && got.contains(c) {
                differing_chars.push(c);
            }
        }
    }
    differing_chars.sort();
    assert_eq!(failures.len(), 3, "{failures:?}");
    assert_eq!(differing_chars, ['圞', '樠', '殢']);
    assert_eq!(passed, 553);
    println!(
        "testcases.json without tofu-risk dictionaries: {passed}/556, the 3 known t2s differences"
    );
}

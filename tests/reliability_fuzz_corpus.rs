//! The fuzz targets' bodies (fuzz/src/targets.rs, the same file the libFuzzer binaries use)
//! run over the committed seed corpus, each seed also cut short at several points and with
//! bytes flipped: `cargo test` exercises every target without a nightly toolchain. Coverage-
//! guided runs are on demand (RELIABILITY.md).

#[path = "../fuzz/src/targets.rs"]
mod targets;

use std::path::Path;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect();
    assert!(seeds.len() >= 2, "{target}: seed corpus too small");
    seeds.sort();
    seeds
}

/// Each seed, its prefixes at 16 cut points, and 16 single-byte flips.
fn variants(seed: &[u8]) -> Vec<Vec<u8>> {
    let mut out = vec![seed.to_vec()];
    for k in 1..=16 {
        out.push(seed[..seed.len() * k / 17].to_vec());
        if !seed.is_empty() {
            let mut flipped = seed.to_vec();
            let i = (seed.len() * k / 17).min(seed.len() - 1);
            flipped[i] ^= 0x5a;
            out.push(flipped);
        }
    }
    out
}

fn run(target: &str, body: fn(&[u8])) {
    let mut runs = 0;
    for seed in corpus(target) {
        for input in variants(&seed) {
            body(&input);
            runs += 1;
        }
    }
    assert!(runs > 0);
}

#[test]
fn scrape_jobs() {
    run("scrape_jobs", targets::scrape_jobs);
}

#[test]
fn alert_rules() {
    run("alert_rules", targets::alert_rules);
}

#[test]
fn config_options() {
    run("config_options", targets::config_options);
}

#[test]
fn inventory_body() {
    run("inventory_body", targets::inventory_body);
}

#[test]
fn pebble_answers() {
    run("pebble_answers", targets::pebble_answers);
}

#[test]
fn model_snapshot() {
    run("model_snapshot", targets::model_snapshot);
}

#[test]
fn relation_units() {
    run("relation_units", targets::relation_units);
}

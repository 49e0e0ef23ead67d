//! The fuzz targets' bodies, as plain functions of bytes. The libFuzzer binaries in
//! `fuzz_targets/` call them; the main workspace's `tests/reliability_fuzz_corpus.rs` includes
//! this file too and runs each over the committed seed corpus, so `cargo test` exercises the
//! same code without a nightly toolchain. A panic is a finding: each function asserts the
//! invariants its parser promises, beyond not crashing.

#[path = "targets.rs"]
mod targets;

pub use targets::*;

//! Test harness for Rust charms, the counterpart of Python's `ops.testing`.

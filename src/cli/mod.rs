//! Command-line entry points besides the hook: `render` (what the charm would apply for a
//! model snapshot). `poll`, the inventory poller, lives in the `inventory-sd` crate.

pub mod render;

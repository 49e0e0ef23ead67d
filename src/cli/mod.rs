//! Command-line entry points besides the hook: `render` (what the charm would apply for a
//! model snapshot) and the workload services (`poll`, `serve-targets`; their code lives in the
//! `inventory-sd` crate).

pub mod render;
pub mod services;

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    prometheus_rs_k8s_fuzz::relation_units(data);
});

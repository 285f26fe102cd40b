#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vedette_fuzzing::intel_list(data));

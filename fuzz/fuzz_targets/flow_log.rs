#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| vedette_fuzzing::flow_log(data));

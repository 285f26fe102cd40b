//! Replays every committed fuzz input: `fuzz/corpus/<target>/*` (the minimized corpus the fuzzer
//! grew, seeds included) and `fuzz/regressions/<target>/*` (inputs that once crashed, hung or
//! blew up memory, kept after the fix). This is CI's fuzzing smoke pass: no nightly needed.
use std::path::{Path, PathBuf};
use std::time::Instant;

use vedette_fuzzing::TARGETS;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file() && !p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files
}

fn replay(target: &str) {
    let run = TARGETS.iter().find(|(name, _)| *name == target).expect("a target of TARGETS").1;
    let corpus = files(&fuzz_dir().join("corpus").join(target));
    assert!(!corpus.is_empty(), "fuzz/corpus/{target} is empty or missing");
    let regressions = files(&fuzz_dir().join("regressions").join(target));
    let started = Instant::now();
    let mut failed = Vec::new();
    for path in corpus.iter().chain(&regressions) {
        let data = std::fs::read(path).expect("readable corpus file");
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    println!("{target}: {} corpus + {} regression inputs in {:.2?}", corpus.len(), regressions.len(), started.elapsed());
    assert!(failed.is_empty(), "{target} panicked on {} input(s):\n{}", failed.len(), failed.join("\n"));
}

macro_rules! replay_tests {
    ($($target:ident),* $(,)?) => {
        $(#[test] fn $target() { replay(stringify!($target)); })*

        #[test]
        fn every_target_is_replayed() {
            let replayed = [$(stringify!($target)),*];
            for (name, _) in TARGETS {
                assert!(replayed.contains(name), "no replay test for target {name}");
            }
        }
    };
}

replay_tests!(cloudtrail, criteria, rest_body, rest_uri, sigv4, intel_list, flow_log, dns_log);

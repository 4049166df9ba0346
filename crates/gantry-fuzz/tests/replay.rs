//! The fuzz targets' inputs replayed in the test suite: every seed is accepted by its reader
//! (so fuzzing starts from inputs that reach deep into it), and every committed regression input
//! — bytes that once crashed a reader — is read without a panic or an abort.

#[test]
fn every_seed_is_accepted_by_its_reader() {
    for t in gantry_fuzz::TARGETS {
        let seeds = gantry_fuzz::seeds(t.name);
        assert!(!seeds.is_empty(), "{}: no seeds", t.name);
        for (i, s) in seeds.iter().enumerate() {
            assert!((t.run)(s), "{}: seed {i} ({} bytes) refused", t.name, s.len());
        }
    }
}

#[test]
fn regression_inputs_are_read_without_crashing() {
    let mut replayed = 0;
    for t in gantry_fuzz::TARGETS {
        for (path, bytes) in gantry_fuzz::regressions(t.name) {
            // Accepted or refused: either is fine; a panic fails the test, an abort the binary.
            let _ = (t.run)(&bytes);
            eprintln!("{}: {} replayed", t.name, path.display());
            replayed += 1;
        }
    }
    let dirs =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions")).map_or(0, |d| d.count());
    assert!(dirs == 0 || replayed > 0, "regressions/ has folders but no inputs were replayed");
}

/// Every target that a regressions folder names exists (a renamed target would silently stop
/// replaying its inputs).
#[test]
fn regression_folders_name_targets() {
    if let Ok(rd) = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/regressions")) {
        for e in rd {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            assert!(gantry_fuzz::target(&name).is_some(), "regressions/{name}: no such target");
        }
    }
}

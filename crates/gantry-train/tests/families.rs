//! Every family gantry registers through the same checks (`gantry_train::harness`): two steps,
//! a bit-identical resume, each declared capability, and every `reg.*` switch and
//! `augment.diffaug` taking effect or refused by name. A family added to `Registry::builtin` is
//! checked here without a line of this file changing.
//!
//! One test, the families in turn: training seeds libtorch's one global generator, which two
//! threads would share.

use gantry_train::registry::Registry;

#[test]
fn every_registered_family_trains_resumes_exactly_and_does_what_it_declares() {
    let tmp = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for kind in Registry::builtin().kinds() {
        match gantry_train::harness::check(kind, tmp.path()) {
            Ok(report) => eprintln!("{report}"),
            Err(e) => failures.push(format!("{}: {e:?}", kind.arch)),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

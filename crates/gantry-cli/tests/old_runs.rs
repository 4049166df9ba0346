//! Run folders written by the gantry of before the reshaped core (`fixtures/make_old_runs.sh`,
//! commit 4639d95): today's gantry loads their configs and checkpoints, samples from them, and a
//! step-2 folder resumed to step 4 equals the old binary's own step 4 — the families train exactly
//! as they did. Bit for bit holds for one set of CPU kernels: on a machine with AVX-512,
//! libtorch's and oneDNN's dispatch pick kernels that round differently, so both the fixtures and
//! this test ask for the AVX2 ones (`CPU_KERNELS`). Even so, the fixtures' AMD EPYC and an Intel
//! Xeon round differently (same AVX2 code, presumably blocked by each CPU's caches): measured on the
//! Xeon, 378 of the tensors differ by at most 1.1e-6 of their largest value after two steps. So
//! every float tensor must equal the old one bit for bit or within 1e-5 of its largest value
//! (rounding, not a changed algorithm, which moves weights by far more after two steps), integer
//! tensors exactly, and the sample grid's pixels within one level; the test says which held.
use std::path::Path;

use gantry_core::checkpoint::Checkpoint;

mod common;
use common::{gantry, ok};

/// The kernels the fixtures were trained with (`make_old_runs.sh` sets the same).
const CPU_KERNELS: [(&str, &str); 2] = [("ATEN_CPU_CAPABILITY", "avx2"), ("ONEDNN_MAX_CPU_ISA", "AVX2")];

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        let to = dst.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_dir(&p, &to);
        } else {
            std::fs::copy(&p, &to).unwrap();
        }
    }
}

#[test]
fn old_run_folders_resume_to_what_the_old_binary_trained() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/old-runs");
    let tmp = tempfile::tempdir().unwrap();
    for family in ["dcgan", "acgan", "stylegan2"] {
        let run = tmp.path().join(family);
        copy_dir(&fixtures.join(format!("{family}-2")), &run);
        ok(gantry()
            .envs(CPU_KERNELS)
            .args(["train", "--resume"])
            .arg(&run)
            .args(["--steps", "4", "--device", "cpu"]));
        let new = Checkpoint::load(&run.join("checkpoints/step-0000004.safetensors")).unwrap();
        let old =
            Checkpoint::load(&fixtures.join(format!("{family}-4/checkpoints/step-0000004.safetensors")))
                .unwrap();
        assert_eq!(
            new.tensors.keys().collect::<Vec<_>>(),
            old.tensors.keys().collect::<Vec<_>>(),
            "{family}: the checkpoint's tensors"
        );
        let mut rounded = 0;
        for (name, t) in &old.tensors {
            let n = &new.tensors[name];
            if t.equal(n) {
                continue;
            }
            assert!(t.is_floating_point(), "{family}: {name} differs from the old binary's");
            let (t, n) = (t.to_kind(tch::Kind::Double), n.to_kind(tch::Kind::Double));
            let diff = (&t - &n).abs().max().double_value(&[]);
            let scale = t.abs().max().double_value(&[]).max(1e-12);
            assert!(
                diff <= 1e-5 * scale,
                "{family}: {name} differs from the old binary's by {diff:e} (scale {scale:e})"
            );
            rounded += 1;
        }
        eprintln!(
            "{family}: {} of {} tensors bit for bit, {rounded} within rounding",
            old.tensors.len() - rounded,
            old.tensors.len()
        );
        let grid = |p: &Path| image::open(p).unwrap().to_rgb8();
        let (a, b) = (
            grid(&run.join("samples/step-0000004.png")),
            grid(&fixtures.join(format!("{family}-4/samples/step-0000004.png"))),
        );
        assert_eq!(a.dimensions(), b.dimensions(), "{family}: the sample grid");
        let off = a.as_raw().iter().zip(b.as_raw()).filter(|(x, y)| x.abs_diff(**y) > 1).count();
        assert_eq!(off, 0, "{family}: the sample grid's pixels");
        // The old checkpoint itself (its embedded config is of the old schema) draws samples.
        let out = tmp.path().join(format!("{family}.png"));
        ok(gantry()
            .args(["sample", "--n", "4", "--device", "cpu", "--ckpt"])
            .arg(fixtures.join(format!("{family}-2/checkpoints/step-0000002.safetensors")))
            .arg("--out")
            .arg(&out));
        assert!(out.is_file());
    }
}

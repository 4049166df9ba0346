//! Run folders written by the gantry of before the reshaped core (`fixtures/make_old_runs.sh`,
//! commit 4639d95): today's gantry loads their configs and checkpoints, samples from them, and a
//! step-2 folder resumed to step 4 equals the old binary's own step 4 bit for bit — the families
//! train exactly as they did. Bit for bit holds for one set of CPU kernels: on a machine with
//! AVX-512, libtorch's and oneDNN's dispatch pick kernels that round differently, so both the
//! fixtures and this test ask for the AVX2 ones (`CPU_KERNELS`).

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
        for (name, t) in &old.tensors {
            assert!(t.equal(&new.tensors[name]), "{family}: {name} differs from the old binary's");
        }
        assert_eq!(
            std::fs::read(run.join("samples/step-0000004.png")).unwrap(),
            std::fs::read(fixtures.join(format!("{family}-4/samples/step-0000004.png"))).unwrap(),
            "{family}: the sample grid"
        );
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

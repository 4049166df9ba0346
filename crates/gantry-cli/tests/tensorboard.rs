//! The run's TensorBoard event files, read back by the `tensorboard` package's own reader
//! (`EventAccumulator`, from PyPI in the setup venv): every logged number as a scalar, the sample
//! grids as images, and a resumed run's events replacing what a stopped process logged past its
//! checkpoint.

use std::path::Path;

mod common;
use common::{gantry, ok};

const READER: &str = r#"
import json, sys, os
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
run = sys.argv[1]
ea = EventAccumulator(run, size_guidance={"images": 0, "scalars": 0})
ea.Reload()
tags = ea.Tags()
images = {}
for t in tags["images"]:
    images[t] = []
    for e in ea.Images(t):
        png = open(os.path.join(run, "samples", "step-%07d.png" % e.step), "rb").read()
        images[t].append([e.step, e.width, e.height, e.encoded_image_string == png])
print(json.dumps({
    "files": sorted(f for f in os.listdir(run) if "tfevents" in f),
    "scalars": {t: [[e.step, e.value] for e in ea.Scalars(t)] for t in tags["scalars"]},
    "images": images,
}))
"#;

fn read_events(run: &Path) -> serde_json::Value {
    let python = std::env::var("GANTRY_PYTHON").expect("GANTRY_PYTHON: a Python with tensorboard");
    let tmp = tempfile::tempdir().unwrap();
    let script = tmp.path().join("read.py");
    std::fs::write(&script, READER).unwrap();
    let out = std::process::Command::new(python).arg(&script).arg(run).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn train(out: &Path, steps: u64) -> std::process::Command {
    let log = ["log.every=5", "log.checkpoint_every=10", "log.sample_every=10", "log.keep_checkpoints=0"];
    common::tiny_dcgan(out, steps, &log)
}

/// Tests named `python::…` need GANTRY_PYTHON with the `tensorboard` package (`cargo xtask test`
/// provides it).
mod python {
    use super::*;

    #[test]
    #[ignore = "needs a Python with tensorboard in GANTRY_PYTHON (cargo xtask test sets it and runs this)"]
    fn tensorboard_reads_every_scalar_and_sample_grid_and_purges_after_a_resume() {
        let tmp = tempfile::tempdir().unwrap();
        let run = tmp.path().join("run");
        ok(&mut train(&run, 20));
        // A process that logged steps 15 and 20 but whose last checkpoint is step 10 (as if
        // killed before writing step 20's): the resumed run's event file starts at step 11, and
        // TensorBoard drops the first file's steps 15 and 20 for the new ones.
        std::fs::remove_file(run.join("checkpoints/step-0000020.safetensors")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1100)); // a new file name (seconds)
        ok(gantry().args(["train", "--resume"]).arg(&run).args(["--steps", "20"]));
        let v = read_events(&run);
        assert_eq!(v["files"].as_array().unwrap().len(), 2, "{v}");
        let metrics: Vec<serde_json::Value> = std::fs::read_to_string(run.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let keys: Vec<&String> = metrics[0].as_object().unwrap().keys().filter(|k| *k != "step").collect();
        assert!(keys.iter().any(|k| *k == "d_loss") && keys.iter().any(|k| *k == "sec_per_step"), "{keys:?}");
        for key in keys {
            let want: Vec<(u64, f32)> = metrics
                .iter()
                .map(|m| (m["step"].as_u64().unwrap(), m[key].as_f64().unwrap() as f32))
                .collect();
            let got: Vec<(u64, f32)> = v["scalars"][key]
                .as_array()
                .unwrap_or_else(|| panic!("no scalar '{key}': {v}"))
                .iter()
                .map(|e| (e[0].as_u64().unwrap(), e[1].as_f64().unwrap() as f32))
                .collect();
            assert_eq!(got, want, "{key}: TensorBoard vs metrics.jsonl");
        }
        let images = v["images"]["samples"].as_array().unwrap();
        let steps: Vec<u64> = images.iter().map(|e| e[0].as_u64().unwrap()).collect();
        assert_eq!(steps, vec![10, 20]);
        for e in images {
            assert_eq!((e[1].as_u64(), e[2].as_u64()), (Some(274), Some(274)), "{e}");
            assert_eq!(e[3], true, "the image is the sample grid's PNG, byte for byte");
        }
    }
}

#[test]
fn log_tensorboard_false_writes_no_event_file() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    ok(train(&run, 5).args(["--set", "log.tensorboard=false"]));
    let files: Vec<String> =
        std::fs::read_dir(&run).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert!(files.iter().all(|f| !f.contains("tfevents")), "{files:?}");
    assert!(files.contains(&"metrics.jsonl".to_string()));
}

//! `cargo xtask repro few-shot`: training on few images, three ways at the same budget — no
//! augmentation, DiffAugment, ADA — and the leak check.
//!
//! The data: 500 digits, every tenth of the embedded mnist-5k (50 per class), written as a PNG
//! folder (`data/`, what a user's folder looks like); the other 4,500 are held out. `dcgan-mnist`
//! trains on the 500 with batch 64; every `every` steps the checkpoint is measured:
//!
//! - FID of 2,000 samples (fixed latents) against the 4,500 held-out digits, in the features of
//!   gantry's MNIST classifier;
//! - D's mean raw score on the 500 training digits, on 500 held-out digits and on the samples,
//!   un-augmented, in training mode on batches of 64 as D sees them: the ADA paper's Figure 1 —
//!   an overfitting D scores its training reals higher than held-out ones;
//! - ADA's p (and r_t) from `metrics.jsonl`.
//!
//! ADA uses their target 0.6 with `ada_kimg = 100` (their `train.py`'s value when fine-tuning,
//! "to react faster"; the default 500 would let p rise by at most 0.38 in 3,000 steps of 64). The leak check trains ADA's `blit` pipe (x-flips,
//! 90° rotations, integer shifts) at fixed p = 0.5 and p = 0.9: past p ≈ 0.8 G can learn to draw
//! what the augmentation makes (the paper's non-leaking condition); the samples grid, the MNIST
//! classifier's confidence on the samples and the share of samples it reads better turned or
//! mirrored ([`turned_share`]) show whether it did.
//!
//! Writes `few-shot.png` (FID, D's train − held-out gap, p), `few-shot_samples.png` (a row of
//! samples per run), `summary.json`, `summary.md`. `--check`: 4 steps, measured at 2 and 4, 200
//! samples, ranges checked.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use serde_json::{json, Value};
use tch::nn::{ModuleT, VarStore};
use tch::{Kind, Tensor};

use crate::chart::{save, Panel, Series, COLORS};
pub use crate::Options;
use gantry_train::recipes::gan::DcganRun;

/// (name, what, `--set` lines): the runs, the three ways first.
const RUNS: [(&str, &str, &[&str]); 5] = [
    ("none", "no augmentation", &[]),
    ("diffaug", "DiffAugment color,translation,cutout", &["augment.diffaug=\"color,translation,cutout\""]),
    ("ada", "ADA bgc, target 0.6", &["augment.ada_target=0.6", "augment.ada_kimg=100"]),
    ("blit-0.5", "ADA blit, fixed p = 0.5", &["augment.pipe=\"blit\"", "augment.p=0.5"]),
    ("blit-0.9", "ADA blit, fixed p = 0.9", &["augment.pipe=\"blit\"", "augment.p=0.9"]),
];

/// The 500 training digits (every tenth) as class folders of PNGs under `dir`, and the other
/// 4,500: (training u8 images, held-out u8 images), `[N, 1, 28, 28]`.
fn split(dir: &Path) -> Result<(Tensor, Tensor)> {
    let all = gantry_data::load("mnist-5k", &gantry_data::LoadOptions::default())?;
    let labels = all.labels.as_ref().context("mnist-5k has labels")?;
    let n = all.images.size()[0];
    let (mut train, mut held) = (Vec::new(), Vec::new());
    for i in 0..n {
        if i % 10 == 0 {
            train.push(i);
        } else {
            held.push(i);
        }
    }
    for &i in &train {
        let class = labels.int64_value(&[i]);
        gantry_core::image::save_png(
            &all.images.get(i),
            &dir.join(class.to_string()).join(format!("{i:04}.png")),
        )?;
    }
    let pick = |idx: &[i64]| all.images.index_select(0, &Tensor::from_slice(idx));
    Ok((pick(&train), pick(&held)))
}

/// u8 28×28 digits as D's input: centred on a black 32×32 canvas (the loader's `pad`), in [−1, 1].
fn as_input(x: &Tensor) -> Tensor {
    x.constant_pad_nd([2, 2, 2, 2]).to_kind(Kind::Float) / 127.5 - 1.0
}

/// D of `ck` (a dcgan run of `cfg`) built and loaded.
fn discriminator(
    cfg: &gantry_train::config::RunConfig,
    ck: &Path,
    o: &Options,
) -> Result<(VarStore, Box<dyn ModuleT>)> {
    let model = &cfg.settings::<DcganRun>()?.model;
    let mut vs = VarStore::new(o.device);
    let d: Box<dyn ModuleT> = Box::new(gantry_dcgan::dcgan::discriminator(vs.root(), model));
    let saved = gantry_core::checkpoint::Checkpoint::load(ck)?;
    tch::no_grad(|| -> Result<()> {
        for (name, mut v) in vs.variables() {
            let t = saved
                .tensors
                .get(&format!("d.{name}"))
                .with_context(|| format!("{}: no d.{name}", ck.display()))?;
            v.copy_(&t.to_device(o.device));
        }
        Ok(())
    })?;
    vs.freeze();
    Ok((vs, d))
}

/// D's mean raw score over `x` (in [−1, 1]), in training mode on batches of 64.
fn mean_score(d: &dyn ModuleT, x: &Tensor) -> f64 {
    tch::no_grad(|| {
        let scores: Vec<Tensor> =
            x.split(64, 0).iter().map(|b| d.forward_t(b, true).flatten(0, -1)).collect();
        Tensor::cat(&scores, 0).mean(Kind::Float).double_value(&[])
    })
}

/// The leak measure: the share of digits `x` (u8) that the classifier reads more confidently
/// turned by 90°, 180° or 270° or mirrored than as they are. Real digits have a base rate (6 and 9
/// swap under 180°; 0, 1 and 8 are nearly symmetric); a G that learnt blit's flips and rotations
/// draws turned digits, and the share rises above that rate.
fn turned_share(classifier: &gantry_metrics::classifier::Classifier, x: &Tensor) -> Result<f64> {
    let confidence = |t: &Tensor| -> Result<Tensor> {
        Ok(classifier.features_and_logits(t)?.1.softmax(-1, Kind::Float).amax([1], false))
    };
    let plain = confidence(x)?;
    let turned = [x.rot90(1, [2, 3]), x.rot90(2, [2, 3]), x.rot90(3, [2, 3]), x.flip([3])]
        .iter()
        .map(confidence)
        .collect::<Result<Vec<_>>>()?;
    let best = Tensor::stack(&turned, 0).amax([0], false);
    Ok(best.gt_tensor(&plain).to_kind(Kind::Float).mean(Kind::Float).double_value(&[]))
}

/// Runs the figure; returns the summary written to `summary.json`.
pub fn run(o: &Options) -> Result<Value> {
    std::fs::create_dir_all(&o.out).with_context(|| format!("cannot create {}", o.out.display()))?;
    let (steps, every, n) = if o.check { (4u64, 2u64, 200usize) } else { (3000, 500, 2000) };
    let data = o.out.join("data");
    crate::clear(&data)?;
    let (train, held) = split(&data)?;
    let classifier = gantry_metrics::classifier::Classifier::builtin("mnist", o.device)?;
    let held_feats = classifier.features_and_logits(&held)?.0;
    let (mu, sigma) = crate::feature_stats(&held_feats)?;
    let (train_x, held_x) =
        (as_input(&train).to_device(o.device), as_input(&held.narrow(0, 0, 500)).to_device(o.device));

    let heldout_turned = turned_share(&classifier, &held)?;
    let mut runs = Vec::new();
    let mut grid_rows = Vec::new();
    for (name, what, sets) in RUNS {
        let mut cfg = crate::short_run("dcgan-mnist", &data.display().to_string(), steps)?;
        cfg.log.checkpoint_every = every;
        cfg.log.keep_checkpoints = 0;
        cfg.log.tensorboard = false;
        let cfg = cfg.with_overrides(&sets.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
        let dir = o.out.join(name);
        crate::trained(cfg.clone(), &dir, o)?;
        let run_dir = gantry_train::run_dir::RunDir::new(&dir);
        let seconds = run_dir.metric_values("elapsed_sec")?.get(&steps).copied().unwrap_or(f64::NAN);
        let (p, rt) = (run_dir.metric_values("ada_p")?, run_dir.metric_values("ada_rt")?);
        let mut points = Vec::new();
        for step in (every..=steps).step_by(every as usize) {
            let ck = run_dir.checkpoint(step);
            let model = gantry_train::capability::Model::load(&ck, o.device)?;
            let g = model.sampler()?;
            let fake = g.generate(&gantry_core::latent::latents(n, g.z_dim(), 5, "repro-few-shot"));
            let (feats, logits) = classifier.features_and_logits(&gantry_core::image::to_u8(&fake))?;
            let (m, s) = crate::feature_stats(&feats)?;
            let fid = gantry_metrics::frechet_distance(&m, &s, &mu, &sigma)?;
            let confidence =
                logits.softmax(-1, Kind::Float).amax([1], false).mean(Kind::Float).double_value(&[]);
            let turned = turned_share(&classifier, &gantry_core::image::to_u8(&fake))?;
            let (_vs, d) = discriminator(&cfg, &ck, o)?;
            let (d_train, d_held, d_fake) = (
                mean_score(d.as_ref(), &train_x),
                mean_score(d.as_ref(), &held_x),
                mean_score(d.as_ref(), &fake),
            );
            ensure!(
                fid.is_finite()
                    && [d_train, d_held, d_fake].iter().all(|v| v.is_finite())
                    && (0.0..=1.0).contains(&confidence)
                    && (0.0..=1.0).contains(&turned),
                "{name} at step {step}: FID {fid}, D {d_train}/{d_held}/{d_fake}, confidence {confidence}, turned {turned}"
            );
            points.push(json!({
                "step": step, "fid": fid, "confidence": confidence, "turned": turned,
                "d_train": d_train, "d_heldout": d_held, "d_fake": d_fake,
                "p": p.get(&step), "rt": rt.get(&step),
            }));
            if step == steps {
                grid_rows.push(fake.narrow(0, 0, 10));
            }
        }
        runs.push(json!({ "name": name, "what": what, "seconds": seconds, "points": points }));
    }
    if let Some(ada) = runs.iter().find(|r| r["name"] == "ada") {
        ensure!(
            ada["points"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|pt| pt["p"].as_f64().is_some_and(|p| p >= 0.0)),
            "ADA's p missing or negative: {ada}"
        );
    }

    let series = |key: &str, names: &[&str], f: &dyn Fn(&Value) -> f64| -> Vec<Series> {
        runs.iter()
            .filter(|r| names.contains(&r["name"].as_str().unwrap_or_default()))
            .enumerate()
            .map(|(i, r)| {
                let pts = r["points"].as_array().into_iter().flatten();
                let xy = pts.map(|pt| (pt["step"].as_f64().unwrap_or(0.0), f(pt))).collect();
                Series::line(
                    format!("{} {key}", r["name"].as_str().unwrap_or_default()).trim().to_string(),
                    xy,
                    COLORS[i % COLORS.len()],
                )
            })
            .collect()
    };
    let three = ["none", "diffaug", "ada"];
    let num = |pt: &Value, k: &str| pt[k].as_f64().unwrap_or(f64::NAN);
    save(
        &o.out.join("few-shot.png"),
        &[
            Panel {
                title: "FID vs 4,500 held-out digits (MNIST-classifier features)".into(),
                x_label: "step".into(),
                y_label: "FID".into(),
                series: series("", &three, &|pt| num(pt, "fid")),
                ..Default::default()
            },
            Panel {
                title: "D's score: training digits − held-out digits".into(),
                x_label: "step".into(),
                y_label: "mean raw score gap".into(),
                series: series("", &three, &|pt| num(pt, "d_train") - num(pt, "d_heldout")),
                ..Default::default()
            },
            Panel {
                title: "ADA's p".into(),
                x_label: "step".into(),
                y_label: "p".into(),
                series: series("p", &["ada"], &|pt| num(pt, "p")),
                ..Default::default()
            },
        ],
        3,
        (520, 400),
    )?;
    gantry_core::image::save_grid(&Tensor::cat(&grid_rows, 0), 10, &o.out.join("few-shot_samples.png"))?;
    let summary = json!({
        "check": o.check, "steps": steps, "every": every, "samples": n,
        "train_images": train.size()[0], "heldout_images": held.size()[0],
        "heldout_turned": heldout_turned, "runs": runs,
    });
    crate::write_summary(&o.out, &summary, markdown)?;
    Ok(summary)
}

fn markdown(s: &Value) -> String {
    let mut md = format!(
        "# repro few-shot\n\ndcgan-mnist on {} digits (every tenth of mnist-5k), batch 64, {} steps; FID of {} samples against the {} held-out digits (MNIST-classifier features); D's mean raw score on the training digits, 500 held-out digits and the samples; turned: the share of samples the MNIST classifier reads more confidently turned (90°, 180°, 270°) or mirrored ({:.3} for the held-out digits).\n\n| run | step | FID | D train | D held-out | gap | D fake | p | classifier confidence | turned |\n|---|---|---|---|---|---|---|---|---|---|\n",
        s["train_images"], s["steps"], s["samples"], s["heldout_images"], s["heldout_turned"].as_f64().unwrap_or(f64::NAN)
    );
    for r in s["runs"].as_array().into_iter().flatten() {
        for pt in r["points"].as_array().into_iter().flatten() {
            let v = |k: &str| pt[k].as_f64().unwrap_or(f64::NAN);
            let p = pt["p"].as_f64().map(|p| format!("{p:.3}")).unwrap_or_else(|| "–".into());
            md += &format!(
                "| {} | {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {p} | {:.3} | {:.3} |\n",
                r["what"].as_str().unwrap_or_default(),
                pt["step"],
                v("fid"),
                v("d_train"),
                v("d_heldout"),
                v("d_train") - v("d_heldout"),
                v("d_fake"),
                v("confidence"),
                v("turned"),
            );
        }
    }
    md += "\nSeconds per run: ";
    let times: Vec<String> = s["runs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            format!("{} {:.0}", r["name"].as_str().unwrap_or_default(), r["seconds"].as_f64().unwrap_or(0.0))
        })
        .collect();
    md += &times.join(", ");
    md.push('\n');
    md
}

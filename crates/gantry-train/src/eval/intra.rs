//! Intra-FID of a class-conditional model (Miyato & Koyama 2018, §5; StudioGAN's intra-class FID):
//! for every class c, the FID between the model's samples of class c and the real images of class
//! c, and their mean; with the class accuracy of those samples under a domain classifier, in one
//! pass over the samples.

use crate::error::{bail, Context, Result};
use gantry_metrics::classifier::Classifier;
use gantry_metrics::FeatureStats;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use crate::capability::Model;
use crate::generate::latents;

use super::{subset, EvalOptions, Extractor};

/// Intra-FID of `model` against the labelled data `real` (a dataset spec as `gantry eval` takes,
/// `name@split` included; prepared as the model saw its training data). Each class's real side is
/// its images in the split (a seeded subset of at most `opts.n` when given), its fake side as many
/// samples of that class (latents seeded by `opts.seed`, one stream per class). `classifier`, when
/// given, reads each sample's class: accuracy overall and per class. Returns the JSON result with
/// its protocol (the caller adds the features' own).
pub fn intra_fid(
    model: &Model,
    real: &str,
    ex: &Extractor,
    classifier: Option<(&str, &Classifier)>,
    opts: &EvalOptions,
) -> Result<Value> {
    let c = model.class_sampler().with_context(|| {
        format!(
            "intra-FID compares class by class: {} holds no class-conditional model",
            model.path.display()
        )
    })?;
    let k = c.classes();
    let z_dim = model.sampler()?.z_dim();
    let mut lo = super::sources::data_options(Some(&model.cfg));
    let spec = match real.rsplit_once('@') {
        Some((name, split)) => {
            lo.split = split.parse().map_err(|e| crate::error::err!("'{real}': {e}"))?;
            name.to_string()
        }
        None => real.to_string(),
    };
    let ds = gantry_data::load(&spec, &lo)?;
    let labels = ds.labels.as_ref().with_context(|| {
        format!("intra-FID needs the class of every real image; {} has no labels", ds.name)
    })?;
    let labels: Vec<i64> = Vec::try_from(&labels.to_kind(Kind::Int64))?;
    let (mut fids, mut counts, mut hits) = (Vec::new(), Vec::new(), Vec::new());
    for class in 0..k {
        let of_class: Vec<i64> =
            labels.iter().enumerate().filter(|(_, &l)| l == class).map(|(i, _)| i as i64).collect();
        if of_class.len() < 2 {
            bail!(
                "intra-FID: class {class} has {} real images in {} (at least 2 are needed)",
                of_class.len(),
                ds.name
            );
        }
        let keep = subset(of_class.len(), opts.n, opts.seed);
        let idx: Vec<i64> = keep.iter().map(|&i| of_class[i as usize]).collect();
        let n = idx.len();
        let mut real_stats = FeatureStats::new();
        for chunk in idx.chunks(opts.batch as usize) {
            real_stats.update(&ex.run(&ds.images.index_select(0, &Tensor::from_slice(chunk)))?.0)?;
        }
        let mut fake_stats = FeatureStats::new();
        let mut correct = 0i64;
        let z = latents(n, z_dim, opts.seed, &format!("intra-fid-{class}"));
        for zb in z.split(opts.batch, 0) {
            let y = Tensor::full([zb.size()[0]], class, (Kind::Int64, Device::Cpu));
            let x = gantry_core::image::to_u8(&c.generate_class(&zb, &y)?).to_device(Device::Cpu);
            fake_stats.update(&ex.run(&x)?.0)?;
            if let Some((_, net)) = classifier {
                let pred = net.predict(&x)?.to_device(Device::Cpu);
                correct += pred.eq(class).sum(Kind::Int64).int64_value(&[]);
            }
        }
        let fid = gantry_metrics::frechet_distance(
            &real_stats.mean()?,
            &real_stats.cov()?,
            &fake_stats.mean()?,
            &fake_stats.cov()?,
        )?;
        fids.push(fid);
        counts.push(n);
        hits.push(correct as f64 / n as f64);
    }
    let mean = fids.iter().sum::<f64>() / k as f64;
    let total: usize = counts.iter().sum();
    let mut out = json!({
        "metric": "intra-fid",
        "intra_fid": mean,
        "per_class": fids,
        "class_counts": counts,
        "real": format!("{} ({} split, {} labelled images)", ds.name, serde_json::to_value(lo.split)?.as_str().unwrap_or("?"), labels.len()),
        "fake": format!("{} ({total} samples: each class as many as its real side, seed {})", model.path.display(), opts.seed),
        "seed": opts.seed,
    });
    match classifier {
        Some((name, _)) => {
            let weighted: f64 =
                hits.iter().zip(&counts).map(|(h, &n)| h * n as f64).sum::<f64>() / total as f64;
            out["accuracy"] = json!(weighted);
            out["accuracy_per_class"] = json!(hits);
            out["classifier"] = json!(name);
        }
        None => out["accuracy"] = Value::Null,
    }
    Ok(out)
}

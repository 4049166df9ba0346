//! The distances and scores between two sides (FID, KID, IS, PRDC), as JSON with their protocol.

use crate::error::{bail, Context, Result};
use gantry_metrics::{KidConfig, PrdcConfig};
use serde_json::{json, Value};
use tch::{Kind, Tensor};

use super::Side;

fn need_features<'a>(s: &'a Side, metric: &str) -> Result<&'a Tensor> {
    s.features
        .as_ref()
        .with_context(|| format!("{metric} needs feature vectors; {} holds only statistics", s.label))
}

/// Computes `metric` (fid, kid, is, prdc); returns a JSON object with the numbers and protocol.
/// `features` names the network that made them (None: precomputed inputs that do not say).
pub fn compute(
    metric: &str,
    real: Option<&Side>,
    fake: &Side,
    features: Option<&str>,
    kid_cfg: &KidConfig,
) -> Result<Value> {
    let dim = fake.stats.as_ref().map(|(m, _)| m.size()[0]).or(fake.features.as_ref().map(|f| f.size()[1]));
    let mut out = json!({
        "metric": metric,
        "features": features,
        "feature_dim": dim,
        "fake": fake.label,
        "fake_count": fake.count,
    });
    if let Some(r) = real {
        out["real"] = json!(r.label);
        out["real_count"] = json!(r.count);
    }
    let need_real = || real.context("this metric needs --real");
    match metric {
        "fid" => {
            let r = need_real()?;
            let (m1, s1) = r.stats.as_ref().context("real side has fewer than 2 samples")?;
            let (m2, s2) = fake.stats.as_ref().context("fake side has fewer than 2 samples")?;
            out["fid"] = json!(gantry_metrics::frechet_distance(m1, s1, m2, s2)?);
        }
        "kid" => {
            let k = gantry_metrics::kid(
                need_features(need_real()?, "KID")?,
                need_features(fake, "KID")?,
                kid_cfg,
            )?;
            out["kid"] = json!(k.mean);
            out["kid_std"] = json!(k.std);
            out["kid_subsets"] = json!(k.subsets);
            out["kid_subset_size"] = json!(k.subset_size);
        }
        "is" => {
            let logits = fake.logits.as_ref().context(
                "IS needs class logits: the FID Inception TorchScript has no classifier head (use --features mnist or fashion-mnist, or --inception FILE with pytorch-fid's full weights converted by scripts/convert_pytorch_fid_inception.py)",
            )?;
            let s = gantry_metrics::inception_score(logits, 10)?;
            out["is"] = json!(s.mean);
            out["is_std"] = json!(s.std);
        }
        "prdc" => {
            let p = gantry_metrics::prdc(
                need_features(need_real()?, "PRDC")?,
                need_features(fake, "PRDC")?,
                &PrdcConfig::default(),
            )?;
            out["precision"] = json!(p.precision);
            out["recall"] = json!(p.recall);
            out["density"] = json!(p.density);
            out["coverage"] = json!(p.coverage);
        }
        other => bail!("unknown metric '{other}': expected fid, kid, is or prdc"),
    }
    Ok(out)
}

/// Mean and covariance of `features` `[N, d]`, as f32 tensors (for `--save-stats`).
pub fn stats_of(side: &Side) -> Option<(Tensor, Tensor)> {
    side.stats.as_ref().map(|(m, s)| (m.to_kind(Kind::Double), s.to_kind(Kind::Double)))
}

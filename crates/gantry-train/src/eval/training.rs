//! FID during training.

use crate::error::{bail, Context, Result};
use gantry_metrics::FeatureStats;
use tch::{Device, Tensor};

use crate::config::RunConfig;
use crate::data::Source;
use crate::family::Family;
use crate::generate::latents;

use super::{default_batch, draw, subset, EvalInputs, Extractor};

/// FID during training: the real statistics once, then samples from fixed latents (or
/// translations of fixed inputs).
#[derive(Debug)]
pub struct TrainingEval {
    ex: Extractor,
    mu: Tensor,
    sigma: Tensor,
    inputs: EvalInputs,
    batch: i64,
    protocol: serde_json::Value,
}

/// The file of a run folder that records how its FID during training is measured.
pub const PROTOCOL_FILE: &str = "eval-protocol.json";

impl TrainingEval {
    /// Real statistics of up to 10,000 images of `images` (u8, a seeded subset) and `cfg.eval.n`
    /// fixed latents, or the first `n` inputs of paired data. In a data-parallel run only rank 0
    /// computes the real statistics (it alone computes the distance).
    pub fn new(
        cfg: &RunConfig,
        images: &Tensor,
        data: &Source,
        family: &dyn Family,
        device: Device,
    ) -> Result<Self> {
        let ex = Extractor::load(&cfg.eval.features, device)?.with_resize(cfg.eval.resize_mode()?)?;
        let batch = default_batch(device);
        let idx = subset(images.size()[0] as usize, Some(10_000), cfg.seed);
        let protocol = Self::describe(cfg, &ex, idx.len(), data, family)?;
        let mut stats = FeatureStats::new();
        let idx = if gantry_core::parallel::shard().0 == 0 { idx } else { Vec::new() };
        for c in idx.chunks(batch as usize) {
            stats.update(&ex.run(&images.index_select(0, &Tensor::from_slice(c)))?.0)?;
        }
        if idx.is_empty() {
            let none = Tensor::zeros([0], (tch::Kind::Double, Device::Cpu));
            return Ok(Self {
                ex,
                mu: none.shallow_clone(),
                sigma: none,
                inputs: Self::inputs(cfg, data, family)?,
                batch,
                protocol,
            });
        }
        let inputs = Self::inputs(cfg, data, family)?;
        Ok(Self { ex, mu: stats.mean()?, sigma: stats.cov()?, inputs, batch, protocol })
    }

    /// The protocol of the number, as `gantry eval`'s results record theirs: the feature network
    /// and its resize, both sides with their sample counts, the fakes' seed, and the small-n
    /// warning when it applies.
    fn describe(
        cfg: &RunConfig,
        ex: &Extractor,
        reals: usize,
        data: &Source,
        family: &dyn Family,
    ) -> Result<serde_json::Value> {
        let translates = data.translation_inputs(family, 1).is_some();
        let fakes = if translates {
            format!("translations of the first {} held-out inputs", cfg.eval.n)
        } else {
            format!(
                "{} fixed latents (seed {}, stream eval-during-training), no truncation",
                cfg.eval.n, cfg.seed
            )
        };
        let mut p = serde_json::json!({
            "metric": format!("fid_{}", ex.name()),
            "every": cfg.eval.every,
            "real": {
                "data": cfg.data,
                "split": serde_json::to_value(cfg.loader.split).unwrap_or_default(),
                "n": reals,
                "subset": format!("up to 10,000 images, a subset drawn with seed {}", cfg.seed),
            },
            "fake": { "n": cfg.eval.n, "from": fakes, "generator": "the model's sampling generator (its EMA copy where it keeps one), eval mode" },
        });
        let obj = p.as_object_mut().expect("an object");
        if let serde_json::Value::Object(features) = ex.protocol()? {
            obj.extend(features);
        }
        let n = reals.min(cfg.eval.n);
        if n < 10_000 {
            obj.insert(
                "warning".into(),
                format!(
                    "FID from {n} samples on a side is biased upward (it falls as n grows): compare it only with FIDs at the same counts, or measure KID (gantry eval kid)"
                )
                .into(),
            );
        }
        Ok(p)
    }

    /// Writes [`PROTOCOL_FILE`] into the run folder `dir`, atomically.
    pub fn write_protocol(&self, dir: &std::path::Path) -> Result<()> {
        let text = serde_json::to_string_pretty(&self.protocol)?;
        gantry_core::fs::write_atomic(&dir.join(PROTOCOL_FILE), text.as_bytes())?;
        Ok(())
    }

    fn inputs(cfg: &RunConfig, data: &Source, family: &dyn Family) -> Result<EvalInputs> {
        Ok(match data.translation_inputs(family, cfg.eval.n) {
            Some((a, _)) => EvalInputs::Inputs(a),
            _ => {
                let s = family.sampler().context("FID during training needs a model that draws samples")?;
                EvalInputs::Latents(latents(cfg.eval.n, s.z_dim(), cfg.seed, "eval-during-training"))
            }
        })
    }

    /// The metric's name in `metrics.jsonl`.
    pub fn key(&self) -> String {
        format!("fid_{}", self.ex.name())
    }

    /// FID of the model's current samples (eval mode; no training state is touched). In a
    /// data-parallel run every rank calls it: each draws and embeds its rows of the fixed inputs,
    /// the features are gathered, and rank 0's value is the run's (the others get None).
    pub fn fid(&self, family: &dyn Family, dist: Option<&crate::dist::Dist>) -> Result<Option<f64>> {
        let mut stats = FeatureStats::new();
        match dist {
            None => {
                for x in draw(family, &self.inputs, self.batch)? {
                    stats.update(&self.ex.run(&gantry_core::image::to_u8(&x))?.0)?;
                }
            }
            Some(d) => {
                let n = self.inputs.len();
                let (start, len) = gantry_core::parallel::rows(n);
                if len == 0 {
                    bail!("eval.n = {n} is below the number of data-parallel ranks ({})", d.world());
                }
                let mut local = Vec::new();
                for x in draw(family, &self.inputs.rows(start, len), self.batch)? {
                    local.push(self.ex.run(&gantry_core::image::to_u8(&x))?.0);
                }
                let all = d.gather_rows(&Tensor::cat(&local, 0), n)?;
                if !d.writes() {
                    return Ok(None);
                }
                for chunk in all.split(self.batch, 0) {
                    stats.update(&chunk)?;
                }
            }
        }
        Ok(Some(gantry_metrics::frechet_distance(&self.mu, &self.sigma, &stats.mean()?, &stats.cov()?)?))
    }
}

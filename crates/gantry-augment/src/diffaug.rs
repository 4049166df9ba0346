//! DiffAugment (Zhao, Liu, Lin, Zhu, Han 2020): cheap, differentiable transformations of every
//! image D sees, real and fake, in D's step and in G's.
//!
//! Each policy is the authors' PyTorch function (`DiffAugment_pytorch.py`) with its constants:
//!
//! | policy | what it does to each image (one draw per image) |
//! |---|---|
//! | `color` | brightness `x + (u − ½)`; saturation `(x − mean_c) · 2u + mean_c`; contrast `(x − mean) · (u + ½) + mean` (three draws `u ~ U[0, 1)`) |
//! | `translation` | an integer shift of up to ⌊H/8⌋ rows and ⌊W/8⌋ columns each way, zero-filled |
//! | `cutout` | a ⌊H/2⌋ × ⌊W/2⌋ square set to zero, centred anywhere on the image (clipped at its edges) |
//!
//! The draws are taken from libtorch's generator in the authors' order (brightness, saturation,
//! contrast, row shifts, column shifts, cutout rows, cutout columns; policies in the order given),
//! through [`gantry_core::parallel`]: with one process and the same seed, the output equals
//! their function's bit for bit up to floating-point rounding.

use std::fmt;
use std::str::FromStr;

use gantry_core::parallel;
use tch::{Device, Kind, Tensor};

/// One of DiffAugment's policies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Policy {
    /// Brightness, saturation and contrast.
    Color,
    /// An integer translation by up to 1/8 of the image, zero-padded.
    Translation,
    /// A half-size square of zeros.
    Cutout,
}

impl Policy {
    /// Every policy, in the authors' usual order (`color,translation,cutout`).
    pub const ALL: [Policy; 3] = [Policy::Color, Policy::Translation, Policy::Cutout];

    /// The name a config uses.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Color => "color",
            Policy::Translation => "translation",
            Policy::Cutout => "cutout",
        }
    }
}

/// A policy list that names something else, or a policy twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// A name that is not a policy.
    #[error(
        "unknown DiffAugment policy '{0}': expected a comma-separated subset of color, translation, cutout"
    )]
    Unknown(String),
    /// A policy listed twice.
    #[error("DiffAugment policy '{0}' is listed twice")]
    Repeated(&'static str),
}

/// The policies to apply, in order (empty: none). A config writes it as the authors' string,
/// `"color,translation,cutout"` (any subset, in any order; `""` for none).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct DiffAugment {
    policies: Vec<Policy>,
}

impl DiffAugment {
    /// Applies `policies` in this order.
    pub fn new(policies: &[Policy]) -> Result<Self, PolicyError> {
        for (i, p) in policies.iter().enumerate() {
            if policies[..i].contains(p) {
                return Err(PolicyError::Repeated(p.name()));
            }
        }
        Ok(Self { policies: policies.to_vec() })
    }

    /// The policies, in the order they apply.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// Whether no policy is on (then [`DiffAugment::apply`] returns its input).
    pub fn is_empty(&self) -> bool {
        self.policies.is_empty()
    }

    /// `x` `[N, C, H, W]` (any range; float) augmented image by image, differentiably in `x`,
    /// with fresh draws from libtorch's generator.
    pub fn apply(&self, x: &Tensor) -> Tensor {
        let mut x = x.shallow_clone();
        for p in &self.policies {
            x = match p {
                Policy::Color => contrast(&saturation(&brightness(&x))),
                Policy::Translation => translation(&x),
                Policy::Cutout => cutout(&x),
            };
        }
        x
    }
}

impl FromStr for DiffAugment {
    type Err = PolicyError;

    fn from_str(s: &str) -> Result<Self, PolicyError> {
        let policies = s
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(|name| {
                Policy::ALL
                    .into_iter()
                    .find(|p| p.name() == name)
                    .ok_or_else(|| PolicyError::Unknown(name.into()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(&policies)
    }
}

impl fmt::Display for DiffAugment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.policies.iter().map(|p| p.name()).collect();
        f.write_str(&names.join(","))
    }
}

impl serde::Serialize for DiffAugment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for DiffAugment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One U[0, 1) draw per image, shaped `[N, 1, 1, 1]` like `x`'s kind.
fn per_image(x: &Tensor) -> Tensor {
    parallel::rand(&[x.size()[0], 1, 1, 1], (x.kind(), x.device()))
}

/// The authors' `rand_brightness`: `x + (u − 0.5)`.
fn brightness(x: &Tensor) -> Tensor {
    x + (per_image(x) - 0.5)
}

/// The authors' `rand_color` (a saturation change): `(x − mean over channels) · 2u + mean`.
fn saturation(x: &Tensor) -> Tensor {
    let mean = x.mean_dim(&[1i64][..], true, None::<Kind>);
    (x - &mean) * (per_image(x) * 2.0) + mean
}

/// The authors' `rand_contrast`: `(x − mean over the image) · (u + 0.5) + mean`.
fn contrast(x: &Tensor) -> Tensor {
    let mean = x.mean_dim(&[1i64, 2, 3][..], true, None::<Kind>);
    (x - &mean) * (per_image(x) + 0.5) + mean
}

/// Integers in `low..high`, one per image, shaped `[N, 1, 1]` (torch's `randint(low, high)`:
/// the same generator values as `randint(high − low)`, shifted).
fn per_image_int(n: i64, low: i64, high: i64, device: Device) -> Tensor {
    parallel::randint(high - low, &[n, 1, 1], (Kind::Int64, device)) + low
}

/// `(batch, rows, cols)` index grids `[N, h, w]`, as `torch.meshgrid` with `ij` indexing.
fn grids(n: i64, h: i64, w: i64, device: Device) -> (Tensor, Tensor, Tensor) {
    let opts = (Kind::Int64, device);
    let b = Tensor::arange(n, opts).view([n, 1, 1]).expand([n, h, w], false);
    let r = Tensor::arange(h, opts).view([1, h, 1]).expand([n, h, w], false);
    let c = Tensor::arange(w, opts).view([1, 1, w]).expand([n, h, w], false);
    (b, r, c)
}

/// The authors' `rand_translation` (ratio 1/8): each image moved by up to ⌊H/8⌋ rows and ⌊W/8⌋
/// columns, the uncovered border zero.
fn translation(x: &Tensor) -> Tensor {
    let (n, h, w) = (x.size()[0], x.size()[2], x.size()[3]);
    let (sh, sw) = (h / 8, w / 8);
    let device = x.device();
    let tr = per_image_int(n, -sh, sh + 1, device);
    let tc = per_image_int(n, -sw, sw + 1, device);
    let (gb, gr, gc) = grids(n, h, w, device);
    let gr = (gr + tr + 1).clamp(0, h + 1);
    let gc = (gc + tc + 1).clamp(0, w + 1);
    let padded = x.constant_pad_nd([1, 1, 1, 1]);
    // padded[b, :, r, c] for every (b, r, c): [N, H, W, C].
    padded.index(&[Some(gb), None, Some(gr), Some(gc)]).permute([0, 3, 1, 2])
}

/// The authors' `rand_cutout` (ratio 1/2): a ⌊H/2⌋ × ⌊W/2⌋ square of zeros per image, its
/// centre anywhere on the image (an odd size's centre one short of the far edge), clipped.
fn cutout(x: &Tensor) -> Tensor {
    let (n, h, w) = (x.size()[0], x.size()[2], x.size()[3]);
    let (ch, cw) = (h / 2, w / 2);
    let device = x.device();
    let or = per_image_int(n, 0, h + (1 - ch % 2), device);
    let oc = per_image_int(n, 0, w + (1 - cw % 2), device);
    let (gb, gr, gc) = grids(n, ch, cw, device);
    let gr = (gr + or - ch / 2).clamp(0, h - 1);
    let gc = (gc + oc - cw / 2).clamp(0, w - 1);
    let mut mask = Tensor::ones([n, h, w], (x.kind(), device));
    let zero = Tensor::zeros([], (x.kind(), device));
    let _ = mask.index_put_(&[Some(gb), Some(gr), Some(gc)], &zero, false);
    x * mask.unsqueeze(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_print_and_refuse_by_name() {
        let d: DiffAugment = "color, translation,cutout".parse().unwrap();
        assert_eq!(d.policies(), &Policy::ALL);
        assert_eq!(d.to_string(), "color,translation,cutout");
        assert!("".parse::<DiffAugment>().unwrap().is_empty());
        let cut: DiffAugment = "cutout,color".parse().unwrap();
        assert_eq!(cut.policies(), &[Policy::Cutout, Policy::Color]);
        assert_eq!(
            "color,flip".parse::<DiffAugment>().unwrap_err().to_string(),
            "unknown DiffAugment policy 'flip': expected a comma-separated subset of color, translation, cutout"
        );
        assert_eq!("color,color".parse::<DiffAugment>().unwrap_err(), PolicyError::Repeated("color"));
    }

    #[test]
    fn translation_moves_whole_images_and_fills_with_zeros() {
        tch::manual_seed(3);
        let x = Tensor::arange(2 * 3 * 16 * 16, (Kind::Float, Device::Cpu)).view([2, 3, 16, 16]) + 1.0;
        let y = translation(&x);
        assert_eq!(y.size(), x.size());
        for b in 0..2 {
            // Find the shift from the first channel: a pixel of x lands at a shifted place.
            let (xb, yb) = (x.get(b), y.get(b));
            let found = (-2i64..=2).flat_map(|dr| (-2i64..=2).map(move |dc| (dr, dc))).find(|&(dr, dc)| {
                let shifted = shift(&xb, dr, dc);
                shifted.equal(&yb)
            });
            assert!(found.is_some(), "image {b} is not a shift of at most 2 pixels of its input");
        }
    }

    /// `x` `[C, H, W]` moved so that `out[r, c] = x[r + dr, c + dc]`, zero outside.
    fn shift(x: &Tensor, dr: i64, dc: i64) -> Tensor {
        let (h, w) = (x.size()[1], x.size()[2]);
        let out = x.zeros_like();
        for r in 0..h {
            for c in 0..w {
                let (sr, sc) = (r + dr, c + dc);
                if (0..h).contains(&sr) && (0..w).contains(&sc) {
                    out.narrow(1, r, 1).narrow(2, c, 1).copy_(&x.narrow(1, sr, 1).narrow(2, sc, 1));
                }
            }
        }
        out
    }

    #[test]
    fn cutout_zeroes_at_most_a_quarter_and_keeps_the_rest() {
        tch::manual_seed(5);
        let x = Tensor::ones([8, 2, 12, 12], (Kind::Float, Device::Cpu));
        let y = cutout(&x);
        for b in 0..8 {
            let zeros = y.get(b).get(0).eq(0.0).sum(Kind::Int64).int64_value(&[]);
            assert!((1..=36).contains(&zeros), "image {b}: {zeros} zeros");
            assert!(y.get(b).get(0).equal(&y.get(b).get(1)), "one mask for every channel");
        }
    }

    #[test]
    fn color_keeps_a_grey_image_grey_and_gradients_flow_through_every_policy() {
        tch::manual_seed(7);
        let grey = Tensor::rand([4, 1, 8, 8], (Kind::Float, Device::Cpu)).expand([4, 3, 8, 8], false);
        let d: DiffAugment = "color".parse().unwrap();
        let y = d.apply(&grey);
        assert!(y.narrow(1, 0, 1).allclose(&y.narrow(1, 2, 1), 1e-6, 1e-6, false));
        let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu)).set_requires_grad(true);
        let all: DiffAugment = "color,translation,cutout".parse().unwrap();
        all.apply(&x).sum(Kind::Float).backward();
        let g = x.grad();
        assert!(g.abs().sum(Kind::Float).double_value(&[]) > 0.0);
    }
}

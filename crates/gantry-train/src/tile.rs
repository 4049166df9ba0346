//! Inference on images of any size in bounded memory: a fully convolutional model (an upscaler)
//! runs on overlapping tiles, and each tile's interior is written into a u8 result, as
//! Real-ESRGAN's `--tile`/`--tile_pad` do. With an overlap of at least the model's receptive
//! field radius ([`crate::capability::Translator::context`]) every output pixel sees exactly the
//! inputs it would see in the whole image, so the result equals untiled inference up to float
//! rounding, and there are no seams.

use crate::error::{bail, Result};
use tch::{Device, Kind, Tensor};

/// Input pixels per tile side used where the working set cannot be measured (not Linux, or a
/// GPU, whose memory the process's resident set does not show).
pub const FALLBACK_TILE: i64 = 256;

/// The working-set budget a default tile is sized for: 1 GiB, or a quarter of the available
/// memory when that is less.
fn budget() -> u64 {
    let cap = 1u64 << 30;
    gantry_core::mem::available().map_or(cap, |a| cap.min(a / 4))
}

/// How an image is cut: `tile` input pixels per side (0: the whole image at once), each tile
/// read with `overlap` more pixels on every side where the image has them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tiling {
    /// Input pixels per tile side; 0 or less runs the whole image at once.
    pub tile: i64,
    /// Input pixels read beyond each side of a tile and discarded from its output (at least the
    /// model's receptive field radius for a seamless result).
    pub overlap: i64,
}

impl Tiling {
    /// The number of tiles an `h`×`w` input is cut into.
    pub fn count(&self, h: i64, w: i64) -> i64 {
        if self.tile <= 0 {
            return 1;
        }
        ((h + self.tile - 1) / self.tile) * ((w + self.tile - 1) / self.tile)
    }

    /// The largest tile whose working set fits the budget (1 GiB, or a quarter of the available
    /// memory if less), measured: `f` runs on probes of `channels`×64×64 and ×128×128 while the
    /// process's peak resident set is watched; the growth between the two gives the bytes per
    /// input pixel (what a tile of that size adds, without the fixed costs a single probe would
    /// count). Falls back to [`FALLBACK_TILE`] where that cannot be measured.
    pub fn measured(
        channels: i64,
        overlap: i64,
        device: Device,
        f: impl Fn(&Tensor) -> Result<Tensor>,
    ) -> Result<Self> {
        let fallback = Self { tile: FALLBACK_TILE, overlap };
        if device != Device::Cpu {
            return Ok(fallback);
        }
        let mut grew = [0u64; 2];
        for (i, side) in [64i64, 128].into_iter().enumerate() {
            let probe = Tensor::zeros([1, channels, side, side], (Kind::Float, Device::Cpu));
            let (Some(base), true) = (gantry_core::mem::rss(), gantry_core::mem::reset_peak()) else {
                return Ok(fallback);
            };
            drop(f(&probe)?);
            let Some(peak) = gantry_core::mem::peak() else { return Ok(fallback) };
            grew[i] = peak.saturating_sub(base);
        }
        let per_pixel = (grew[1].saturating_sub(grew[0]) as f64 / (128 * 128 - 64 * 64) as f64).max(64.0);
        let total = (budget() as f64 / per_pixel).sqrt() as i64;
        Ok(Self { tile: (total - 2 * overlap).clamp(32, 2048), overlap })
    }
}

/// `f` (which maps `[1, C, h, w]` to `[1, C', s·h, s·w]` in [−1, 1] for any h, w) applied to `x`
/// `[1, C, H, W]` tile by tile, as u8 pixels `[C', s·H, s·W]` on the CPU (a quarter of float's
/// memory). The result is allocated once.
pub fn apply(
    x: &Tensor,
    scale: i64,
    tiling: Tiling,
    f: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    apply_as(x, scale, tiling, Kind::Uint8, f)
}

/// [`apply`] with the result as `kind`: `Uint8` (pixels) or `Float` (the model's values).
pub fn apply_as(
    x: &Tensor,
    scale: i64,
    tiling: Tiling,
    kind: Kind,
    f: impl Fn(&Tensor) -> Result<Tensor>,
) -> Result<Tensor> {
    let size = x.size();
    if size.len() != 4 || size[0] != 1 {
        bail!("tiled inference takes one image [1, C, H, W], found {size:?}");
    }
    let (h, w) = (size[2], size[3]);
    let tile = if tiling.tile <= 0 { h.max(w) } else { tiling.tile };
    let pad = if tiling.tile <= 0 { 0 } else { tiling.overlap.max(0) };
    let mut out: Option<Tensor> = None;
    for y0 in (0..h).step_by(tile as usize) {
        for x0 in (0..w).step_by(tile as usize) {
            let (th, tw) = (tile.min(h - y0), tile.min(w - x0));
            let (ys, xs) = ((y0 - pad).max(0), (x0 - pad).max(0));
            let (ye, xe) = ((y0 + th + pad).min(h), (x0 + tw + pad).min(w));
            let y = f(&x.narrow(2, ys, ye - ys).narrow(3, xs, xe - xs))?;
            let got = y.size();
            if got.len() != 4 || got[2] != (ye - ys) * scale || got[3] != (xe - xs) * scale {
                bail!(
                    "the model turned a {}x{} tile into {got:?}, not ×{scale} (is it an any-size upscaler?)",
                    xe - xs,
                    ye - ys
                );
            }
            let inner =
                y.get(0).narrow(1, (y0 - ys) * scale, th * scale).narrow(2, (x0 - xs) * scale, tw * scale);
            let inner = inner.to_device(Device::Cpu);
            let part =
                if kind == Kind::Uint8 { gantry_core::image::to_u8(&inner) } else { inner.to_kind(kind) };
            let out = match &mut out {
                Some(o) => o,
                None => out.insert(Tensor::zeros([got[1], h * scale, w * scale], (kind, Device::Cpu))),
            };
            out.narrow(1, y0 * scale, th * scale).narrow(2, x0 * scale, tw * scale).copy_(&part);
        }
    }
    out.ok_or_else(|| crate::error::err!("tiled inference of an empty image {size:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stand-in for an upscaler: a 5×5 box blur (radius 2) twice (radius 4), then nearest ×2.
    fn model(x: &Tensor) -> Result<Tensor> {
        let k = Tensor::ones([1, 1, 5, 5], (Kind::Float, Device::Cpu)) / 25.0;
        let c = x.size()[1];
        let blur = |t: &Tensor| {
            Tensor::cat(
                &(0..c)
                    .map(|i| t.narrow(1, i, 1).conv2d(&k, None::<Tensor>, [1, 1], [2, 2], [1, 1], 1))
                    .collect::<Vec<_>>(),
                1,
            )
        };
        Ok(blur(&blur(x)).upsample_nearest2d([x.size()[2] * 2, x.size()[3] * 2], None, None).tanh())
    }

    #[test]
    fn tiles_with_the_receptive_field_as_overlap_equal_the_whole_image() {
        let x =
            (Tensor::arange(3 * 53 * 71, (Kind::Float, Device::Cpu)) * 0.37).sin().reshape([1, 3, 53, 71]);
        let whole = apply(&x, 2, Tiling { tile: 0, overlap: 0 }, model).unwrap();
        assert_eq!(whole.size(), [3, 106, 142]);
        assert!(whole.equal(&gantry_core::image::to_u8(&model(&x).unwrap().get(0))));
        for tile in [8, 16, 25, 100] {
            let tiled = apply(&x, 2, Tiling { tile, overlap: 4 }, model).unwrap();
            let diff = (tiled.to_kind(Kind::Int) - whole.to_kind(Kind::Int)).abs().max().int64_value(&[]);
            assert!(diff <= 1, "tile {tile}: {diff} levels"); // float rounding at a u8 boundary
        }
        // Too little overlap shows at the seams.
        let seams = apply(&x, 2, Tiling { tile: 16, overlap: 1 }, model).unwrap();
        assert!(!seams.equal(&whole));
    }

    /// A real SRResNet (random weights, BatchNorm on running statistics as at inference): with
    /// its receptive field radius as overlap, tiles equal the whole image within 1e-5 everywhere,
    /// borders included; three pixels less context shows.
    #[test]
    fn srresnet_tiles_equal_the_whole_image_with_its_receptive_field_as_overlap() {
        let cfg = gantry_translate::srgan::SrganConfig {
            n_blocks: 2,
            ngf: 8,
            ..gantry_translate::srgan::SrganConfig::paper(64, 3)
        };
        let radius = cfg.receptive_radius();
        assert_eq!(radius, 4 + 4 + 1 + 2 + 1); // head, 2 blocks, trunk, ×2 stages (1 + ½), tail (4/4)
        assert_eq!(gantry_translate::srgan::SrganConfig::paper(96, 3).receptive_radius(), 40);
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let g = gantry_translate::srgan::SrResNet::new(vs.root(), &cfg);
        let f = |x: &Tensor| Ok(tch::no_grad(|| g.forward(x, false)));
        let x =
            (Tensor::arange(3 * 45 * 61, (Kind::Float, Device::Cpu)) * 0.11).sin().reshape([1, 3, 45, 61]);
        let whole = f(&x).unwrap().get(0);
        for tile in [7, 16, 30] {
            let tiled = apply_as(&x, 4, Tiling { tile, overlap: radius }, Kind::Float, f).unwrap();
            let d = (&tiled - &whole).abs().max().double_value(&[]);
            assert!(d < 1e-5, "tile {tile}: max |Δ| {d}");
        }
        let short = apply_as(&x, 4, Tiling { tile: 16, overlap: radius - 3 }, Kind::Float, f).unwrap();
        assert!((&short - &whole).abs().max().double_value(&[]) > 1e-4);
    }
}

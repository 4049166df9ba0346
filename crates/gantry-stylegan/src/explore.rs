//! What StyleGAN's styles and noise control, as grids: style mixing (Karras et al. 2019,
//! Figure 3) and noise (Figure 4), from a generator and latents. `gantry style-mix` and
//! `gantry noise` draw these from a checkpoint's averaged generator.

use crate::error::{bail, Result, StyleError};
use tch::{Kind, Tensor};

use crate::{Generator, NoiseMode, SynthesisOptions, Truncation};

/// Which ws a style-mixing grid copies from the column latents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Styles {
    /// 4²–8² (pose, face shape; for digits: the stroke layout).
    Coarse,
    /// 16²–32² (below the last block).
    Middle,
    /// ≥ 64² and always the last block (colour, texture, stroke detail).
    Fine,
    /// ws `a..=b` by index.
    Range(i64, i64),
}

impl std::str::FromStr for Styles {
    type Err = StyleError;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "coarse" => Styles::Coarse,
            "middle" => Styles::Middle,
            "fine" => Styles::Fine,
            _ => {
                let parsed = s.split_once('-').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
                match parsed {
                    Some((a, b)) if a <= b => Styles::Range(a, b),
                    _ => bail!(
                        "invalid --styles: expected coarse, middle, fine or A-B (ws indices), found '{s}'"
                    ),
                }
            }
        })
    }
}

impl Styles {
    /// The ws indices `[lo, hi)` of these styles in `g`: a block at resolution r reads ws
    /// `[2·i − 1, 2·i]` (i = log₂ r − 2; the 4² block reads w 0), the last toRGB the last w.
    pub fn range(&self, g: &Generator) -> Result<(i64, i64)> {
        let num_ws = g.synthesis.num_ws;
        let top = g.cfg.resolution;
        let first_w = |r: i64| -> i64 {
            let i = r.trailing_zeros() as i64 - 2;
            (2 * i - 1).max(0)
        };
        let fine_from = if top >= 64 { 64 } else { top };
        let (lo, hi) = match self {
            Styles::Coarse => (0, first_w(16.min(top))),
            Styles::Middle => (first_w(16.min(top)), first_w(fine_from)),
            Styles::Fine => (first_w(fine_from), num_ws),
            Styles::Range(a, b) => {
                if *b >= num_ws {
                    bail!("invalid --styles: this generator has ws 0-{}, found {a}-{b}", num_ws - 1);
                }
                (*a, b + 1)
            }
        };
        if lo >= hi {
            bail!("--styles selects no ws at resolution {top} (ws 0-{})", num_ws - 1);
        }
        Ok((lo, hi))
    }
}

/// A style-mixing grid `[(rows + 1)·(cols + 1), C, R, R]` (row-major, `cols + 1` per row) for
/// latents `z` `[rows + cols, z_dim]`: the top row shows the column latents' images (after a blank),
/// the left column the row latents'; cell (r, c) takes row r's ws with the `styles` ws replaced by
/// column c's. ψ truncates every w in W first. Stored noise maps.
pub fn style_mix(
    g: &Generator,
    z: &Tensor,
    rows: usize,
    cols: usize,
    styles: &Styles,
    psi: f64,
) -> Result<Tensor> {
    if rows == 0 || cols == 0 || !psi.is_finite() {
        bail!("--rows and --cols must be at least 1 and --psi finite (found {rows}, {cols}, {psi})");
    }
    let (lo, hi) = styles.range(g)?;
    let o = SynthesisOptions { noise: NoiseMode::Const, fused: true };
    Ok(tch::no_grad(|| {
        let ws = g.mapping.forward(Some(z), None, Truncation { psi, cutoff: None }, false);
        let (row_ws, col_ws) = (ws.narrow(0, 0, rows as i64), ws.narrow(0, rows as i64, cols as i64));
        let row_img = g.synthesis.forward(&row_ws, o);
        let col_img = g.synthesis.forward(&col_ws, o);
        let blank = Tensor::full_like(&col_img.narrow(0, 0, 1), -1.0);
        let mut tiles = vec![blank, col_img];
        for r in 0..rows as i64 {
            let mixed = row_ws.narrow(0, r, 1).repeat([cols as i64, 1, 1]);
            let mixed = Tensor::cat(
                &[
                    mixed.narrow(1, 0, lo),
                    col_ws.narrow(1, lo, hi - lo),
                    mixed.narrow(1, hi, mixed.size()[1] - hi),
                ],
                1,
            );
            tiles.push(row_img.narrow(0, r, 1));
            tiles.push(g.synthesis.forward(&mixed, o));
        }
        Tensor::cat(&tiles, 0)
    }))
}

/// A noise grid `[rows·(cols + 2), C, R, R]` (`cols + 2` per row) for latents `z` `[rows, z_dim]`:
/// per row one w, then `cols` images with fresh per-pixel noise (from libtorch's generator: seed
/// it first), the image without noise, and the per-pixel standard deviation over 32 noise draws
/// (white = most change): what the noise inputs control.
pub fn noise(g: &Generator, z: &Tensor, rows: usize, cols: usize) -> Result<Tensor> {
    if rows == 0 || cols == 0 {
        bail!("--rows and --cols must be at least 1 (found {rows} and {cols})");
    }
    let random = SynthesisOptions { noise: NoiseMode::Random, fused: true };
    Ok(tch::no_grad(|| {
        let ws = g.mapping.forward(Some(z), None, Truncation::default(), false);
        let mut tiles = Vec::new();
        for r in 0..rows as i64 {
            let w = ws.narrow(0, r, 1);
            let draws = g.synthesis.forward(&w.repeat([32.max(cols as i64), 1, 1]), random);
            tiles.push(draws.narrow(0, 0, cols as i64));
            tiles.push(g.synthesis.forward(&w, SynthesisOptions { noise: NoiseMode::None, fused: true }));
            let std =
                draws.std_dim([0i64].as_slice(), false, false).mean_dim([0i64].as_slice(), true, Kind::Float);
            let std = &std / std.max().clamp_min(1e-8);
            let c = draws.size()[1];
            tiles.push((std * 2.0 - 1.0).unsqueeze(0).repeat([1, c, 1, 1]));
        }
        Tensor::cat(&tiles, 0)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StyleGan2Config;
    use tch::Device;

    fn g(resolution: i64) -> Generator {
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let cfg = StyleGan2Config {
            resolution,
            channels: 1,
            channel_base: 1024,
            channel_max: 4,
            ..StyleGan2Config::small32()
        };
        Generator::new(vs.root(), &cfg)
    }

    #[test]
    fn style_ranges_follow_the_resolution_ladder() {
        // 32²: ws 0 (4²), 1-2 (8²), 3-4 (16²), 5-6 (32²), 7 (last toRGB).
        let g32 = g(32);
        assert_eq!(g32.synthesis.num_ws, 8);
        assert_eq!(Styles::Coarse.range(&g32).unwrap(), (0, 3));
        assert_eq!(Styles::Middle.range(&g32).unwrap(), (3, 5));
        assert_eq!(Styles::Fine.range(&g32).unwrap(), (5, 8));
        // 256²: coarse 4²–8², middle 16²–32², fine 64²–256² (Karras et al. 2019 §3.1).
        let g256 = g(256);
        assert_eq!(g256.synthesis.num_ws, 14);
        assert_eq!(Styles::Middle.range(&g256).unwrap(), (3, 7));
        assert_eq!(Styles::Fine.range(&g256).unwrap(), (7, 14));
        assert_eq!("2-4".parse::<Styles>().unwrap().range(&g32).unwrap(), (2, 5));
        assert!("4-2".parse::<Styles>().is_err() && "x".parse::<Styles>().is_err());
    }
}

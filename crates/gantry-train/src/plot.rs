//! A small scatter plot for 2-D (and 1-D) toy samples: the toy runs' "sample grid".

use tch::{Kind, Tensor};

/// Draws `points` `[N, 2]` (or `[N, 1]`, spread vertically by index) over the `modes` (grey
/// discs) in the square [−extent, extent]², as u8 RGB pixels `[3, size, size]`.
pub fn scatter(points: &Tensor, modes: &[Vec<f64>], extent: f64, size: usize) -> Tensor {
    let mut img = vec![255u8; 3 * size * size];
    let to_px = |v: f64| ((v + extent) / (2.0 * extent) * (size as f64 - 1.0)).round();
    let mut put = |x: f64, y: f64, rgb: [u8; 3], r: i64| {
        let (cx, cy) = (to_px(x) as i64, (size as f64 - 1.0 - to_px(y)) as i64);
        for dy in -r..=r {
            for dx in -r..=r {
                let (px, py) = (cx + dx, cy + dy);
                if dx * dx + dy * dy <= r * r
                    && px >= 0
                    && py >= 0
                    && (px as usize) < size
                    && (py as usize) < size
                {
                    for (c, v) in rgb.iter().enumerate() {
                        img[c * size * size + py as usize * size + px as usize] = *v;
                    }
                }
            }
        }
    };
    for m in modes {
        let y = m.get(1).copied().unwrap_or(0.0);
        put(m[0], y, [200, 200, 200], (size / 40) as i64);
    }
    let p = points.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let (n, d) = (p.size()[0], p.size()[1]);
    let flat: Vec<f64> = Vec::try_from(p.reshape([-1])).unwrap_or_default();
    for i in 0..n as usize {
        let x = flat[i * d as usize];
        let y = if d > 1 {
            flat[i * d as usize + 1]
        } else {
            extent * (2.0 * (i as f64 + 0.5) / n as f64 - 1.0) * 0.9
        };
        put(x, y, [20, 60, 160], 1);
    }
    Tensor::from_slice(&img).reshape([3, size as i64, size as i64])
}

/// Ten distinguishable colours (matplotlib's tab10), class k drawn in `PALETTE[k % 10]`.
pub const PALETTE: [[u8; 3]; 10] = [
    [31, 119, 180],
    [255, 127, 14],
    [44, 160, 44],
    [214, 39, 40],
    [148, 103, 189],
    [140, 86, 75],
    [227, 119, 194],
    [127, 127, 127],
    [188, 189, 34],
    [23, 190, 207],
];

/// Draws 2-D `points` `[N, 2]` coloured by `classes` (one colour when None) over `background`
/// points `[M, 2]` in light grey (an autoencoder's codes over its prior's samples), in the square
/// [−extent, extent]², as u8 RGB pixels `[3, size, size]`.
pub fn scatter_classes(
    points: &Tensor,
    classes: Option<&[i64]>,
    background: &Tensor,
    extent: f64,
    size: usize,
) -> Tensor {
    let mut img = vec![255u8; 3 * size * size];
    let to_px = |v: f64| ((v + extent) / (2.0 * extent) * (size as f64 - 1.0)).round() as i64;
    let mut draw = |pts: &Tensor, colour: &dyn Fn(usize) -> [u8; 3]| {
        let p: Vec<f64> = Vec::try_from(pts.to_device(tch::Device::Cpu).to_kind(Kind::Double).reshape([-1]))
            .unwrap_or_default();
        for (i, xy) in p.chunks_exact(2).enumerate() {
            let (cx, cy) = (to_px(xy[0]), size as i64 - 1 - to_px(xy[1]));
            let rgb = colour(i);
            for (px, py) in [(cx, cy), (cx + 1, cy), (cx, cy + 1), (cx + 1, cy + 1)] {
                if px >= 0 && py >= 0 && (px as usize) < size && (py as usize) < size {
                    for (c, v) in rgb.iter().enumerate() {
                        img[c * size * size + py as usize * size + px as usize] = *v;
                    }
                }
            }
        }
    };
    draw(background, &|_| [215, 215, 215]);
    draw(points, &|i| classes.map_or(PALETTE[0], |c| PALETTE[c[i].rem_euclid(10) as usize]));
    Tensor::from_slice(&img).reshape([3, size as i64, size as i64])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_points_where_they_are() {
        let pts = Tensor::from_slice(&[0.0f32, 0.0, 1.0, 1.0]).reshape([2, 2]);
        let img = scatter(&pts, &[vec![-1.0, -1.0]], 1.0, 101);
        assert_eq!(img.size(), vec![3, 101, 101]);
        // Point (0, 0) is the centre pixel, (1, 1) the top-right corner; the mode at (-1, -1) is grey.
        assert_eq!(img.int64_value(&[2, 50, 50]), 160);
        assert_eq!(img.int64_value(&[2, 0, 100]), 160);
        assert_eq!(img.int64_value(&[0, 100, 0]), 200);
        assert_eq!(img.int64_value(&[0, 20, 80]), 255);
    }

    #[test]
    fn class_scatter_colours_each_point_by_its_class() {
        let pts = Tensor::from_slice(&[-0.5f64, 0.0, 0.5, 0.0]).reshape([2, 2]);
        let bg = Tensor::from_slice(&[0.0f64, 0.5]).reshape([1, 2]);
        let img = scatter_classes(&pts, Some(&[1, 3]), &bg, 1.0, 101);
        let px = |x: i64, y: i64| -> Vec<u8> { (0..3).map(|c| img.int64_value(&[c, y, x]) as u8).collect() };
        // x = −0.5 → column 25, y = 0 → row 50; x = 0.5 → column 75; background (0, 0.5) → (50, 25).
        assert_eq!(px(25, 50), PALETTE[1].to_vec());
        assert_eq!(px(75, 50), PALETTE[3].to_vec());
        assert_eq!(px(50, 25), vec![215, 215, 215]);
        assert_eq!(px(0, 0), vec![255, 255, 255]);
    }
}

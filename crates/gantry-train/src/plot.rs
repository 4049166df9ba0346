//! A small scatter plot for 2-D (and 1-D) toy samples: the toy runs' "sample grid".

use tch::{Kind, Tensor};

/// A white `size`×`size` RGB canvas showing the square [−extent, extent]², y up.
struct Canvas {
    img: Vec<u8>,
    size: usize,
    extent: f64,
}

impl Canvas {
    fn new(extent: f64, size: usize) -> Self {
        Self { img: vec![255u8; 3 * size * size], size, extent }
    }

    fn to_px(&self, v: f64) -> f64 {
        ((v + self.extent) / (2.0 * self.extent) * (self.size as f64 - 1.0)).round()
    }

    /// A disc of radius `r` pixels at (x, y), clipped to the canvas.
    fn dot(&mut self, x: f64, y: f64, rgb: [u8; 3], r: i64) {
        let size = self.size;
        let (cx, cy) = (self.to_px(x) as i64, (size as f64 - 1.0 - self.to_px(y)) as i64);
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
                        self.img[c * size * size + py as usize * size + px as usize] = *v;
                    }
                }
            }
        }
    }

    /// u8 RGB pixels `[3, size, size]`.
    fn pixels(self) -> Tensor {
        let s = self.size as i64;
        Tensor::from_slice(&self.img).reshape([3, s, s])
    }
}

/// The values of `points` `[N, d]` on the CPU, row by row.
fn rows(points: &Tensor) -> (usize, usize, Vec<f64>) {
    let p = points.to_device(tch::Device::Cpu).to_kind(Kind::Double);
    let (n, d) = (p.size()[0] as usize, p.size()[1] as usize);
    (n, d, Vec::try_from(p.reshape([-1])).unwrap_or_default())
}

/// Draws `points` `[N, 2]` (or `[N, 1]`, spread vertically by index) over the `modes` (grey
/// discs) in the square [−extent, extent]², as u8 RGB pixels `[3, size, size]`.
pub fn scatter(points: &Tensor, modes: &[Vec<f64>], extent: f64, size: usize) -> Tensor {
    let mut canvas = Canvas::new(extent, size);
    for m in modes {
        let y = m.get(1).copied().unwrap_or(0.0);
        canvas.dot(m[0], y, [200, 200, 200], (size / 40) as i64);
    }
    let (n, d, flat) = rows(points);
    for i in 0..n {
        let x = flat[i * d];
        let y =
            if d > 1 { flat[i * d + 1] } else { extent * (2.0 * (i as f64 + 0.5) / n as f64 - 1.0) * 0.9 };
        canvas.dot(x, y, [20, 60, 160], 1);
    }
    canvas.pixels()
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
    let mut canvas = Canvas::new(extent, size);
    let (_, _, bg) = rows(background);
    for xy in bg.chunks_exact(2) {
        canvas.dot(xy[0], xy[1], [215, 215, 215], 1);
    }
    let (_, _, p) = rows(points);
    for (i, xy) in p.chunks_exact(2).enumerate() {
        let rgb = classes.map_or(PALETTE[0], |c| PALETTE[c[i].rem_euclid(10) as usize]);
        canvas.dot(xy[0], xy[1], rgb, 1);
    }
    canvas.pixels()
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

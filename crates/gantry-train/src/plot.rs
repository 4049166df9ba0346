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
}

//! Activations that tch lacks or makes slow.

use tch::Tensor;

/// LeakyReLU with slope `slope` ∈ [0, 1]: `x` for x ≥ 0, `slope·x` below (any shape).
///
/// tch's `leaky_relu` fixes the slope at 0.01, and the alternatives cost more: `max(x, s·x)` takes
/// many kernels backward and PReLU's backward is not vectorised (both measured 2–6× slower on a
/// 64×64×16×16 batch). Since LReLU₀.₀₁ is linear on each side of 0,
/// `LReLUₛ(x) = lerp(x, LReLU₀.₀₁(x), w)` with `w = (1 − s) / 0.99`: on x < 0 it gives
/// `(1 − w)·x + 0.01·w·x = s·x`, on x ≥ 0 it gives x. Exact up to f32 rounding (≤ 2 ulp).
pub fn leaky_relu(x: &Tensor, slope: f64) -> Tensor {
    x.lerp(&x.leaky_relu(), (1.0 - slope) / 0.99)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Kind;

    #[test]
    fn leaky_relu_slope_and_gradient() {
        let x = Tensor::from_slice(&[-2.0f32, 0.0, 3.0, -0.5, 1.0, 4.0])
            .reshape([1, 2, 3])
            .set_requires_grad(true);
        let y = leaky_relu(&x, 0.2);
        let v: Vec<f32> = Vec::try_from(y.flatten(0, -1)).unwrap();
        let want = [-0.4f32, 0.0, 3.0, -0.1, 1.0, 4.0];
        assert!(v.iter().zip(want).all(|(a, b)| (a - b).abs() <= 2.0 * f32::EPSILON * b.abs()), "{v:?}");
        y.sum(Kind::Float).backward();
        let g: Vec<f32> = Vec::try_from(x.grad().flatten(0, -1)).unwrap();
        let want = [0.2f32, 0.2, 1.0, 0.2, 1.0, 1.0]; // PyTorch's convention at 0: the slope
        assert!(g.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-6), "{g:?}");
    }
}

//! `set_autocast`: libtorch's autocast on the CPU, as `torch.autocast("cpu", dtype)` sets it.

use tch::{Device, Kind, Tensor};

#[test]
fn autocast_casts_matrix_products_and_leaves_elementwise_ops_and_restores_the_state() {
    let a = Tensor::rand([4, 8], (Kind::Float, Device::Cpu));
    let b = Tensor::rand([8, 3], (Kind::Float, Device::Cpu));
    assert_eq!(gantry_dist::set_autocast(Device::Cpu, Some(Kind::BFloat16)).unwrap(), None);
    let (mm, add) = (a.matmul(&b), &a + 1.0);
    // Turned to float16 from bfloat16: the state returned is the one before.
    assert_eq!(gantry_dist::set_autocast(Device::Cpu, Some(Kind::Half)).unwrap(), Some(Kind::BFloat16));
    let half = a.matmul(&b);
    assert_eq!(gantry_dist::set_autocast(Device::Cpu, None).unwrap(), Some(Kind::Half));
    let plain = a.matmul(&b);
    assert_eq!(
        (mm.kind(), add.kind(), half.kind(), plain.kind()),
        (Kind::BFloat16, Kind::Float, Kind::Half, Kind::Float)
    );
    // The bfloat16 product is float32's, rounded: within bfloat16's 8-bit mantissa.
    let err = (mm.to_kind(Kind::Float) - &plain).abs().max().double_value(&[]);
    assert!(err < 2e-2 * plain.abs().max().double_value(&[]), "{err}");
    assert!(gantry_dist::set_autocast(Device::Cpu, Some(Kind::Double)).is_err());
}

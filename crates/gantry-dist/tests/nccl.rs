//! The `nccl` feature on a GPU box: a one-rank NCCL group (`gpu::` tests are ignored; `cargo
//! xtask gpu-check` runs them where CUDA is available).
#![cfg(feature = "nccl")]

mod gpu {
    use std::time::Duration;

    use gantry_dist::ProcessGroup;
    use tch::{Device, Kind, Tensor};

    #[test]
    #[ignore = "needs a CUDA GPU (cargo xtask gpu-check runs it)"]
    fn a_one_rank_nccl_group_reduces_and_broadcasts_on_the_gpu() {
        assert!(tch::Cuda::is_available(), "no CUDA device");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let g = ProcessGroup::nccl("127.0.0.1", port, 0, 1, Duration::from_secs(60), 0).unwrap();
        let dev = Device::Cuda(0);
        let mut t = Tensor::arange(6, (Kind::Float, dev));
        g.all_reduce_sum(&mut t).unwrap();
        assert_eq!(Vec::<f32>::try_from(t.to_device(Device::Cpu)).unwrap(), vec![0., 1., 2., 3., 4., 5.]);
        let mut b = Tensor::ones([3], (Kind::Float, dev));
        g.broadcast(&mut b, 0).unwrap();
        g.barrier().unwrap();
        let e = g.all_reduce_sum(&mut Tensor::ones([2], (Kind::Float, Device::Cpu))).unwrap_err().to_string();
        assert!(e.contains("the NCCL group takes CUDA tensors"), "{e}");
    }

    /// Synchronised BatchNorm on one NCCL rank is libtorch's batch_norm on the GPU (output,
    /// running statistics, gradients within 1e-5): the CUDA half of the shim's autograd function.
    #[test]
    #[ignore = "needs a CUDA GPU (cargo xtask gpu-check runs it)"]
    fn synchronised_batch_norm_on_one_nccl_rank_is_batch_norm() {
        assert!(tch::Cuda::is_available(), "no CUDA device");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let g = ProcessGroup::nccl("127.0.0.1", port, 0, 1, Duration::from_secs(60), 0).unwrap();
        let dev = Device::Cuda(0);
        let x0 = (Tensor::arange(6 * 4 * 9, (Kind::Float, dev)) * 0.37).sin().view([6, 4, 3, 3]) * 2.0 + 3.0;
        let run = |sync: bool| {
            let x = x0.copy().set_requires_grad(true);
            let w = (Tensor::arange(4, (Kind::Float, dev)) * 0.3 + 0.5).set_requires_grad(true);
            let b = Tensor::zeros([4], (Kind::Float, dev)).set_requires_grad(true);
            let (rm, rv) = (Tensor::zeros([4], (Kind::Float, dev)), Tensor::ones([4], (Kind::Float, dev)));
            let y = if sync {
                g.sync_batch_norm(&x, Some(&w), Some(&b), Some(&rm), Some(&rv), 0.1, 1e-5).unwrap()
            } else {
                x.batch_norm(Some(&w), Some(&b), Some(&rm), Some(&rv), true, 0.1, 1e-5, false)
            };
            (&y * &y.cos()).sum(Kind::Float).backward();
            [y.detach(), x.grad(), w.grad(), b.grad(), rm, rv]
        };
        for (i, (a, b)) in run(true).iter().zip(run(false).iter()).enumerate() {
            let d = (a - b).abs().max().double_value(&[]);
            assert!(d < 1e-5, "item {i} differs by {d}");
        }
        assert!(g.take_backward_failure().is_none());
    }
}

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
}

//! c10d's Gloo collectives between ranks of this process (one thread each, a file store in a
//! temporary folder), with values known in closed form. Several groups in one process is what
//! found the flight-recorder race the shim now guards against (`gd::issue` in shim/gd.hpp): a
//! crash in one run of ~10, or a thread spinning forever, before it.

use std::path::Path;
use std::time::{Duration, Instant};

use gantry_dist::{Bucket, ProcessGroup};
use tch::{Kind, Tensor};

/// Runs `f(group)` on `world` ranks, one thread each; returns each rank's result in rank order.
fn on_ranks<T: Send + 'static>(
    dir: &Path,
    world: i64,
    timeout: Duration,
    f: impl Fn(ProcessGroup) -> T + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let store = dir.join("store");
    let handles: Vec<_> = (0..world)
        .map(|rank| {
            let (store, f) = (store.clone(), f.clone());
            std::thread::spawn(move || f(ProcessGroup::with_file(&store, rank, world, timeout).unwrap()))
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn all_reduce_broadcast_all_gather_and_barrier() {
    let tmp = tempfile::tempdir().unwrap();
    let out = on_ranks(tmp.path(), 3, Duration::from_secs(30), |g| {
        let r = g.rank() as f64;
        let base = Tensor::arange(5, (Kind::Float, tch::Device::Cpu));
        let mut sum = &base * (r + 1.0);
        g.all_reduce_sum(&mut sum).unwrap();
        let mut mean = &base + r;
        g.all_reduce_mean(&mut mean).unwrap();
        let mut b = Tensor::full([2, 2], r, (Kind::Float, tch::Device::Cpu));
        g.broadcast(&mut b, 1).unwrap();
        let gathered = g.all_gather(&Tensor::from_slice(&[r, 10.0 * r])).unwrap();
        g.barrier().unwrap();
        (Vec::<f32>::try_from(sum).unwrap(), Vec::<f32>::try_from(mean).unwrap(), b, gathered)
    });
    for (sum, mean, b, gathered) in out {
        // Σ_r (r + 1)·i = 6i; mean_r (i + r) = i + 1 (three ranks).
        assert_eq!(sum, vec![0.0, 6.0, 12.0, 18.0, 24.0]);
        assert_eq!(mean, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        assert!(b.equal(&Tensor::full([2, 2], 1.0, (Kind::Float, tch::Device::Cpu))));
        let g: Vec<Vec<f64>> = gathered.into_iter().map(|t| Vec::<f64>::try_from(t).unwrap()).collect();
        assert_eq!(g, vec![vec![0.0, 0.0], vec![1.0, 10.0], vec![2.0, 20.0]]);
    }
}

#[test]
fn a_bucket_reduces_many_tensors_in_one_call() {
    let tmp = tempfile::tempdir().unwrap();
    let out = on_ranks(tmp.path(), 2, Duration::from_secs(30), |g| {
        let r = g.rank() as f64;
        let ts = [
            Tensor::ones([2, 3], tch::kind::FLOAT_CPU) * r,
            Tensor::ones([4], tch::kind::FLOAT_CPU) * (r + 2.0),
        ];
        let mut bucket = Bucket::gather(&ts);
        g.all_reduce_mean(bucket.flat()).unwrap();
        bucket.scatter(&ts);
        ts.map(|t| Vec::<f32>::try_from(t.reshape([-1])).unwrap())
    });
    for [a, b] in out {
        assert_eq!(a, vec![0.5; 6]);
        assert_eq!(b, vec![2.5; 4]);
    }
}

#[test]
fn bad_tensors_and_ranks_are_refused_with_a_message() {
    let tmp = tempfile::tempdir().unwrap();
    let e = ProcessGroup::with_file(&tmp.path().join("s"), 2, 2, Duration::from_secs(1)).unwrap_err();
    assert!(e.to_string().contains("rank must be in 0..2, found 2"), "{e}");
    let out = on_ranks(tmp.path(), 1, Duration::from_secs(5), |g| {
        let mut t = Tensor::ones([3, 2], tch::kind::FLOAT_CPU).transpose(0, 1);
        g.all_reduce_sum(&mut t).unwrap_err().to_string()
    });
    assert!(out[0].contains("all-reduce: expected a contiguous tensor"), "{}", out[0]);
}

/// A rank that leaves makes the other's next collective fail (not hang) well within the timeout.
#[test]
fn a_departed_rank_fails_the_others_collective() {
    let tmp = tempfile::tempdir().unwrap();
    let out = on_ranks(tmp.path(), 2, Duration::from_secs(20), |g| {
        let mut t = Tensor::ones([4], tch::kind::FLOAT_CPU);
        g.all_reduce_sum(&mut t).unwrap();
        g.barrier().unwrap();
        if g.rank() == 1 {
            drop(g);
            return None;
        }
        std::thread::sleep(Duration::from_millis(300));
        let start = Instant::now();
        let e = g.all_reduce_sum(&mut t).unwrap_err();
        Some((e.to_string(), start.elapsed()))
    });
    let (e, took) = out[0].clone().unwrap();
    assert!(e.starts_with("all-reduce: "), "{e}");
    assert!(took < Duration::from_secs(20), "{took:?}");
    eprintln!("rank 0 after rank 1 left: {e} ({took:?})");
}

/// Deterministic data (no generator: the ranks are threads of one process) with a mean far from
/// 0 per channel, `[n, c, rest…]`.
fn bn_input(shape: &[i64]) -> Tensor {
    let n: i64 = shape.iter().product();
    let x = (Tensor::arange(n, tch::kind::FLOAT_CPU) * 0.37).sin() * 3.0;
    let x = x.view(shape);
    let c = shape[1];
    let mut offset = vec![1i64; shape.len()];
    offset[1] = c;
    x + Tensor::arange(c, tch::kind::FLOAT_CPU).view(offset.as_slice()) * 2.5 + 4.0
}

/// Eight rows on two ranks (4 + 4) and on three (2 + 3 + 3: unequal counts), with synchronised
/// BatchNorm: the output, the running statistics and the input's gradient are those of
/// libtorch's batch_norm over all eight rows; the weight's and bias's gradients summed over ranks
/// are its too. Tolerance 1e-5: the ranks combine their
/// per-rank means and M2s in double, libtorch's kernel takes one pass over all rows, so they
/// differ only by float32 rounding of values of order 10.
#[test]
fn synchronised_batch_norm_is_batch_norm_over_all_ranks_rows() {
    for (world, shape, affine) in [
        (2, vec![8i64, 3, 2, 2], true),
        (2, vec![8, 5], false),
        (3, vec![8, 3, 2, 2], false),
        (3, vec![8, 5], true),
    ] {
        let c = shape[1];
        let coeff =
            |x: &Tensor| (Tensor::arange(x.numel() as i64, tch::kind::FLOAT_CPU) * 0.11).cos().view_as(x);
        let weight = (Tensor::arange(c, tch::kind::FLOAT_CPU) * 0.3 + 0.7).set_requires_grad(true);
        let bias = (Tensor::arange(c, tch::kind::FLOAT_CPU) * -0.2).set_requires_grad(true);
        // The whole batch in one process.
        let x = bn_input(&shape).set_requires_grad(true);
        let (rm, rv) = (Tensor::zeros([c], tch::kind::FLOAT_CPU), Tensor::ones([c], tch::kind::FLOAT_CPU));
        let (w, b) = (affine.then_some(&weight), affine.then_some(&bias));
        let y = x.batch_norm(w, b, Some(&rm), Some(&rv), true, 0.1, 1e-5, false);
        (&y * coeff(&y)).sum(tch::Kind::Float).backward();
        let tmp = tempfile::tempdir().unwrap();
        let shape2 = shape.clone();
        let out = on_ranks(tmp.path(), world, Duration::from_secs(30), move |g| {
            let (start, n) = (g.rank() * 8 / world, (g.rank() + 1) * 8 / world - g.rank() * 8 / world);
            let weight = (Tensor::arange(c, tch::kind::FLOAT_CPU) * 0.3 + 0.7).set_requires_grad(true);
            let bias = (Tensor::arange(c, tch::kind::FLOAT_CPU) * -0.2).set_requires_grad(true);
            let all = bn_input(&shape2);
            let x = all.narrow(0, start, n).detach().set_requires_grad(true);
            let rm = Tensor::zeros([c], tch::kind::FLOAT_CPU);
            let rv = Tensor::ones([c], tch::kind::FLOAT_CPU);
            let (w, b) = (affine.then_some(&weight), affine.then_some(&bias));
            let y = g.sync_batch_norm(&x, w, b, Some(&rm), Some(&rv), 0.1, 1e-5).unwrap();
            let c_all = {
                let n = all.numel() as i64;
                (Tensor::arange(n, tch::kind::FLOAT_CPU) * 0.11).cos().view_as(&all)
            };
            (&y * c_all.narrow(0, start, n)).sum(tch::Kind::Float).backward();
            assert!(g.take_backward_failure().is_none());
            let grads = affine.then(|| (weight.grad(), bias.grad()));
            (y.detach(), x.grad(), rm, rv, grads)
        });
        let close = |a: &Tensor, b: &Tensor, what: &str| {
            let d = (a - b).abs().max().double_value(&[]);
            assert!(d < 1e-5, "{world} ranks, {shape:?}, affine {affine}: {what} differs by {d}");
        };
        let ys: Vec<Tensor> = out.iter().map(|o| o.0.shallow_clone()).collect();
        close(&Tensor::cat(&ys, 0), &y, "the output");
        let dxs: Vec<Tensor> = out.iter().map(|o| o.1.shallow_clone()).collect();
        close(&Tensor::cat(&dxs, 0), &x.grad(), "the input's gradient");
        for o in &out {
            close(&o.2, &rm, "the running mean");
            close(&o.3, &rv, "the running variance");
        }
        if affine {
            let sum = |f: fn(&(Tensor, Tensor)) -> &Tensor| {
                out.iter().map(|o| f(o.4.as_ref().unwrap()).shallow_clone()).reduce(|a, b| a + b).unwrap()
            };
            let (gw, gb) = (sum(|p| &p.0), sum(|p| &p.1));
            close(&gw, &weight.grad(), "the weight's gradient");
            close(&gb, &bias.grad(), "the bias's gradient");
        }
        // A non-trivial case: the running statistics moved, the gradient is not zero.
        assert!(rm.abs().sum(tch::Kind::Float).double_value(&[]) > 0.1);
        assert!(x.grad().abs().sum(tch::Kind::Float).double_value(&[]) > 0.1);
    }
}

/// Per-rank statistics differ from the whole batch's (the control for the test above), and a
/// second derivative through the layer is reported, not silently wrong.
#[test]
fn synchronised_batch_norm_reports_a_second_derivative_and_bad_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = on_ranks(tmp.path(), 2, Duration::from_secs(30), |g| {
        let all = bn_input(&[4, 2, 3]);
        let x = all.narrow(0, 2 * g.rank(), 2).detach().set_requires_grad(true);
        let local = x.batch_norm(
            None::<&Tensor>,
            None::<&Tensor>,
            None::<&Tensor>,
            None::<&Tensor>,
            true,
            0.1,
            1e-5,
            false,
        );
        let y = g.sync_batch_norm(&x, None, None, None, None, 0.1, 1e-5).unwrap();
        let apart = (&local - &y).abs().max().double_value(&[]);
        let grad = Tensor::run_backward(&[(&y * &y).sum(tch::Kind::Float)], &[&x], true, true);
        let second = grad[0].sum(tch::Kind::Float);
        let failure = g
            .take_backward_failure()
            .map(|e| (matches!(e, gantry_dist::DistError::Unsupported { .. }), e.to_string()));
        let bad = g
            .sync_batch_norm(
                &x,
                Some(&Tensor::ones([3], tch::kind::FLOAT_CPU)),
                Some(&Tensor::zeros([3], tch::kind::FLOAT_CPU)),
                None,
                None,
                0.1,
                1e-5,
            )
            .unwrap_err()
            .to_string();
        drop(second);
        (apart, failure, bad)
    });
    for (apart, failure, bad) in out {
        assert!(apart > 0.05, "per-rank and synchronised statistics agree ({apart}): the control is void");
        let (unsupported, failure) = failure.expect("a second derivative is reported");
        assert!(unsupported && failure.contains("no second derivative"), "{failure}");
        assert!(bad.contains("weight: expected shape [2], found [3]"), "{bad}");
    }
}

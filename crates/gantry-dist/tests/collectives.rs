//! c10d's Gloo collectives between ranks of this process (one thread each, a file store in a
//! temporary folder), with values known in closed form. (A three-rank version of the first test
//! hung once in a Gloo/FileStore loop with one thread spinning; two ranks, as training uses, are
//! what is tested until that is understood.)

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
    let out = on_ranks(tmp.path(), 2, Duration::from_secs(30), |g| {
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
        // Σ_r (r + 1)·i = 3i; mean_r (i + r) = i + ½.
        assert_eq!(sum, vec![0.0, 3.0, 6.0, 9.0, 12.0]);
        assert_eq!(mean, vec![0.5, 1.5, 2.5, 3.5, 4.5]);
        assert!(b.equal(&Tensor::full([2, 2], 1.0, (Kind::Float, tch::Device::Cpu))));
        let g: Vec<Vec<f64>> = gathered.into_iter().map(|t| Vec::<f64>::try_from(t).unwrap()).collect();
        assert_eq!(g, vec![vec![0.0, 0.0], vec![1.0, 10.0]]);
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

//! Data parallelism as the training code sees it: which shard of every batch this process trains
//! on (rank r of N), and the gradient averaging every optimiser update goes through.
//!
//! Like libtorch's global generator, this is per-thread state that the training loop sets once
//! (`gantry train --nproc`, one process per rank) and everything else consults. Without it (one
//! process) every function here is the plain libtorch call.
//!
//! **The same numbers as one process with N times the batch.** A data-parallel run of N ranks
//! with batch B per rank is meant to take the steps one process with batch N·B takes. So
//! per-sample random draws (latents, gradient-penalty interpolation weights, per-pixel noise) go
//! through [`randn`], [`rand`], [`randint`] and their `_like` forms: each rank draws the whole
//! N·B batch's values from the generator — which every rank seeds alike — and keeps its own rows,
//! `r·B .. (r+1)·B`; draws that are not per-sample (a style-mixing cutoff) agree across ranks by
//! the same seeding, whether plain calls or scalars (shape `[]`) drawn here, which every rank
//! draws alike and [`replay`] can feed. [`crate::optim::Adam::apply`] averages its gradients
//! over ranks through [`GradientSync`] before it updates, so every rank keeps identical weights.
//!
//! **Gradient accumulation is the same thing in sequence.** An update that accumulates k
//! micro-batches ([`accumulate`]) runs each phase k times, micro-batch i of rank r being virtual
//! rank `r·k + i` of `N·k` ([`micro_batch`]): [`shard`] and [`rows`] say so, per-sample draws give
//! its rows of the whole update's draw (drawn from the generator in micro-batch 0 and kept for the
//! others, so the generator's stream is the one a single batch of N·k·B would draw), and
//! [`crate::optim::Adam::apply`] sums gradients until the last micro-batch, then averages them
//! (over micro-batches, then over ranks) and updates. Scalar draws (shape `[]`: a style-mixing
//! cutoff, an image pool's coin flips) belong to each run of a phase: every micro-batch draws its
//! own, as StyleGAN2-ADA's accumulation rounds do. Work a family does once per update (moving an
//! EMA, a schedule) checks [`completes_update`].

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

use tch::{Device, Kind, Tensor};

/// Averages gradients over the ranks of a data-parallel run.
pub trait GradientSync {
    /// Replaces `grads` (one optimiser's, in its fixed parameter order, identical on every rank;
    /// undefined tensors are parameters without a gradient) by their mean over ranks. A failure
    /// (a rank gone) is kept for [`Self::failure`] and leaves `grads` as they were.
    fn average(&self, grads: &mut [Tensor]);
    /// The first collective failure, if any (the loop checks it after each step).
    fn failure(&self) -> Option<String>;
}

struct Context {
    rank: i64,
    world: i64,
    sync: Option<Rc<dyn GradientSync>>,
    /// Micro-batches per update ([`accumulate`]).
    accumulate: i64,
    /// The micro-batch being run, while one is ([`micro_batch`]).
    micro: Option<i64>,
}

/// The whole update's per-sample draws of micro-batch 0, in order, handed out again to the
/// micro-batches after it (each keeping its rows).
#[derive(Default)]
struct Drawn {
    draws: Vec<Tensor>,
    next: usize,
}

thread_local! {
    static CONTEXT: RefCell<Context> =
        const { RefCell::new(Context { rank: 0, world: 1, sync: None, accumulate: 1, micro: None }) };
    /// Per-sample draws of this update's micro-batch 0.
    static DRAWN: RefCell<Drawn> = RefCell::new(Drawn::default());
    /// Recorded draws handed out in place of the generator's ([`replay`]).
    static REPLAY: RefCell<Option<VecDeque<Tensor>>> = const { RefCell::new(None) };
}

/// From now on, on this thread, the per-sample draws of this module ([`randn`], [`rand`],
/// [`randint`] and their `_like` forms) return `draws` in order instead of drawing from libtorch's
/// generator: how a reference implementation's recorded random numbers (its latents, its dropout
/// uniforms, its coin flips) are fed to gantry's training code, which draws only through here, so
/// that the two take the same steps (the training-parity tests). Each draw must have the shape
/// and kind asked for (the whole batch's shape in a data-parallel run, whose rank keeps its rows
/// as usual): a mismatch, or a draw asked for after the last recorded one, panics with both
/// shapes, since it means the code under test draws differently from the recording.
pub fn replay(draws: impl IntoIterator<Item = Tensor>) {
    REPLAY.with(|r| *r.borrow_mut() = Some(draws.into_iter().collect()));
}

/// Ends [`replay`], returning the recorded draws that were not used (none when the code under
/// test drew exactly what was recorded).
pub fn end_replay() -> Vec<Tensor> {
    REPLAY.with(|r| r.borrow_mut().take().map(Vec::from).unwrap_or_default())
}

/// The next recorded draw, if replaying: checked against the shape and kind asked for.
fn replayed(shape: &[i64], options: (Kind, Device)) -> Option<Tensor> {
    REPLAY.with(|r| {
        let mut r = r.borrow_mut();
        let queue = r.as_mut()?;
        let Some(t) = queue.pop_front() else {
            panic!("replay: a draw of shape {shape:?} was asked for after every recorded draw was used");
        };
        assert!(
            t.size() == shape && t.kind() == options.0,
            "replay: the next recorded draw is {:?} {:?}, the code asked for {shape:?} {:?}",
            t.size(),
            t.kind(),
            options.0
        );
        Some(t.to_device(options.1))
    })
}

/// Makes this thread rank `rank` of `world`, averaging gradients through `sync`.
pub fn join(rank: i64, world: i64, sync: Rc<dyn GradientSync>) {
    assert!(world >= 1 && (0..world).contains(&rank), "rank {rank} of {world}");
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        (c.rank, c.world, c.sync) = (rank, world, Some(sync));
    });
}

/// Back to one process.
pub fn leave() {
    CONTEXT.with(|c| {
        let mut c = c.borrow_mut();
        (c.rank, c.world, c.sync) = (0, 1, None);
    });
}

/// (rank, world) of this thread: (0, 1) without data parallelism. Within a micro-batch
/// ([`micro_batch`]), the virtual rank `r·k + i` of `N·k`, whose rows of the whole update's batch
/// it trains on.
pub fn shard() -> (i64, i64) {
    CONTEXT.with(|c| {
        let c = c.borrow();
        match c.micro {
            Some(i) => (c.rank * c.accumulate + i, c.world * c.accumulate),
            None => (c.rank, c.world),
        }
    })
}

/// The processes of the run (N), whatever micro-batch is being run: what
/// [`mean_over_ranks`] averages over.
pub fn processes() -> i64 {
    CONTEXT.with(|c| c.borrow().world)
}

/// From now on, on this thread, every optimiser update accumulates `k` micro-batches (1: none),
/// until the returned guard is dropped. The training loop sets it from `train.accumulate` before
/// it loads the data (each rank's batch is then k micro-batches) and builds the family.
#[must_use = "accumulation ends when the guard is dropped"]
pub fn accumulate(k: i64) -> Accumulation {
    assert!(k >= 1, "accumulate {k}");
    CONTEXT.with(|c| c.borrow_mut().accumulate = k);
    Accumulation(())
}

/// Ends [`accumulate`] when dropped.
#[derive(Debug)]
pub struct Accumulation(());

impl Drop for Accumulation {
    fn drop(&mut self) {
        CONTEXT.with(|c| {
            let mut c = c.borrow_mut();
            (c.accumulate, c.micro) = (1, None);
        });
        DRAWN.with(|d| *d.borrow_mut() = Drawn::default());
    }
}

/// Micro-batches per update ([`accumulate`]; 1 without accumulation).
pub fn accumulation() -> i64 {
    CONTEXT.with(|c| c.borrow().accumulate)
}

/// Runs `f` as micro-batch `i` of the [`accumulation`]'s: the loop runs each phase of a step once
/// per micro-batch, in order, on its rows of the rank's batch. Micro-batch 0 draws the update's
/// per-sample values, the others take their rows of the same draws.
pub fn micro_batch<T>(i: i64, f: impl FnOnce() -> T) -> T {
    let k = accumulation();
    assert!((0..k).contains(&i), "micro-batch {i} of {k}");
    DRAWN.with(|d| {
        let mut d = d.borrow_mut();
        if i == 0 {
            d.draws.clear();
        }
        d.next = 0;
    });
    CONTEXT.with(|c| c.borrow_mut().micro = Some(i));
    let out = f();
    CONTEXT.with(|c| c.borrow_mut().micro = None);
    if i == k - 1 {
        DRAWN.with(|d| *d.borrow_mut() = Drawn::default());
    }
    out
}

/// (i, k): micro-batch i of the k an update accumulates; (0, 1) outside accumulation.
pub fn micro() -> (i64, i64) {
    CONTEXT.with(|c| {
        let c = c.borrow();
        match c.micro {
            Some(i) => (i, c.accumulate),
            None => (0, 1),
        }
    })
}

/// Whether the optimiser updates made now take effect: always, except in a micro-batch before the
/// last of an accumulated update (whose gradients [`crate::optim::Adam::apply`] keeps for the
/// last). What a family does once per update (moving an EMA, counting images for a schedule)
/// does it when this holds.
pub fn completes_update() -> bool {
    let (i, k) = micro();
    i == k - 1
}

/// The first collective failure of this thread's gradient averaging.
pub fn failure() -> Option<String> {
    CONTEXT.with(|c| c.borrow().sync.as_ref().and_then(|s| s.failure()))
}

/// Rows `r·n/N .. (r+1)·n/N` of a batch of `n` rows: this rank's share of the whole batch, as
/// (start, count).
pub fn rows(n: i64) -> (i64, i64) {
    let (r, world) = shard();
    rows_of(r, world, n)
}

/// Rank `r`'s rows of `n` among `world` ranks (see [`rows`]).
pub fn rows_of(r: i64, world: i64, n: i64) -> (i64, i64) {
    let start = r * n / world;
    (start, (r + 1) * n / world - start)
}

/// `draw(shape with its first dimension × N)` (or the next [`replay`]ed draw of that shape), then
/// this rank's rows: per-sample random values that equal rows `r·B..` of one process's draw for
/// the whole batch.
fn per_sample(shape: &[i64], options: (Kind, Device), draw: impl FnOnce(&[i64]) -> Tensor) -> Tensor {
    let draw = |s: &[i64]| replayed(s, options).unwrap_or_else(|| draw(s));
    let (r, world) = shard();
    match shape.first() {
        Some(&b) if world > 1 => {
            let mut wide = shape.to_vec();
            wide[0] = b * world;
            let (i, k) = micro();
            let whole = if i == 0 {
                draw(&wide)
            } else {
                drawn_again(&wide, options.0).unwrap_or_else(|| draw(&wide))
            };
            if k > 1 && i == 0 {
                DRAWN.with(|d| d.borrow_mut().draws.push(whole.shallow_clone()));
            }
            whole.narrow(0, r * b, b)
        }
        _ => draw(shape),
    }
}

/// The next of micro-batch 0's per-sample draws, if it has the shape and kind asked for (an
/// uneven last micro-batch, whose rows number differently, draws its own).
fn drawn_again(shape: &[i64], kind: Kind) -> Option<Tensor> {
    DRAWN.with(|d| {
        let mut d = d.borrow_mut();
        let t = d.draws.get(d.next)?.shallow_clone();
        d.next += 1;
        (t.size() == shape && t.kind() == kind).then_some(t)
    })
}

/// N(0, 1) per sample of a batch of `shape[0]` (see the module docs). Values asked for in a
/// lower precision (bfloat16, float16: a tensor made under mixed precision) are drawn in float32
/// and rounded, so that the generator's stream, and the values, are float32's.
pub fn randn(shape: &[i64], options: (Kind, Device)) -> Tensor {
    per_sample(shape, options, |s| Tensor::randn(s, drawn_as(options)).to_kind(options.0))
}

/// U[0, 1) per sample of a batch of `shape[0]` (lower precisions drawn as [`randn`] draws them).
pub fn rand(shape: &[i64], options: (Kind, Device)) -> Tensor {
    per_sample(shape, options, |s| Tensor::rand(s, drawn_as(options)).to_kind(options.0))
}

/// The options a floating-point draw is made with: float32 for a lower precision.
fn drawn_as((kind, device): (Kind, Device)) -> (Kind, Device) {
    match kind {
        Kind::BFloat16 | Kind::Half => (Kind::Float, device),
        k => (k, device),
    }
}

/// Integers in `0..high` per sample of a batch of `shape[0]`.
pub fn randint(high: i64, shape: &[i64], options: (Kind, Device)) -> Tensor {
    per_sample(shape, options, |s| Tensor::randint(high, s, options))
}

/// Integers in `low..high` per sample of a batch of `shape[0]` (a scalar for shape `[]`).
pub fn randint_low(low: i64, high: i64, shape: &[i64], options: (Kind, Device)) -> Tensor {
    per_sample(shape, options, |s| Tensor::randint_low(low, high, s, options))
}

/// [`randn`] shaped, typed and placed like `x`.
pub fn randn_like(x: &Tensor) -> Tensor {
    randn(&x.size(), (x.kind(), x.device()))
}

/// [`rand`] shaped, typed and placed like `x`.
pub fn rand_like(x: &Tensor) -> Tensor {
    rand(&x.size(), (x.kind(), x.device()))
}

/// `values` averaged over ranks through the run's gradient averaging (the same values, copied,
/// without data parallelism): statistics every rank must agree on, such as ADA's r_t.
pub fn mean_over_ranks(values: &[Tensor]) -> Vec<Tensor> {
    average_gradients(values).unwrap_or_else(|| values.iter().map(Tensor::copy).collect())
}

/// `grads` averaged over ranks (unchanged without data parallelism).
pub(crate) fn average_gradients(grads: &[Tensor]) -> Option<Vec<Tensor>> {
    let sync = CONTEXT.with(|c| c.borrow().sync.clone())?;
    let mut out: Vec<Tensor> = grads.iter().map(Tensor::shallow_clone).collect();
    sync.average(&mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Halve;
    impl GradientSync for Halve {
        fn average(&self, grads: &mut [Tensor]) {
            for g in grads.iter_mut().filter(|g| g.defined()) {
                *g = &*g / 2.0;
            }
        }
        fn failure(&self) -> Option<String> {
            None
        }
    }

    #[test]
    fn ranks_draw_their_rows_of_the_whole_batch() {
        let _generator = crate::generator_lock();
        let opts = (Kind::Float, Device::Cpu);
        tch::manual_seed(7);
        let whole = Tensor::randn([6, 3], opts);
        let whole_u = Tensor::rand([6, 2, 2], opts);
        for r in 0..3 {
            join(r, 3, Rc::new(Halve));
            tch::manual_seed(7);
            assert!(randn(&[2, 3], opts).equal(&whole.narrow(0, 2 * r, 2)));
            assert!(rand(&[2, 2, 2], opts).equal(&whole_u.narrow(0, 2 * r, 2)));
            assert_eq!(rows(6), (2 * r, 2));
            assert_eq!(rows(7), ([0, 2, 4][r as usize], [2, 2, 3][r as usize]));
        }
        leave();
        tch::manual_seed(7);
        assert!(randn(&[6, 3], opts).equal(&whole));
        assert_eq!(shard(), (0, 1));
    }

    #[test]
    fn micro_batches_draw_their_rows_of_the_whole_update_and_leave_the_stream_as_it() {
        let _generator = crate::generator_lock();
        let opts = (Kind::Float, Device::Cpu);
        // One batch of 6: its draws, a scalar, and what the generator gives next.
        let whole = |rows: i64| {
            let z = Tensor::randn([rows, 2], opts);
            let u = Tensor::rand([rows, 1], opts);
            let c = Tensor::rand([], opts);
            (z, u, c)
        };
        tch::manual_seed(11);
        let (z, u, cut) = whole(6);
        let _ = (Tensor::rand([], opts), Tensor::rand([], opts));
        let next = Tensor::rand([3], opts);
        // 3 micro-batches of 2: each gets its rows; micro-batch 0 draws the scalar one batch
        // would, the others their own, after which the stream goes on as one batch's would have
        // after two more scalars.
        let acc = accumulate(3);
        tch::manual_seed(11);
        for i in 0..3 {
            micro_batch(i, || {
                assert_eq!((shard(), processes(), completes_update()), ((i, 3), 1, i == 2));
                assert!(randn(&[2, 2], opts).equal(&z.narrow(0, 2 * i, 2)), "micro-batch {i}");
                assert!(rand(&[2, 1], opts).equal(&u.narrow(0, 2 * i, 2)), "micro-batch {i}");
                assert_eq!(rand(&[], opts).equal(&cut), i == 0, "micro-batch {i}: its own scalar");
            });
        }
        assert_eq!(shard(), (0, 1));
        assert!(Tensor::rand([3], opts).equal(&next));
        drop(acc);
        // Rank 1 of 2, 2 micro-batches of 1 row: virtual ranks 2 and 3 of 4 of a batch of 4.
        tch::manual_seed(11);
        let (z4, u4, _) = whole(4);
        let acc = accumulate(2);
        join(1, 2, Rc::new(Halve));
        tch::manual_seed(11);
        for i in 0..2 {
            micro_batch(i, || {
                assert_eq!((shard(), processes(), micro()), ((2 + i, 4), 2, (i, 2)));
                assert!(randn(&[1, 2], opts).equal(&z4.narrow(0, 2 + i, 1)), "micro-batch {i}");
                assert!(rand(&[1, 1], opts).equal(&u4.narrow(0, 2 + i, 1)), "micro-batch {i}");
                let _ = rand(&[], opts);
            });
        }
        leave();
        drop(acc);
        assert_eq!((accumulation(), micro()), (1, (0, 1)));
    }

    #[test]
    fn adam_accumulates_micro_batches_into_one_update_with_their_mean() {
        use crate::optim::{Adam, AdamConfig};
        let cfg = AdamConfig { lr: 0.1, weight_decay: 0.01, ..Default::default() };
        let build = || {
            let vs = tch::nn::VarStore::new(Device::Cpu);
            let _a = vs.root().ones("a", &[2]);
            let _b = vs.root().ones("b", &[1]);
            let opt = Adam::new(&vs, cfg);
            (vs, opt)
        };
        let g = |x: &[f32]| Tensor::from_slice(x);
        let (vs1, mut plain) = build();
        plain.apply(&[g(&[0.5, -1.0]), g(&[0.25])]);
        plain.apply(&[g(&[0.2, 0.4]), g(&[-1.0])]);
        let (vs2, mut acc) = build();
        let guard = accumulate(2);
        for (i, grads) in
            [[g(&[0.75, -1.5]), Tensor::new()], [g(&[0.25, -0.5]), g(&[0.5])]].iter().enumerate()
        {
            micro_batch(i as i64, || acc.apply(grads));
            assert_eq!(acc.steps(), i as i64, "no update before the last micro-batch");
        }
        for (i, grads) in [[g(&[0.3, 0.8]), g(&[-2.5])], [g(&[0.1, 0.0]), g(&[0.5])]].iter().enumerate() {
            micro_batch(i as i64, || acc.apply(grads));
        }
        drop(guard);
        assert_eq!(acc.steps(), 2);
        let (m1, v1, _) = plain.moments();
        let (m2, v2, _) = acc.moments();
        for (a, b) in m1.iter().chain(v1).zip(m2.iter().chain(v2)) {
            assert!(a.allclose(b, 1e-6, 1e-7, false), "{a:?} vs {b:?}");
        }
        let after = vs2.variables();
        for (name, a) in vs1.variables() {
            assert!(a.allclose(&after[&name], 1e-6, 1e-7, false), "{name}");
        }
    }

    #[test]
    fn replayed_draws_come_back_in_order_then_the_generator_again() {
        let opts = (Kind::Float, Device::Cpu);
        let a = Tensor::from_slice(&[1.0f32, 2.0]).view([2, 1]);
        let b = Tensor::from_slice(&[0.25f32, 0.5, 0.75]).view([3, 1]);
        replay([a.copy(), b.copy(), a.copy()]);
        assert!(randn(&[2, 1], opts).equal(&a));
        assert!(rand(&[3, 1], opts).equal(&b));
        assert_eq!(end_replay().len(), 1);
        // A data-parallel rank keeps its rows of the recorded whole-batch draw.
        replay([b.copy()]);
        join(1, 3, Rc::new(Halve));
        assert!(rand(&[1, 1], opts).equal(&b.narrow(0, 1, 1)));
        leave();
        assert!(end_replay().is_empty());
        let _generator = crate::generator_lock();
        tch::manual_seed(3);
        let plain = Tensor::randn([2, 1], opts);
        tch::manual_seed(3);
        assert!(randn(&[2, 1], opts).equal(&plain));
    }

    #[test]
    #[should_panic(expected = "the code asked for [4, 1]")]
    fn a_draw_of_another_shape_than_recorded_panics() {
        replay([Tensor::zeros([2, 1], (Kind::Float, Device::Cpu))]);
        let _ = randn(&[4, 1], (Kind::Float, Device::Cpu));
    }

    #[test]
    fn adam_averages_through_the_sync() {
        use crate::optim::{Adam, AdamConfig};
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let p = vs.root().ones("p", &[2]);
        let cfg = AdamConfig { lr: 0.1, ..Default::default() };
        // Adam's first step moves by lr·sign(g) whatever |g|: compare the moments instead.
        let mut plain = Adam::new(&vs, cfg);
        plain.apply(&[Tensor::from_slice(&[0.5f32, -1.0])]);
        let mut want = crate::checkpoint::Checkpoint::new();
        plain.save_state("o", &mut want);
        let vs2 = tch::nn::VarStore::new(Device::Cpu);
        let _p2 = vs2.root().ones("p", &[2]);
        let mut synced = Adam::new(&vs2, cfg);
        join(0, 2, Rc::new(Halve));
        synced.apply(&[Tensor::from_slice(&[1.0f32, -2.0])]);
        leave();
        let mut got = crate::checkpoint::Checkpoint::new();
        synced.save_state("o", &mut got);
        assert_eq!(want.tensors.len(), got.tensors.len());
        for (k, a) in &want.tensors {
            assert!(a.equal(&got.tensors[k]), "{k}");
        }
        drop(p);
    }
}

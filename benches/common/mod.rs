//! What the benches share.

/// Sets libtorch's CPU threads to `GANTRY_BENCH_THREADS` (as `cargo xtask bench` passes the peers
/// the same count), or to the machine's parallelism.
pub fn set_bench_threads() {
    let threads: i32 = std::env::var("GANTRY_BENCH_THREADS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get() as i32));
    tch::set_num_threads(threads);
}

/// The memory format a bench trains in: the family's `perf.memory_format = "auto"` choice
/// (`auto`), or `GANTRY_BENCH_MEMORY_FORMAT` (`nchw`, `nhwc`) when set — how the measurements
/// behind each family's choice are taken.
#[allow(dead_code)] // not every bench trains
pub fn memory_format(auto: gantry::core::layout::MemoryFormat) -> gantry::core::layout::MemoryFormat {
    use gantry::core::layout::MemoryFormat;
    match std::env::var("GANTRY_BENCH_MEMORY_FORMAT").as_deref() {
        Ok("nchw") => MemoryFormat::Nchw,
        Ok("nhwc") => MemoryFormat::Nhwc,
        Ok(other) if !other.is_empty() => {
            panic!("GANTRY_BENCH_MEMORY_FORMAT: expected nchw or nhwc, found {other}")
        }
        _ => auto,
    }
}

/// The Adam kernel a bench trains with: new runs' (`presets::perf().fused_adam`), or
/// `GANTRY_BENCH_FUSED_ADAM` (`0`, `1`) when set.
#[allow(dead_code)] // not every bench trains
pub fn fused_adam() -> Option<std::sync::Arc<dyn gantry::core::optim::FusedAdam>> {
    let on = match std::env::var("GANTRY_BENCH_FUSED_ADAM").as_deref() {
        Ok("1") => true,
        Ok("0") => false,
        Ok(other) if !other.is_empty() => panic!("GANTRY_BENCH_FUSED_ADAM: expected 0 or 1, found {other}"),
        _ => gantry::train::presets::perf().fused_adam,
    };
    on.then(|| gantry::train::perf::fused_adam().expect("the facade builds gantry-train with dist"))
}

/// The precision a bench trains in: float32 (None), or `GANTRY_BENCH_PRECISION` (`fp32`,
/// `bf16`, `fp16`) when set.
#[allow(dead_code)] // not every bench trains
pub fn precision() -> Option<tch::Kind> {
    match std::env::var("GANTRY_BENCH_PRECISION").as_deref() {
        Ok("bf16") => Some(tch::Kind::BFloat16),
        Ok("fp16") => Some(tch::Kind::Half),
        Ok("fp32") | Ok("") | Err(_) => None,
        Ok(other) => panic!("GANTRY_BENCH_PRECISION: expected fp32, bf16 or fp16, found {other}"),
    }
}

/// Lays out `family`'s networks in [`memory_format`]`(auto)`, installs [`fused_adam`] and, with
/// [`precision`], autocast (and fp16's loss scaling), as the trainer would; the format, for the
/// batches, and the autocast guard.
#[allow(dead_code)] // not every bench trains
pub fn perf(
    family: &mut dyn gantry::train::family::Family,
    auto: gantry::core::layout::MemoryFormat,
) -> (gantry::core::layout::MemoryFormat, Option<gantry::core::amp::Installed>) {
    let format = memory_format(auto);
    family.networks_mut().set_memory_format(format);
    family.networks_mut().set_fused_adam(fused_adam());
    let kind = precision();
    if kind == Some(tch::Kind::Half) {
        family.networks_mut().set_loss_scaler(Some(Default::default()));
    }
    let amp = kind.map(|k| {
        let switch =
            gantry::train::perf::autocast_switch().expect("the facade builds gantry-train with dist");
        gantry::core::amp::install(switch, tch::Device::Cpu, k)
    });
    (format, amp)
}

/// Benches one training step — every phase of `family` once (phase runs numbered `k`) — as `id` in
/// `group`, on a fixed batch: `n` uniform images `[n, c, s, s]` in [-1, 1] as the reals and, for
/// translation, `ci` input channels beside them; networks and batch in [`memory_format`]`(auto)`,
/// as the trainer lays them out, each phase under autocast with [`precision`].
#[allow(dead_code)] // not every bench trains
pub fn train_step(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    id: &str,
    family: &mut dyn gantry::train::family::Family,
    [n, c, s]: [i64; 3],
    inputs: Option<i64>,
    k: u64,
    auto: gantry::core::layout::MemoryFormat,
) {
    let (format, _amp) = perf(family, auto);
    let uniform = |c: i64| tch::Tensor::rand([n, c, s, s], (tch::Kind::Float, tch::Device::Cpu)) * 2.0 - 1.0;
    let batch =
        gantry::train::family::Batch { images: uniform(c), labels: None, inputs: inputs.map(uniform) }
            .in_format(format);
    let phases = family.phases().len();
    group.bench_function(id, |b| {
        b.iter(|| {
            (0..phases)
                .map(|p| {
                    gantry::core::amp::autocast(|| family.run_phase(p, &batch, k)).expect("a phase runs")
                })
                .collect::<Vec<_>>()
        })
    });
}

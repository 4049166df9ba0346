//! `cargo xtask repro autoencoders`: what the lectures claim for autoencoders that meet
//! adversaries.
//!
//! - **mixture** — the adversarial autoencoder on MNIST with a 2-D code matched to the mixture of
//!   10 Gaussians, unsupervised and label-supervised (Makhzani et al. 2015, Figure 4): the latent
//!   scatter of the test digits over the prior's samples; MMD²(q(z), p(z)) over training (batch
//!   estimates logged by the run) and at the end (2,000 test codes against 2,000 prior samples,
//!   Gaussian kernel with the median-distance bandwidth); the share of each digit's codes in its
//!   own component (supervised) or in its most common one (unsupervised); decoded prior samples.
//! - **parzen** — the paper's Parzen-window log-likelihood of MNIST test digits under the AAE with
//!   an 8-D code and prior N(0, 5²I): 10,000 samples, σ chosen on the grid logspace(−1, 0, 10) by
//!   the first 1,000 test digits, reported on the other 9,000, pixels in [0, 1]; beside it the same
//!   estimate with 10,000 *training digits* as the "samples" — the estimator's known flaw.
//! - **vaegan** — the VAE and the VAE-GAN on the same networks: reconstructions and samples side
//!   by side, PSNR/SSIM of reconstructions of 2,000 test digits, and the domain FID (gantry's
//!   MNIST classifier's features, against the embedded 5k training digits) of reconstructions and
//!   of samples.
//!
//! Writes `scatter-{unsupervised,supervised}.png`, `samples-*.png`, `mmd.png`, `recon.png`,
//! `vae-samples.png`, `summary.json` and `summary.md`. `--check` trains every model for a few
//! steps on the embedded digits with small networks and checks the numbers' ranges.

use anyhow::{ensure, Context, Result};
use gantry_data::Split;
use gantry_metrics::parzen;
use gantry_train::generate::{autoencoder_inputs, encode_all, latents};
use gantry_train::recipes::aae::{mmd_bandwidth, AaeRun};
use gantry_train::recipes::vaegan::VaeganRun;
use serde_json::{json, Value};
use tch::{Device, Kind, Tensor};

use crate::Options;

/// The sections, in order.
pub const SECTIONS: &[(&str, crate::Section)] =
    &[("mixture", mixture), ("parzen", parzen_ll), ("vaegan", vaegan)];

/// Runs the figures (`o.only`: one section).
pub fn run(o: &Options) -> Result<Value> {
    crate::run_sections(o, "autoencoders", SECTIONS, markdown)
}

/// (training data, held-out split, the held-out count) of the full figures (MNIST: its test
/// digits) or the check (the embedded digits, which have no test split).
fn data(o: &Options, full_n: usize) -> (&'static str, Split, usize) {
    if o.check {
        ("mnist-5k", Split::Train, 5000)
    } else {
        ("mnist", Split::Test, full_n)
    }
}

/// An AAE preset sized for the check.
fn aae_run(o: &Options, preset: &str, data: &str, steps: u64) -> Result<gantry_train::config::RunConfig> {
    let mut cfg = crate::short_run(preset, data, steps)?;
    if o.check {
        let s = cfg.family.get_mut::<AaeRun>().context("an aae preset")?;
        (s.model.net.hidden, s.model.d_hidden) = (32, 32);
        cfg.batch_size = 16;
    }
    Ok(cfg)
}

fn mean(t: &Tensor) -> f64 {
    t.to_kind(Kind::Double).mean(Kind::Double).double_value(&[])
}

/// The `key` of every line of a run's `metrics.jsonl`: (step, value).
fn logged(dir: &std::path::Path, key: &str) -> Result<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(dir.join("metrics.jsonl"))?;
    Ok(text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["step"].as_f64()?, v[key].as_f64()?)))
        .collect())
}

/// The AAE with the mixture prior, unsupervised and supervised.
fn mixture(o: &Options) -> Result<Value> {
    let steps = if o.check { 4 } else { 4000 };
    let (train_data, split, n) = data(o, 10_000);
    let mut rows = Vec::new();
    let mut curves = Vec::new();
    for (i, (name, preset)) in [("unsupervised", "aae-mnist-mixture"), ("supervised", "aae-mnist-supervised")]
        .into_iter()
        .enumerate()
    {
        let dir = o.out.join("runs").join(preset);
        let model = crate::trained(aae_run(o, preset, train_data, steps)?, &dir, o)?;
        let ae = model.autoencoder()?;
        let (x, labels) = autoencoder_inputs(&model, train_data, split, Some(n))?;
        let labels = labels.context("MNIST has labels")?;
        let codes = encode_all(&model, &x)?;
        let prior = ae.prior_samples(2000, 1);
        let h = mmd_bandwidth(&ae.prior_samples(500, 0));
        let k = codes.size()[0].min(2000);
        let mmd = parzen::mmd2_gaussian(&codes.narrow(0, 0, k), &prior.narrow(0, 0, k), h);
        // Each code's component; per digit, the share in its own component and in its most common one.
        let comp = ae.component_of(&codes).context("the mixture prior has components")?;
        let mut own = Vec::new();
        let mut top = Vec::new();
        for d in 0..10 {
            let mask = labels.eq(d);
            let count = mask.sum(Kind::Int64).int64_value(&[]);
            if count == 0 {
                continue;
            }
            let c = comp.masked_select(&mask);
            own.push(mean(&c.eq(d).to_kind(Kind::Double)));
            let hist = c.bincount::<Tensor>(None, 10);
            top.push(hist.max().int64_value(&[]) as f64 / count as f64);
        }
        let occupancy: Vec<f64> = {
            let hist = comp.bincount::<Tensor>(None, 10).to_kind(Kind::Double) / comp.size()[0] as f64;
            Vec::try_from(hist)?
        };
        ensure!(mmd.is_finite() && mmd >= -1e-9, "{name}: MMD² {mmd}");
        ensure!(own.iter().chain(&top).all(|v| (0.0..=1.0).contains(v)), "{name}: shares {own:?} {top:?}");
        let classes: Vec<i64> = Vec::try_from(&labels)?;
        let extent = 3.2;
        let img = gantry_train::plot::scatter_classes(
            &codes.narrow(0, 0, codes.size()[0].min(5000)),
            Some(&classes[..classes.len().min(5000)]),
            &prior,
            extent,
            600,
        );
        gantry_core::image::save_png(&img, &o.out.join(format!("scatter-{name}.png")))?;
        // Decoded prior samples: rows by component for the supervised model, free draws otherwise.
        let z = latents(100, model.sampler()?.z_dim(), 2, "repro-aae");
        let samples = match model.family.class_sampler() {
            Some(c) => c.generate_class(
                &z,
                &Tensor::arange(10, (Kind::Int64, Device::Cpu)).repeat_interleave_self_int(10, 0, None),
            )?,
            None => model.sampler()?.generate(&z),
        };
        gantry_core::image::save_grid(&samples, 10, &o.out.join(format!("samples-{name}.png")))?;
        let curve = logged(&dir, "mmd")?;
        curves.push(crate::chart::Series::line(name, curve.clone(), crate::chart::COLORS[i]));
        rows.push(json!({
            "variant": name, "preset": preset, "mmd2_final": mmd, "bandwidth": h,
            "mmd2_batch_over_training": curve,
            "share_in_own_component": own, "share_in_top_component": top,
            "mean_own": own.iter().sum::<f64>() / own.len().max(1) as f64,
            "mean_top": top.iter().sum::<f64>() / top.len().max(1) as f64,
            "component_occupancy": occupancy,
            "final_recon_mse": logged(&dir, "recon_mse")?.last().map(|v| v.1),
        }));
    }
    let panel = crate::chart::Panel {
        title: "MMD²(q(z), p(z)) on training batches".into(),
        x_label: "step".into(),
        y_label: "MMD² (Gaussian kernel)".into(),
        series: curves,
        ..Default::default()
    };
    crate::chart::save(&o.out.join("mmd.png"), &[panel], 1, (640, 400))?;
    Ok(json!({ "steps": steps, "data": train_data, "held_out": n, "variants": rows }))
}

/// The Parzen-window log-likelihood of the AAE with an 8-D Gaussian code.
fn parzen_ll(o: &Options) -> Result<Value> {
    let steps = if o.check { 4 } else { 4000 };
    let (train_data, split, _) = data(o, 10_000);
    let (n_samples, n_valid, n_test) = if o.check { (300, 50, 100) } else { (10_000, 1000, 9000) };
    let dir = o.out.join("runs").join("aae-mnist");
    let model = crate::trained(aae_run(o, "aae-mnist", train_data, steps)?, &dir, o)?;
    let to_unit = |x: &Tensor| ((x.to_device(Device::Cpu).to_kind(Kind::Double) + 1.0) / 2.0).flatten(1, -1);
    let s = model.sampler()?;
    let z = latents(n_samples, s.z_dim(), 3, "repro-parzen");
    let samples: Vec<Tensor> = z.split(1000, 0).iter().map(|b| to_unit(&s.generate(b))).collect();
    let samples = Tensor::cat(&samples, 0);
    let (held, _) = autoencoder_inputs(&model, train_data, split, Some(n_valid + n_test))?;
    let held = ((held.to_kind(Kind::Double) + 1.0) / 2.0).flatten(1, -1);
    let (valid, test) = (
        held.narrow(0, 0, n_valid as i64),
        held.narrow(0, n_valid as i64, (held.size()[0] - n_valid as i64).min(n_test as i64)),
    );
    let grid = parzen::parzen_default_grid();
    let measure = |samples: &Tensor| -> Result<Value> {
        let (sigma, scores) = parzen::parzen_select_sigma(&valid, samples, &grid, 250)?;
        let ll = parzen::parzen_log_likelihood(&test, samples, sigma, 250)?;
        let n = ll.size()[0] as f64;
        let (m, sd) = (mean(&ll), ll.std(true).double_value(&[]));
        ensure!(m.is_finite(), "Parzen log-likelihood {m}");
        Ok(json!({ "sigma": sigma, "grid": scores, "log_likelihood": m, "standard_error": sd / n.sqrt() }))
    };
    let aae = measure(&samples)?;
    // The estimator's flaw: training digits themselves as the "model samples".
    let opts = gantry_data::LoadOptions {
        split: Split::Train,
        size: Some(28),
        channels: Some(1),
        ..Default::default()
    };
    let train = gantry_data::load(train_data, &opts)?.images;
    let train = train.narrow(0, 0, train.size()[0].min(n_samples as i64));
    let memorised = measure(&(train.to_kind(Kind::Double).flatten(1, -1) / 255.0))?;
    Ok(json!({ "steps": steps, "data": train_data, "samples": n_samples, "valid": n_valid,
               "test": test.size()[0], "aae": aae, "training_digits": memorised }))
}

/// VAE against VAE-GAN on the same networks.
fn vaegan(o: &Options) -> Result<Value> {
    let steps = if o.check { 3 } else { 3000 };
    let (train_data, split, n) = data(o, 2000);
    let n = if o.check { 500 } else { n };
    let reference = crate::DomainReference::mnist(o.device)?;
    let mut rows = Vec::new();
    let mut recon_rows: Vec<Tensor> = Vec::new();
    let mut sample_rows: Vec<Tensor> = Vec::new();
    for (name, preset) in [("VAE", "vae-mnist"), ("VAE-GAN", "vaegan-mnist")] {
        let mut cfg = crate::short_run(preset, train_data, steps)?;
        if o.check {
            let s = cfg.family.get_mut::<VaeganRun>().context("a vaegan preset")?;
            (s.model.width, s.model.hidden) = (4, 32);
            cfg.batch_size = 16;
        }
        let dir = o.out.join("runs").join(preset);
        let model = crate::trained(cfg, &dir, o)?;
        let ae = model.autoencoder()?;
        let (x, _) = autoencoder_inputs(&model, train_data, split, Some(n))?;
        let codes = encode_all(&model, &x)?;
        let rec: Vec<Tensor> = codes
            .split(500, 0)
            .iter()
            .map(|z| ae.decode(z).map(|r| r.to_device(Device::Cpu)))
            .collect::<gantry_train::Result<_>>()?;
        let rec = gantry_core::image::to_u8(&Tensor::cat(&rec, 0));
        let orig = gantry_core::image::to_u8(&x);
        let psnr = mean(&gantry_metrics::similarity::psnr(&rec, &orig, 255.0)?);
        let ssim = mean(&gantry_metrics::similarity::ssim(&rec, &orig, 255.0)?);
        let s = model.sampler()?;
        let z = latents(n, s.z_dim(), 5, "repro-vaegan");
        let samples: Vec<Tensor> =
            z.split(500, 0).iter().map(|b| s.generate(b).to_device(Device::Cpu)).collect();
        let samples = gantry_core::image::to_u8(&Tensor::cat(&samples, 0));
        let fid_rec = reference.fid(&reference.classifier.features_and_logits(&rec)?.0)?;
        let fid_samples = reference.fid(&reference.classifier.features_and_logits(&samples)?.0)?;
        let fid_originals = reference.fid(&reference.classifier.features_and_logits(&orig)?.0)?;
        ensure!(
            psnr.is_finite()
                && (-1.0..=1.0).contains(&ssim)
                && fid_rec.is_finite()
                && fid_samples.is_finite(),
            "{name}: PSNR {psnr}, SSIM {ssim}, FID {fid_rec} / {fid_samples}"
        );
        if recon_rows.is_empty() {
            recon_rows.push(orig.narrow(0, 0, 12));
        }
        recon_rows.push(rec.narrow(0, 0, 12));
        sample_rows.push(samples.narrow(0, 0, 24));
        rows.push(json!({ "model": name, "preset": preset, "psnr": psnr, "ssim": ssim,
                          "fid_reconstructions": fid_rec, "fid_samples": fid_samples,
                          "fid_held_out_originals": fid_originals,
                          "final_kl": logged(&dir, "kl")?.last().map(|v| v.1) }));
    }
    let grid = |rows: &[Tensor], path: &str| -> Result<()> {
        let x = gantry_core::image::from_u8(&Tensor::cat(rows, 0));
        Ok(gantry_core::image::save_grid(&x, 12, &o.out.join(path))?)
    };
    grid(&recon_rows, "recon.png")?;
    grid(&sample_rows, "vae-samples.png")?;
    Ok(json!({ "steps": steps, "data": train_data, "held_out": n, "models": rows }))
}

fn markdown(summary: &Value) -> String {
    let f = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let mut md = String::from("# repro autoencoders\n");
    let m = &summary["mixture"];
    if !m.is_null() {
        md += &format!(
            "\n## AAE, 2-D code, mixture of 10 Gaussians ({} steps on {}, {} held-out digits)\n\n| variant | MMD² end ↓ | digit in its own component | digit in its top component | reconstruction MSE |\n|---|---|---|---|---|\n",
            m["steps"], m["data"].as_str().unwrap_or("?"), m["held_out"]
        );
        for r in m["variants"].as_array().into_iter().flatten() {
            md += &format!(
                "| {} | {:.4} | {:.1}% | {:.1}% | {:.4} |\n",
                r["variant"].as_str().unwrap_or("?"),
                f(&r["mmd2_final"]),
                100.0 * f(&r["mean_own"]),
                100.0 * f(&r["mean_top"]),
                f(&r["final_recon_mse"])
            );
        }
        for r in m["variants"].as_array().into_iter().flatten() {
            let shares: Vec<String> = r["share_in_own_component"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(d, v)| format!("{d}: {:.0}%", 100.0 * f(v)))
                .collect();
            md += &format!(
                "\n{} — each digit's share in its own component: {}\n",
                r["variant"].as_str().unwrap_or("?"),
                shares.join(", ")
            );
        }
    }
    let p = &summary["parzen"];
    if !p.is_null() {
        md += &format!(
            "\n## Parzen-window log-likelihood (AAE, 8-D code, N(0, 5²I), {} steps on {})\n\n{} samples; σ chosen on {} held-out digits; reported on {}.\n\n| samples | σ | log-likelihood (nats) |\n|---|---|---|\n| AAE | {:.3} | {:.1} ± {:.1} |\n| training digits themselves | {:.3} | {:.1} ± {:.1} |\n",
            p["steps"], p["data"].as_str().unwrap_or("?"), p["samples"], p["valid"], p["test"],
            f(&p["aae"]["sigma"]), f(&p["aae"]["log_likelihood"]), f(&p["aae"]["standard_error"]),
            f(&p["training_digits"]["sigma"]), f(&p["training_digits"]["log_likelihood"]), f(&p["training_digits"]["standard_error"]),
        );
    }
    let v = &summary["vaegan"];
    if !v.is_null() {
        md += &format!(
            "\n## VAE vs VAE-GAN ({} steps each on {}, {} held-out digits)\n\n| model | PSNR of reconstructions (dB) ↑ | SSIM ↑ | FID of reconstructions ↓ | FID of samples ↓ |\n|---|---|---|---|---|\n",
            v["steps"], v["data"].as_str().unwrap_or("?"), v["held_out"]
        );
        for r in v["models"].as_array().into_iter().flatten() {
            md += &format!(
                "| {} | {:.2} | {:.3} | {:.2} | {:.2} |\n",
                r["model"].as_str().unwrap_or("?"),
                f(&r["psnr"]),
                f(&r["ssim"]),
                f(&r["fid_reconstructions"]),
                f(&r["fid_samples"])
            );
        }
        if let Some(r) = v["models"].as_array().and_then(|a| a.first()) {
            md += &format!(
                "\nThe held-out originals themselves: domain FID {:.2}.\n",
                f(&r["fid_held_out_originals"])
            );
        }
    }
    md
}

//! `gantry-repro NAME [--out DIR] [--check] [--device D]`: regenerates a set of figures
//! (`cargo xtask repro NAME` builds and runs this).

use std::path::PathBuf;

use anyhow::{bail, Result};
use clap::Parser;
use gantry_repro as repro;

#[derive(Parser)]
#[command(name = "gantry-repro", about = "Regenerate gantry's figures")]
struct Cli {
    /// Which figures (see `--list`).
    name: Option<String>,
    /// Output folder (default target/repro/NAME).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Tiny budget and assertions on the numbers, for tests.
    #[arg(long)]
    check: bool,
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Only this section of a set that has several (translation: pix2pix, cyclegan, superres);
    /// the others' numbers are kept from the folder's summary.json.
    #[arg(long)]
    only: Option<String>,
    /// Keep the runs already finished under the same configuration in the output folder and only
    /// measure them again (after a change to the measurements, not to training).
    #[arg(long)]
    reuse: bool,
    /// List the figure sets.
    #[arg(long)]
    list: bool,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {}", format!("{e:#}").split_whitespace().collect::<Vec<_>>().join(" "));
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    if cli.list || cli.name.is_none() {
        for (name, what) in repro::FIGURES {
            println!("{name:<12} {what}");
        }
        return Ok(());
    }
    let name = cli.name.unwrap_or_default();
    let out = cli.out.unwrap_or_else(|| PathBuf::from("target/repro").join(&name));
    let device = gantry_core::device::parse_device(&cli.device)?;
    if cli.only.is_some() && !["translation", "autoencoders", "collapse", "biggan"].contains(&name.as_str()) {
        bail!("--only: the '{name}' figures have no sections");
    }
    // gantry-train's families and BigGAN's, as the gantry command has them.
    gantry_biggan::family::register(gantry_train::registry::Registry::builtin())?.install();
    let o = repro::Options { out: out.clone(), check: cli.check, only: cli.only, device, reuse: cli.reuse };
    let summary = match name.as_str() {
        "divergences" => repro::divergences::run(&o)?,
        "collapse" => repro::collapse::run(&o)?,
        "conditioning" => repro::conditioning::run(&o)?,
        "truncation" => repro::truncation::run(&o)?,
        "stylegan" => repro::stylegan::run(&o)?,
        "translation" => repro::translation::run(&o)?,
        "autoencoders" => repro::autoencoders::run(&o)?,
        "few-shot" => repro::few_shot::run(&o)?,
        "biggan" => repro::biggan::run(&o)?,
        other => bail!(
            "unknown figure set '{other}': expected one of {}",
            repro::FIGURES.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
        ),
    };
    println!("{}", std::fs::read_to_string(out.join("summary.md")).unwrap_or_default());
    if cli.check {
        println!("check passed: {}", summary["check"]);
    }
    println!("figures in {}", out.display());
    Ok(())
}

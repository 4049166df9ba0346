//! Writes every fuzz target's seeds into `DIR/<target>/seed-N` (`cargo xtask fuzz` runs it to
//! start each target's corpus).

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(std::path::PathBuf::from) else {
        eprintln!("usage: fuzz-seeds DIR");
        std::process::exit(2);
    };
    for t in gantry_fuzz::TARGETS {
        let d = dir.join(t.name);
        if let Err(e) = std::fs::create_dir_all(&d) {
            eprintln!("error: cannot create {}: {e}", d.display());
            std::process::exit(1);
        }
        for (i, s) in gantry_fuzz::seeds(t.name).iter().enumerate() {
            if let Err(e) = std::fs::write(d.join(format!("seed-{i}")), s) {
                eprintln!("error: cannot write {}: {e}", d.display());
                std::process::exit(1);
            }
        }
    }
}

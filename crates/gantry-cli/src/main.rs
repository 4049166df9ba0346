//! The `gantry` binary: the command line of [`gantry_cli`] over gantry's own families.

fn main() {
    gantry_cli::main()
}

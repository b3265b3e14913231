//! `arbiter`: the command-line entry point (see the library, `src/lib.rs`).

// Judging allocates many small values (Rego values, JSON trees) from two
// threads; mimalloc is markedly faster at that than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    arbiter_cli::main()
}

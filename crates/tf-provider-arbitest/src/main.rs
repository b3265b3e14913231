//! The plugin binary Terraform starts (`terraform-provider-arbitest`).

use std::process::ExitCode;

/// What Terraform sets for its plugins (go-plugin's handshake).
const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
const MAGIC_COOKIE_VALUE: &str = "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

fn main() -> ExitCode {
    if std::env::var(MAGIC_COOKIE_KEY).as_deref() != Ok(MAGIC_COOKIE_VALUE) {
        eprintln!(
            "terraform-provider-arbitest is a Terraform plugin: Terraform starts it (see the README's \"Test provider\" section)."
        );
        return ExitCode::FAILURE;
    }
    // tf-provider attaches a backtrace to every diagnostic when
    // RUST_BACKTRACE/RUST_LIB_BACKTRACE ask for one, and Terraform shows it in
    // its error messages: never capture one. Set before any thread exists.
    std::env::set_var("RUST_LIB_BACKTRACE", "0");
    exit_when_orphaned();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("terraform-provider-arbitest: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let served = runtime.block_on(tf_provider::serve(
        tf_provider_arbitest::PROVIDER_NAME,
        tf_provider_arbitest::ArbitestProvider::default(),
    ));
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("terraform-provider-arbitest: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Terraform stops its plugins through gRPC; when Terraform itself is killed
/// (SIGKILL of a worker mid-apply), nothing would stop this one, which would
/// go on serving forever and finish a delayed write nobody waits for. Exit
/// as soon as the parent is gone (the process is re-parented).
fn exit_when_orphaned() {
    use std::io::Write;
    use std::os::unix::process::parent_id;
    let parent = parent_id();
    let watcher = std::thread::Builder::new()
        .name("parent-watch".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if parent_id() != parent {
                // Not eprintln!: it panics when Terraform's end of the pipe is gone.
                let _ = writeln!(
                    std::io::stderr(),
                    "terraform-provider-arbitest: Terraform (pid {parent}) is gone; exiting"
                );
                std::process::exit(3);
            }
        });
    if let Err(e) = watcher {
        eprintln!("terraform-provider-arbitest: cannot watch the parent process: {e}");
    }
}

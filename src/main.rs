//! The `pulse` binary: parse the command line, run it, map errors to exit codes.

use clap::Parser;
use pulse::cli::Cli;
use pulse::config::ConfigError;
use std::process::ExitCode;

// sled allocates per operation; mimalloc made ingest markedly faster than glibc malloc
// (see README, Performance).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    pulse::logging::init(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pulse: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`pulse mentions X | head`) is not a failure.
            let broken_pipe = e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .map(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
                    .or_else(|| {
                        c.downcast_ref::<serde_json::Error>()
                            .map(|j| j.io_error_kind() == Some(std::io::ErrorKind::BrokenPipe))
                    })
                    .unwrap_or(false)
            });
            if broken_pipe {
                return ExitCode::SUCCESS;
            }
            eprintln!("pulse: {e:#}");
            if e.downcast_ref::<ConfigError>().is_some() {
                ExitCode::from(2)
            } else {
                ExitCode::from(1)
            }
        }
    }
}

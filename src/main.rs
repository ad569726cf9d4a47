//! The `sloop` binary: parses the command line and hands over to [`sloop::cli`].

fn main() -> std::process::ExitCode {
    sloop::cli::main()
}

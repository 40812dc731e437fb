//! The `gate402` binary.

fn main() -> std::process::ExitCode {
    gate402::cli::main()
}

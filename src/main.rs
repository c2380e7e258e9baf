fn main() -> std::process::ExitCode {
    entraform::cli::main()
}

fn main() -> std::process::ExitCode {
    omni_host::cli::main()
}

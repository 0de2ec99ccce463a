fn main() -> std::process::ExitCode {
    paylink::cli::main()
}

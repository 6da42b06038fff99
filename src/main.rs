fn main() {
    std::process::exit(dyag::cli::main());
}

/// mimalloc instead of glibc's malloc (see `paylink-alloc`).
#[global_allocator]
static ALLOCATOR: paylink_alloc::Allocator = paylink_alloc::Allocator;

fn main() -> std::process::ExitCode {
    paylink_alloc::tune();
    paylink::cli::main()
}

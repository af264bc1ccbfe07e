// The runner's data parsers, compiled from their own source files.
#[allow(dead_code)]
pub mod data {
    #[path = "../../../src/data/idx.rs"]
    pub mod idx;
    #[path = "../../../src/data/cifar.rs"]
    pub mod cifar;
}

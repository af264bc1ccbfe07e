#![no_main]
//! Any bytes: the CIFAR-10 record parser returns a result, never panics, and keeps its
//! outputs unchanged on error.

mod parsers;

use libfuzzer_sys::fuzz_target;
use parsers::cifar;

fuzz_target!(|bytes: &[u8]| {
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    match cifar::parse_records(bytes, &mut pixels, &mut labels) {
        Ok(()) => {
            assert_eq!(labels.len() * cifar::RECORD, bytes.len());
            assert_eq!(pixels.len(), labels.len() * cifar::PIXELS);
            assert!(labels.iter().all(|&l| l <= 9));
        }
        Err(_) => assert!(labels.is_empty()),
    }
});

#![no_main]
//! Any bytes: the IDX parsers return a result, never panic, and what they accept is consistent.

mod parsers;

use libfuzzer_sys::fuzz_target;
use parsers::idx;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(images) = idx::parse_images(bytes) {
        assert_eq!(images.pixels.len(), images.count() * images.rows * images.cols);
        assert_eq!(images.pixels.len() + 16, bytes.len());
    }
    if let Ok(labels) = idx::parse_labels(bytes) {
        assert!(labels.iter().all(|&l| l <= 9));
        assert_eq!(labels.len() + 8, bytes.len());
    }
});

#![no_main]
//! Any bytes: the CIFAR-10 record parser returns a result, never panics, and keeps nothing of a
//! file it rejects. Half the inputs are padded to whole records so that the label checks are
//! reached too (raw fuzz input is almost never a multiple of 3073 bytes).

mod parsers;

use libfuzzer_sys::fuzz_target;
use parsers::cifar;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else { return };
    let mut bytes = rest.to_vec();
    if mode % 2 == 0 && !bytes.is_empty() {
        // Records' first bytes (the labels) come from the input; the rest stays as given or zero.
        let records = bytes.len().div_ceil(cifar::RECORD).max(1);
        let labels: Vec<u8> = bytes.iter().copied().take(records).collect();
        bytes.resize(records * cifar::RECORD, 0);
        for (i, label) in labels.into_iter().enumerate() {
            bytes[i * cifar::RECORD] = label % 12;
        }
    }
    let (mut pixels, mut labels) = (vec![7u8; 3], vec![1u8]);
    match cifar::parse_records(&bytes, &mut pixels, &mut labels) {
        Ok(()) => {
            assert_eq!((labels.len() - 1) * cifar::RECORD, bytes.len());
            assert_eq!(pixels.len() - 3, (labels.len() - 1) * cifar::PIXELS);
            assert!(labels.iter().all(|&l| l <= 9));
        }
        Err(_) => assert_eq!((pixels.as_slice(), labels.as_slice()), (&[7u8; 3][..], &[1u8][..])),
    }
});

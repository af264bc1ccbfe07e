//! What a trial needs in memory to train, estimated before it starts: the weights, their
//! gradients and the optimizer's state, and the activations of one batch kept for the backward
//! pass with their gradients. A lower bound (workspace buffers are left out): a trial above the
//! machine's memory certainly cannot run, and is refused instead of dying in an allocation.

use super::Architecture;
use crate::catalog::ImageShape;

/// Bytes of one value (f32).
const VALUE: u128 = 4;

/// The estimate, in bytes, of training `architecture` on images of `shape` in batches of
/// `batch`, with `optimizer_states` values of state per parameter (0 for plain SGD, 1 with
/// momentum, 2 for Adam).
pub fn training_bytes(architecture: &Architecture, shape: ImageShape, batch: u128, optimizer_states: u128) -> u128 {
    let parameters = super::parameter_count(architecture, shape);
    let weights = parameters * (2 + optimizer_states);
    // Per image: the input, then each layer's outputs kept for the backward pass.
    let norm = u128::from(architecture.batch_norm);
    let mut per_image = shape.pixels() as u128;
    for &(_, out, h, w) in &architecture.convs(shape) {
        let map = out * h * w;
        // conv (and its batch norm), ReLU, then the 2x2 max pool's output.
        per_image += map * (2 + norm) + out * (h / 2) * (w / 2);
    }
    let sizes = architecture.dense_sizes(shape);
    for (i, &width) in sizes.iter().enumerate().skip(1) {
        let hidden = i + 1 < sizes.len();
        // linear (and batch norm, ReLU, dropout's mask) for a hidden layer; the logits last.
        per_image += if hidden { width * (2 + norm + u128::from(architecture.dropout > 0.0)) } else { width };
    }
    // Each activation has a gradient of its size in the backward pass.
    VALUE * (weights + 2 * batch * per_image)
}

/// The machine's physical memory in bytes, if the system says (Linux: /proc/meminfo).
pub fn machine_bytes() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// `bytes` for people: "850 MB", "12.3 GB".
pub fn human(bytes: u128) -> String {
    let mb = bytes as f64 / 1e6;
    if mb < 1000.0 { format!("{mb:.0} MB") } else { format!("{:.1} GB", mb / 1000.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ModelKind, Spec};

    const MNIST: ImageShape = ImageShape { channels: 1, height: 28, width: 28 };

    #[test]
    fn the_seed_models_need_little_and_a_4096_channel_conv_at_batch_1000_needs_tens_of_gigabytes() {
        let seed = Spec::default().architecture(10);
        // Seed CNN: 225,034 weights x 2, and per image 784 + 32*26*26*2 + 32*13*13 + 64*11*11*2 +
        // 64*5*5 + 128*2 + 10 values, at batch 100.
        let per_image: u128 = 784 + 32 * 26 * 26 * 2 + 32 * 13 * 13 + 64 * 11 * 11 * 2 + 64 * 5 * 5 + 128 * 2 + 10;
        assert_eq!(training_bytes(&seed, MNIST, 100, 0), 4 * (225_034 * 2 + 2 * 100 * per_image));
        assert!(training_bytes(&seed, MNIST, 100, 0) < 100_000_000);
        let nn = Spec { model: ModelKind::Nn, ..Spec::default() }.architecture(10);
        assert!(training_bytes(&nn, MNIST, 100, 2) < 5_000_000);
        // The case: it died allocating 11 GB for one conv output of the batch.
        let wide = Spec { conv_channels: vec![4096], ..Spec::default() }.architecture(10);
        let bytes = training_bytes(&wide, MNIST, 1000, 0);
        assert!(bytes > 11_075_584_000 * 2, "{}", human(bytes));
        assert_eq!(human(850_000_000), "850 MB");
        assert_eq!(human(12_340_000_000), "12.3 GB");
    }
}

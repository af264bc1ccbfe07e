//! Parquet files written as the `datasets` library writes an image-classification split (an
//! image struct `{bytes, path}`, a label column, the features in the `huggingface` metadata): what
//! the tests and the benchmark serve from a local Hub, built from real images.

use std::path::Path;
use std::sync::Arc;

use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;

/// A split's labels: class indices (with the ClassLabel's names, or plain integers), or text.
pub enum FixtureLabels<'a> {
    ClassLabel(&'a [i64], &'a [String]),
    Plain(&'a [i64]),
    Text(&'a [String]),
}

/// Writes one Parquet file of `images` (PNG/JPEG bytes) and `labels` to `path`, in row groups of
/// at most 1000 rows as `datasets` does, compressed with snappy.
pub fn write_split(
    path: &Path,
    images: &[Vec<u8>],
    labels: FixtureLabels,
    image_column: &str,
    label_column: &str,
) -> std::io::Result<()> {
    let label_type = match labels {
        FixtureLabels::Text(_) => "binary",
        _ => "int64",
    };
    let label_note = if matches!(labels, FixtureLabels::Text(_)) { " (STRING)" } else { "" };
    let schema = parse_message_type(&format!(
        "message schema {{ optional group {image_column} {{ optional binary bytes; optional binary path (STRING); }} \
         optional {label_type} {label_column}{label_note}; }}"
    ))
    .map_err(std::io::Error::other)?;
    let label_feature = match labels {
        FixtureLabels::ClassLabel(_, names) => serde_json::json!({"names": names, "_type": "ClassLabel"}),
        FixtureLabels::Plain(_) => serde_json::json!({"dtype": "int64", "_type": "Value"}),
        FixtureLabels::Text(_) => serde_json::json!({"dtype": "string", "_type": "Value"}),
    };
    let features = serde_json::json!({"info": {"features": {
        image_column: {"_type": "Image"},
        label_column: label_feature,
    }}});
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(vec![KeyValue::new(super::table::FEATURES_KEY.into(), features.to_string())]))
        .build();
    let file = std::fs::File::create(path)?;
    let mut writer =
        SerializedFileWriter::new(file, Arc::new(schema), Arc::new(properties)).map_err(std::io::Error::other)?;
    let rows = images.len();
    for start in (0..rows).step_by(1000) {
        let end = (start + 1000).min(rows);
        let mut group = writer.next_row_group().map_err(std::io::Error::other)?;
        let mut column = 0;
        while let Some(mut col) = group.next_column().map_err(std::io::Error::other)? {
            let n = end - start;
            let written = match column {
                0 => {
                    let values: Vec<ByteArray> =
                        images[start..end].iter().map(|b| ByteArray::from(b.clone())).collect();
                    col.typed::<ByteArrayType>().write_batch(&values, Some(&vec![2; n]), None)
                }
                // The path: null, as for images pushed from memory.
                1 => col.typed::<ByteArrayType>().write_batch(&[], Some(&vec![1; n]), None),
                _ => match &labels {
                    FixtureLabels::ClassLabel(ints, _) | FixtureLabels::Plain(ints) => {
                        col.typed::<Int64Type>().write_batch(&ints[start..end], Some(&vec![1; n]), None)
                    }
                    FixtureLabels::Text(texts) => {
                        let values: Vec<ByteArray> =
                            texts[start..end].iter().map(|t| ByteArray::from(t.as_bytes().to_vec())).collect();
                        col.typed::<ByteArrayType>().write_batch(&values, Some(&vec![1; n]), None)
                    }
                },
            };
            written.map_err(std::io::Error::other)?;
            col.close().map_err(std::io::Error::other)?;
            column += 1;
        }
        group.close().map_err(std::io::Error::other)?;
    }
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

/// `pixels` (CHW u8, `channels` 1 or 3) as PNG bytes.
pub fn png(pixels: &[u8], channels: usize, height: usize, width: usize) -> Vec<u8> {
    let plane = height * width;
    let image = if channels == 1 {
        image::DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(width as u32, height as u32, pixels.to_vec()).expect("the size matches"),
        )
    } else {
        let hwc: Vec<u8> = (0..plane).flat_map(|i| [pixels[i], pixels[plane + i], pixels[2 * plane + i]]).collect();
        image::DynamicImage::ImageRgb8(
            image::RgbImage::from_raw(width as u32, height as u32, hwc).expect("the size matches"),
        )
    };
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).expect("PNG encoding of a valid image");
    out.into_inner()
}

/// A built-in split's images as PNGs, in parallel.
pub fn pngs(split: &crate::data::Split, shape: crate::data::ImageShape) -> Vec<Vec<u8>> {
    use rayon::prelude::*;
    let pixels = shape.pixels();
    split.images.par_chunks(pixels).map(|image| png(image, shape.channels, shape.height, shape.width)).collect()
}

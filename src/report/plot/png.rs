//! Each figure's PNG twin, for pdflatex's `\includegraphics` with no conversion: the SVG drawn
//! by resvg at 300 dpi (its pixels are CSS pixels, 96 to the inch, so the PNG keeps the SVG's
//! printed size), the resolution recorded in the file's pHYs chunk.

use std::sync::{Arc, OnceLock};

use resvg::{tiny_skia, usvg};

/// Print resolution.
pub const DPI: f32 = 300.0;
/// An SVG's pixels to the inch.
const SVG_DPI: f32 = 96.0;

/// Families tried, in order, for the figures' "sans-serif" text.
const SANS: [&str; 6] = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans", "FreeSans"];

/// This machine's fonts, read once per process.
fn fonts() -> Arc<usvg::fontdb::Database> {
    static FONTS: OnceLock<Arc<usvg::fontdb::Database>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let mut db = usvg::fontdb::Database::new();
            db.load_system_fonts();
            let families: Vec<String> =
                db.faces().flat_map(|f| f.families.iter().map(|(name, _)| name.clone())).collect();
            match SANS
                .iter()
                .find(|s| families.iter().any(|f| f == *s))
                .map(|s| s.to_string())
                .or(families.first().cloned())
            {
                Some(family) => db.set_sans_serif_family(family),
                None => eprintln!(
                    "warning: no fonts found on this machine: the PNG figures have no text (the SVGs do); \
                     install one (Debian: apt install fonts-dejavu-core)"
                ),
            }
            Arc::new(db)
        })
        .clone()
}

/// The PNG of `svg` at [`DPI`].
pub fn render(svg: &str) -> Result<Vec<u8>, String> {
    let mut options = usvg::Options { fontdb: fonts(), ..usvg::Options::default() };
    options.font_family = "sans-serif".into();
    let tree = usvg::Tree::from_str(svg, &options).map_err(|e| format!("cannot read the figure's SVG: {e}"))?;
    let scale = DPI / SVG_DPI;
    let size = tree.size().to_int_size().scale_by(scale).ok_or("the figure is empty")?;
    let mut pixmap = tiny_skia::Pixmap::new(size.width(), size.height()).ok_or("the figure is too large")?;
    pixmap.fill(tiny_skia::Color::WHITE);
    resvg::render(&tree, tiny_skia::Transform::from_scale(scale, scale), &mut pixmap.as_mut());
    // Opaque (the background is white): RGB, a quarter smaller than RGBA.
    let rgb: Vec<u8> = pixmap
        .pixels()
        .iter()
        .flat_map(|p| {
            let c = p.demultiply();
            [c.red(), c.green(), c.blue()]
        })
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, size.width(), size.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Fast);
    let per_meter = (DPI / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions { xppu: per_meter, yppu: per_meter, unit: png::Unit::Meter }));
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_figure_becomes_a_300_dpi_png_with_its_text() {
        let svg = r#"<svg width="200" height="100" viewBox="0 0 200 100" xmlns="http://www.w3.org/2000/svg">
            <rect x="0" y="0" width="200" height="100" fill="white"/>
            <text x="10" y="60" font-family="sans-serif" font-size="40">Acc</text></svg>"#;
        let png = super::render(svg).unwrap();
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        let info = reader.info();
        // 200 x 100 CSS pixels at 300 dpi.
        assert_eq!((info.width, info.height), (625, 313));
        let dims = info.pixel_dims.unwrap();
        assert_eq!((dims.xppu, dims.yppu, dims.unit), (11811, 11811, png::Unit::Meter), "300 dpi");
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        reader.next_frame(&mut pixels).unwrap();
        let dark = pixels.chunks(3).filter(|p| p.iter().all(|&c| c < 100)).count();
        if super::fonts().is_empty() {
            // A machine with no font at all (CI has DejaVu): the warning said so.
            assert!(std::env::var("CI").is_err(), "CI must have fonts for the PNG figures");
            return;
        }
        assert!(dark > 1000, "the text is drawn: {dark} dark pixels");
    }
}

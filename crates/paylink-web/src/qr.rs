//! QR codes of payment links' URLs, as SVG and PNG (for the API and the
//! dashboard).

use crate::ApiError;

fn code(url: &str) -> Result<qrcode::QrCode, ApiError> {
    qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(ApiError::internal)
}

/// An SVG of the code, at least 256 × 256, with its quiet zone.
pub fn svg(url: &str) -> Result<String, ApiError> {
    Ok(code(url)?
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build())
}

/// A PNG of the code: 8 pixels a module, 4 modules of quiet zone.
pub fn png(url: &str) -> Result<Vec<u8>, ApiError> {
    let code = code(url)?;
    const SCALE: usize = 8;
    const QUIET: usize = 4;
    let w = code.width();
    let colors = code.to_colors();
    let side = (w + 2 * QUIET) * SCALE;
    let mut pixels = vec![255u8; side * side];
    for (i, c) in colors.iter().enumerate() {
        if *c == qrcode::Color::Dark {
            let (mx, my) = (i % w + QUIET, i / w + QUIET);
            for dy in 0..SCALE {
                let row = (my * SCALE + dy) * side;
                for dx in 0..SCALE {
                    if let Some(p) = pixels.get_mut(row + mx * SCALE + dx) {
                        *p = 0;
                    }
                }
            }
        }
    }
    let side32 = u32::try_from(side).map_err(ApiError::internal)?;
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, side32, side32);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut writer = enc.write_header().map_err(ApiError::internal)?;
    writer
        .write_image_data(&pixels)
        .map_err(ApiError::internal)?;
    writer.finish().map_err(ApiError::internal)?;
    Ok(out)
}

//! Product images: checked by their bytes (PNG, JPEG or WebP only, size
//! and dimension limits), re-encoded so that no metadata (EXIF, GPS, text
//! chunks, colour profiles) survives, kept in an object store (a local
//! directory by default, through the `object_store` crate), and served
//! only through signed URLs that expire after 15 minutes.

use std::io::Cursor;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use image::{ImageFormat, ImageReader, Limits};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};
use serde::Deserialize;

use crate::AppState;

/// Largest upload accepted, in bytes.
pub const MAX_BYTES: usize = 5 * 1024 * 1024;
/// Largest width or height accepted, in pixels.
pub const MAX_SIDE: u32 = 4096;
/// How long a signed URL works.
pub const URL_TTL_SECS: i64 = 15 * 60;

/// Why an upload was refused (shown beside the file field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRejection {
    #[error("Choose an image file.")]
    Empty,
    #[error("The image is larger than 5 MB.")]
    TooLarge,
    #[error("Only PNG, JPEG and WebP images are accepted.")]
    NotAnImage,
    #[error("The image could not be read; it may be damaged.")]
    Undecodable,
    #[error("The image may be at most 4096 × 4096 pixels.")]
    TooManyPixels,
}

/// A re-encoded image, ready to store.
pub struct Clean {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Checks `bytes` by their content and re-encodes them: JPEG stays JPEG
/// (quality 90), PNG and WebP become PNG. CPU-heavy: call it off the async
/// workers.
pub fn clean_image(bytes: &[u8]) -> Result<Clean, ImageRejection> {
    if bytes.is_empty() {
        return Err(ImageRejection::Empty);
    }
    if bytes.len() > MAX_BYTES {
        return Err(ImageRejection::TooLarge);
    }
    let format = image::guess_format(bytes).map_err(|_| ImageRejection::NotAnImage)?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP
    ) {
        return Err(ImageRejection::NotAnImage);
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(128 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| match e {
        image::ImageError::Limits(_) => ImageRejection::TooManyPixels,
        _ => ImageRejection::Undecodable,
    })?;
    let (width, height) = (img.width(), img.height());
    if width == 0 || height == 0 {
        return Err(ImageRejection::Undecodable);
    }
    let mut out = Cursor::new(Vec::new());
    let content_type = if format == ImageFormat::Jpeg {
        let rgb = img.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&rgb)
            .map_err(|_| ImageRejection::Undecodable)?;
        "image/jpeg"
    } else {
        img.write_to(&mut out, ImageFormat::Png)
            .map_err(|_| ImageRejection::Undecodable)?;
        "image/png"
    };
    Ok(Clean {
        bytes: out.into_inner(),
        content_type,
        width,
        height,
    })
}

/// The object store of an installation: a directory.
pub fn local_store(dir: &std::path::Path) -> Result<Arc<dyn ObjectStore>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(Arc::new(fs))
}

/// Where a file's bytes are kept.
pub fn object_key(account: &str, livemode: bool, product: &str, file: &str) -> String {
    format!(
        "{account}/{}/{product}/{file}",
        if livemode { "live" } else { "test" }
    )
}

/// Stores bytes under `key`.
pub async fn put(store: &dyn ObjectStore, key: &str, bytes: Vec<u8>) -> Result<(), String> {
    store
        .put(&ObjectPath::from(key), PutPayload::from(bytes))
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn signature(state: &AppState, file: &str, expires: i64) -> String {
    paylink_crypto::envelope::blind_index(&state.dashboard_key, &format!("file:{file}:{expires}"))
}

/// A URL that serves `file` for the next 15 minutes.
pub fn signed_url(state: &AppState, file: &str) -> String {
    let expires = state.now() + URL_TTL_SECS;
    format!(
        "{}/files/{file}?expires={expires}&sig={}",
        state.public_url,
        signature(state, file, expires)
    )
}

#[derive(Deserialize)]
pub struct Signed {
    #[serde(default)]
    expires: Option<i64>,
    #[serde(default)]
    sig: Option<String>,
}

fn forbidden() -> Response {
    (
        StatusCode::FORBIDDEN,
        "This link is not valid or has expired.",
    )
        .into_response()
}

/// `GET /files/{id}?expires=…&sig=…`: the bytes, if the signature is ours
/// and not expired (403 otherwise), and the file is not deleted.
pub async fn serve(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<Signed>,
) -> Response {
    let (Some(expires), Some(sig)) = (q.expires, q.sig) else {
        return forbidden();
    };
    let now = state.now();
    let good = paylink_crypto::ct_eq(sig.as_bytes(), signature(&state, &id, expires).as_bytes());
    if !good || expires <= now || expires > now + URL_TTL_SECS {
        return forbidden();
    }
    let file = match state.store.live_file(&id).await {
        Ok(Some(f)) => f,
        Ok(None) => return forbidden(),
        Err(e) => return crate::ApiError::from(e).into_response(),
    };
    let got = match state
        .files
        .get(&ObjectPath::from(file.object_key.as_str()))
        .await
    {
        Ok(g) => g,
        Err(e) => return crate::ApiError::internal(e).into_response(),
    };
    let bytes = match got.bytes().await {
        Ok(b) => b,
        Err(e) => return crate::ApiError::internal(e).into_response(),
    };
    let mut resp = (StatusCode::OK, bytes).into_response();
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&file.content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png_with_text(w: u32, h: u32, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = png::Encoder::new(&mut out, w, h);
            enc.set_color(png::ColorType::Rgb);
            enc.set_depth(png::BitDepth::Eight);
            let _ = enc.add_text_chunk("Comment".into(), text.into());
            if let Ok(mut wr) = enc.write_header() {
                let _ = wr.write_image_data(&vec![200u8; (w * h * 3) as usize]);
            }
        }
        out
    }

    #[test]
    fn metadata_is_stripped_and_bytes_decide() -> Result<(), ImageRejection> {
        let png = png_with_text(4, 3, "gps-canary-48.85,2.35");
        assert!(png.windows(10).any(|w| w == b"gps-canary"));
        let clean = clean_image(&png)?;
        assert_eq!(
            (clean.width, clean.height, clean.content_type),
            (4, 3, "image/png")
        );
        assert!(!clean.bytes.windows(10).any(|w| w == b"gps-canary"));
        assert!(matches!(
            clean_image(b"<svg onload=alert(1)>"),
            Err(ImageRejection::NotAnImage)
        ));
        assert!(matches!(clean_image(b""), Err(ImageRejection::Empty)));
        // A PNG header with nothing after it.
        assert!(matches!(
            clean_image(png.get(..20).unwrap_or_default()),
            Err(ImageRejection::Undecodable)
        ));
        let huge = png_with_text(4097, 1, "");
        assert!(matches!(
            clean_image(&huge),
            Err(ImageRejection::TooManyPixels)
        ));
        Ok(())
    }
}

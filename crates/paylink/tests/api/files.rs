//! Product images: uploaded in the dashboard, checked by their bytes,
//! re-encoded without metadata, versioned, deleted as a tombstone, and
//! served only through signed URLs that expire.

use paylink_domain::roles::Role;

use crate::both;
use crate::buyer::*;
use crate::dash::*;
use crate::helpers::*;

const CANARY: &str = "exif-gps-canary-48.8584N";

fn png(w: u32, h: u32, text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        enc.add_text_chunk("Comment".into(), text.into()).unwrap();
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&vec![90u8; (w * h * 3) as usize])
            .unwrap();
    }
    out
}

/// A multipart/form-data body with one file field `image`.
fn multipart(bytes: &[u8], filename: &str, content_type: &str) -> (String, Vec<u8>) {
    let boundary = "----paylinkboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(d: &Dash, action: &str, bytes: &[u8], name: &str, ct: &str) -> Page {
    let (content_type, body) = multipart(bytes, name, ct);
    let r = d
        .http
        .post(format!("{}{action}", d.base))
        .header("content-type", content_type)
        .header(
            "cookie",
            format!("__Host-paylink_session={}", d.cookie.clone().unwrap()),
        )
        .header("sec-fetch-site", "same-origin")
        .body(body)
        .send()
        .await
        .unwrap();
    Page {
        status: r.status().as_u16(),
        headers: r.headers().clone(),
        body: r.text().await.unwrap(),
    }
}

async fn product_images_are_cleaned_versioned_and_signed(app: TestApp) {
    let product = app.product("Poster").await;
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    let page = owner.get(&format!("/dashboard/products/{product}")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let action = format!(
        "/dashboard/products/{}",
        between(&page.body, "action=\"/dashboard/products/", "\"").unwrap()
    )
    .replace("&amp;", "&");
    assert!(action.contains("/image?csrf="), "{action}");

    // Without the token: refused.
    let no_token = action.split('?').next().unwrap().to_string();
    let p = upload(&owner, &no_token, &png(8, 8, CANARY), "a.png", "image/png").await;
    assert_eq!(p.status, 403);
    // Not an image, whatever it claims to be: refused beside the field.
    let p = upload(
        &owner,
        &action,
        b"<html><script>alert(1)</script>",
        "evil.png",
        "image/png",
    )
    .await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("id=\"image-error\"") && p.body.contains("Only PNG, JPEG and WebP"),
        "{}",
        p.body
    );
    let p = upload(&owner, &action, &png(4100, 2, ""), "wide.png", "image/png").await;
    assert!(p.body.contains("at most 4096"), "{}", p.body);

    let mut big = png(8, 8, "");
    big.resize(6 * 1024 * 1024, 0);
    let p = upload(&owner, &action, &big, "big.png", "image/png").await;
    assert!(
        p.body.contains("larger than 5 MB"),
        "{} {}",
        p.status,
        &p.body[..p.body.len().min(300)]
    );
    // A PNG with a metadata chunk: accepted, re-encoded without it.
    let p = upload(
        &owner,
        &action,
        &png(8, 6, CANARY),
        "photo.png",
        "image/png",
    )
    .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let page = owner.get(&format!("/dashboard/products/{product}")).await;
    let url = between(&page.body, "id=\"product-image\" src=\"", "\"")
        .unwrap()
        .replace("&amp;", "&");
    assert!(
        url.starts_with(&format!("{}/files/file_", app.base)),
        "{url}"
    );
    let anon = reqwest::Client::new();
    let got = anon.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    assert!(got.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    let bytes = got.bytes().await.unwrap();
    assert!(
        !bytes.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
        "metadata survived"
    );
    let decoded = png::Decoder::new(std::io::Cursor::new(bytes.to_vec()))
        .read_info()
        .unwrap();
    assert_eq!((decoded.info().width, decoded.info().height), (8, 6));
    // Nor is it on disk.
    for f in walk(&app.opts.data_dir.join("files")) {
        let b = std::fs::read(&f).unwrap();
        assert!(
            !b.windows(CANARY.len()).any(|w| w == CANARY.as_bytes()),
            "{f:?}"
        );
    }

    // The checkout page shows it through a signed URL.
    let price = app
        .post(
            "/v1/prices",
            json!({"product": product, "currency": "eur", "unit_amount": 900}),
        )
        .await
        .id();
    let link = app
        .post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}]}),
        )
        .await
        .id();
    let checkout = Buyer::new().get(&app.url(&format!("/l/{link}"))).await;
    assert!(
        checkout.body.contains("/files/file_") && checkout.body.contains("sig="),
        "{}",
        checkout.body
    );

    // Unsigned, tampered or expired: 403.
    let unsigned = url.split('?').next().unwrap().to_string();
    assert_eq!(anon.get(&unsigned).send().await.unwrap().status(), 403);
    let tampered = url.replace("sig=", "sig=0");
    assert_eq!(anon.get(&tampered).send().await.unwrap().status(), 403);
    let later = url.replace("expires=", "expires=9");
    assert_eq!(
        anon.get(&later).send().await.unwrap().status(),
        403,
        "a changed expiry breaks the signature"
    );
    app.clock.advance(15 * 60 + 1);
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 403);

    // A new upload is a new version; the old one is kept.
    owner.cookie = None;
    owner.sign_in(&app).await;
    let page = owner.get(&format!("/dashboard/products/{product}")).await;
    let action = format!(
        "/dashboard/products/{}",
        between(&page.body, "action=\"/dashboard/products/", "\"").unwrap()
    )
    .replace("&amp;", "&");
    let p = upload(&owner, &action, &png(5, 5, ""), "second.png", "image/png").await;
    assert_eq!(p.status, 303, "{}", p.body);
    let scope = paylink_store::Scope {
        account_id: app.account.clone(),
        livemode: false,
    };
    let versions = app
        .opened
        .store
        .product_images(&scope, &product)
        .await
        .unwrap();
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        vec![2, 1]
    );
    assert_eq!(
        walk(&app.opts.data_dir.join("files")).len(),
        2,
        "both versions are stored"
    );
    // Deleting is a tombstone: the image is no longer served.
    let page = owner.get(&format!("/dashboard/products/{product}")).await;
    let url = between(&page.body, "id=\"product-image\" src=\"", "\"")
        .unwrap()
        .replace("&amp;", "&");
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 200);
    let p = owner
        .post(&format!("/dashboard/products/{product}/image/delete"), &[])
        .await;
    assert_eq!(p.status, 303);
    assert_eq!(anon.get(&url).send().await.unwrap().status(), 403);
    let page = owner.get(&format!("/dashboard/products/{product}")).await;
    assert!(page.body.contains("No image") && page.body.contains("(removed)"));
    let versions = app
        .opened
        .store
        .product_images(&scope, &product)
        .await
        .unwrap();
    assert!(versions[0].deleted_at.is_some() && versions[1].deleted_at.is_none());
    // An analyst sees the page but can't upload.
    let mut analyst = member(&app, "an@shop.example", Role::Analyst).await;
    let page = analyst.get(&format!("/dashboard/products/{product}")).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("multipart/form-data"));
    let p = upload(&analyst, &action, &png(5, 5, ""), "x.png", "image/png").await;
    assert!(p.denied());
}
both!(product_images_are_cleaned_versioned_and_signed);

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

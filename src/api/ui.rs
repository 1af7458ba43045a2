//! The web console: the files of `ui/`, compiled into the binary, served
//! under `/ui/` (and `/` sends a browser there). No build step: the files
//! are plain ES modules and CSS, so `cargo build` alone builds the console.
//!
//! Every file answers with an `ETag` (a hash of its bytes) and
//! `Cache-Control: no-cache`, so a browser revalidates and gets 304 until
//! the binary changes; a Content-Security-Policy allows nothing but this
//! origin. The console reads and writes only through the public API.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

/// A file of the console: its name under `/ui/`, media type and bytes.
struct Asset {
    name: &'static str,
    media_type: &'static str,
    bytes: &'static [u8],
}

/// A file of `ui/`, compiled in.
macro_rules! asset {
    ($name:literal, $media_type:literal) => {
        Asset {
            name: $name,
            media_type: $media_type,
            bytes: include_bytes!(concat!("../../ui/", $name)),
        }
    };
}

const ASSETS: &[Asset] = &[
    asset!("index.html", "text/html; charset=utf-8"),
    asset!("app.js", "text/javascript; charset=utf-8"),
    asset!("view.js", "text/javascript; charset=utf-8"),
    asset!("style.css", "text/css; charset=utf-8"),
    asset!("favicon.svg", "image/svg+xml"),
];

/// Each asset's entity tag, computed once.
static TAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.bytes))[..20]))
        .collect()
});

const POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; \
                      base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

/// Whether a path belongs to the console (open without a token: the page
/// itself asks for one; its statuses are its own).
pub fn is_ui_path(path: &str) -> bool {
    path == "/" || path == "/ui" || path.starts_with("/ui/")
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    let not_allowed = || web::to(super::method_not_allowed);
    cfg.service(
        web::resource("/")
            .route(web::get().to(home))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/ui")
            .route(web::get().to(index))
            .default_service(not_allowed()),
    )
    .service(
        web::resource("/ui/{file}")
            .route(web::get().to(file))
            .default_service(not_allowed()),
    );
}

/// `/`: a browser goes to the console.
async fn home() -> HttpResponse {
    HttpResponse::Found()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, 0)
}

async fn file(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().position(|a| a.name == name.as_str()) {
        Some(i) => serve(&req, i),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("no console file {:?}", name.as_str())),
    }
}

fn serve(req: &HttpRequest, i: usize) -> HttpResponse {
    let asset = &ASSETS[i];
    let tag = TAGS[i].as_str();
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, tag))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"));
    if fresh {
        res.finish()
    } else {
        res.content_type(asset.media_type).body(asset.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::{App, test as web_test};

    #[actix_web::test]
    async fn files_are_served_revalidated_and_fenced() {
        let app = web_test::init_service(App::new().configure(configure)).await;
        let res =
            web_test::call_service(&app, web_test::TestRequest::get().uri("/").to_request()).await;
        assert_eq!(res.status(), 302);
        assert_eq!(res.headers().get(header::LOCATION).unwrap(), "/ui/");

        let res =
            web_test::call_service(&app, web_test::TestRequest::get().uri("/ui").to_request())
                .await;
        assert_eq!(res.status(), 200);
        let h = res.headers().clone();
        assert_eq!(
            h.get(header::CONTENT_TYPE).unwrap(),
            "text/html; charset=utf-8"
        );
        assert_eq!(h.get(header::CACHE_CONTROL).unwrap(), "no-cache");
        assert!(
            h.get(header::CONTENT_SECURITY_POLICY)
                .unwrap()
                .to_str()
                .unwrap()
                .starts_with("default-src 'self'")
        );
        let body = web_test::read_body(res).await;
        assert!(body.starts_with(b"<!doctype html>"));

        // The same tag again: 304 without a body; another tag: the file.
        let tag = h.get(header::ETAG).unwrap().to_str().unwrap().to_owned();
        let again = web_test::TestRequest::get()
            .uri("/ui")
            .insert_header((header::IF_NONE_MATCH, tag.as_str()))
            .to_request();
        let res = web_test::call_service(&app, again).await;
        assert_eq!(res.status(), 304);
        assert!(web_test::read_body(res).await.is_empty());
        let other = web_test::TestRequest::get()
            .uri("/ui/app.js")
            .insert_header((header::IF_NONE_MATCH, tag.as_str()))
            .to_request();
        let res = web_test::call_service(&app, other).await;
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers().get(header::CONTENT_TYPE).unwrap(),
            "text/javascript; charset=utf-8"
        );

        let res = web_test::call_service(
            &app,
            web_test::TestRequest::get().uri("/ui/x.js").to_request(),
        )
        .await;
        assert_eq!(res.status(), 404);
        assert_eq!(web_test::read_body(res).await, "no console file \"x.js\"");
    }

    #[test]
    fn every_asset_the_page_names_is_served() {
        let page = std::str::from_utf8(ASSETS[0].bytes).expect("utf-8");
        for a in &ASSETS[1..] {
            if a.name == "view.js" {
                // Imported by app.js, not named by the page.
                let app = std::str::from_utf8(ASSETS[1].bytes).expect("utf-8");
                assert!(app.contains("./view.js"), "app.js imports view.js");
                continue;
            }
            assert!(page.contains(&format!("/ui/{}", a.name)), "{}", a.name);
        }
    }
}

//! What every request must be before any route sees it: a path in canonical
//! form, no compressed body, and HEAD answered as GET without a body.
//!
//! - A path that percent-encodes a character that needs no encoding
//!   (`/api/v1/event%73`), writes an escape in lower case (`%2f`) or holds a
//!   `.` or `..` segment is not canonical. A GET or HEAD for it is
//!   redirected (308) to the canonical path; any other method is refused
//!   with a 400 that names the canonical path, so nothing is changed through
//!   an address the administrator would not recognise. (Access is decided on
//!   the route the router matched in any case; see `auth`.)
//! - No route needs a compressed request body, so one with a
//!   `Content-Encoding` other than `identity` is refused with a 415 before a
//!   byte of it is read: nothing is ever inflated, so a small gzip body
//!   cannot grow into gigabytes in memory.
//! - HEAD runs the GET route (the same status and headers) and sends no
//!   body; a streamed body (a CSV download) is not produced at all.

use super::error::AppError;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::HttpResponse;

/// The middleware: see the module documentation.
pub async fn hygiene(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let api = req.path().starts_with("/api/") || req.path().starts_with("/api%");
    let raw = req.uri().path();
    match canonical_path(raw) {
        Canonical::Same => {}
        Canonical::Other(path) => {
            let response = if matches!(*req.method(), Method::GET | Method::HEAD) {
                let location = match req.query_string() {
                    "" => path,
                    q => format!("{path}?{q}"),
                };
                HttpResponse::PermanentRedirect()
                    .insert_header((header::LOCATION, location))
                    .finish()
            } else {
                refusal(
                    AppError::BadRequest(format!(
                        "The address is not in canonical form; send the request to {path}."
                    )),
                    api,
                )
            };
            return Ok(req.into_response(response));
        }
        Canonical::Refused(why) => {
            return Ok(req.into_response(refusal(AppError::BadRequest(why.into()), api)));
        }
    }
    if let Some(encoding) = req.headers().get(header::CONTENT_ENCODING) {
        let identity = encoding
            .to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity"));
        if !identity {
            let message = "Compressed request bodies are not accepted: send the body without \
                           Content-Encoding.";
            let response = if api {
                super::error::error_response_with(StatusCode::UNSUPPORTED_MEDIA_TYPE, message)
            } else {
                HttpResponse::UnsupportedMediaType()
                    .content_type("text/plain; charset=utf-8")
                    .body(message)
            };
            return Ok(req.into_response(response));
        }
    }
    let head = req.method() == Method::HEAD;
    if head {
        req.head_mut().method = Method::GET;
    }
    let response = next.call(req).await?.map_into_boxed_body();
    if !head {
        return Ok(response);
    }
    // The connection knows the request was HEAD and sends no body; a sized
    // body keeps its Content-Length, a stream is dropped before it runs.
    Ok(response.map_body(|head, body| {
        if matches!(body.size(), BodySize::Stream) {
            head.headers_mut().remove(header::CONTENT_LENGTH);
            head.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            BoxBody::new(actix_web::body::None::new())
        } else {
            body
        }
    }))
}

fn refusal(e: AppError, api: bool) -> HttpResponse {
    if api {
        super::error::error_response(&e)
    } else {
        actix_web::ResponseError::error_response(&e)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Canonical {
    Same,
    Other(String),
    Refused(&'static str),
}

/// Characters that never need percent-encoding in a path (RFC 3986's
/// unreserved set).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// The canonical form of a request path: escapes of unreserved characters
/// decoded, other escapes in upper case, no `.` or `..` segments.
fn canonical_path(raw: &str) -> Canonical {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).and_then(|h| {
                std::str::from_utf8(h)
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            });
            let Some(value) = hex else {
                return Canonical::Refused(
                    "The address has a '%' that does not start an escape such as %2F.",
                );
            };
            if unreserved(value) {
                out.push(value as char);
            } else {
                out.push_str(&format!("%{value:02X}"));
            }
            i += 3;
        } else {
            out.push(b as char);
            i += 1;
        }
    }
    if out
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return Canonical::Refused("The address has a '.' or '..' segment.");
    }
    if out == raw {
        Canonical::Same
    } else {
        Canonical::Other(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_pass() {
        for path in [
            "/",
            "/api/v1/events",
            "/users/a%2Fb",
            "/users/J%C3%BCrgen",
            "/x~y",
        ] {
            assert_eq!(canonical_path(path), Canonical::Same, "{path}");
        }
    }

    #[test]
    fn needless_escapes_are_decoded_and_others_upper_cased() {
        assert_eq!(
            canonical_path("/api/v1/event%73"),
            Canonical::Other("/api/v1/events".into())
        );
        assert_eq!(
            canonical_path("/%61dmin/accounts"),
            Canonical::Other("/admin/accounts".into())
        );
        assert_eq!(
            canonical_path("/users/a%2fb"),
            Canonical::Other("/users/a%2Fb".into())
        );
    }

    #[test]
    fn dot_segments_and_broken_escapes_are_refused() {
        for path in [
            "/static/../admin",
            "/a/./b",
            "/static/%2e%2e/admin",
            "/a%zz",
            "/a%2",
        ] {
            assert!(
                matches!(canonical_path(path), Canonical::Refused(_)),
                "{path}"
            );
        }
    }
}

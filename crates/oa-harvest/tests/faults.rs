//! Publisher faults at the HTTP and byte level, each answered with a precise error naming the
//! URL (and retried where a retry may help), or handled: a connection reset mid-body, a
//! body of the wrong shape, a redirect loop, a body that is not UTF-8, gzip and chunked
//! transfer.

use std::io::Write;
use std::time::Duration;

use oa_harvest::{FetchConfig, FetchError, Fetcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn fetcher() -> Fetcher {
    Fetcher::new(FetchConfig {
        max_attempts: 2,
        min_retry_delay: Duration::from_millis(5),
        max_retry_delay: Duration::from_millis(10),
        request_timeout: Duration::from_secs(2),
        ..FetchConfig::default()
    })
    .expect("client")
}

/// A raw TCP server answering every connection with `reply` (then closing), so the test can
/// send what no well-behaved server would.
async fn raw_server(reply: Vec<u8>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/feed", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let reply = reply.clone();
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(&reply).await;
                // Dropping the socket here cuts whatever the headers promised.
            });
        }
    });
    url
}

fn response(headers: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = format!("HTTP/1.1 200 OK\r\n{headers}\r\n").into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

#[tokio::test]
async fn a_connection_reset_mid_body_is_retried_then_named() {
    let url = raw_server(response(
        "Content-Length: 1000\r\nContent-Type: application/json\r\n",
        b"{\"next\":",
    ))
    .await;
    let error = fetcher().fetch_page(&url).await.expect_err("cut short");
    assert!(matches!(error, FetchError::Body { .. }), "{error:?}");
    assert!(error.is_retryable());
    assert!(error.to_string().contains(&url), "{error}");
}

#[tokio::test]
async fn valid_json_of_the_wrong_shape_and_non_utf8_bodies_are_page_errors_naming_the_url() {
    let wrong = r#"{"next": 5, "items": "none", "license": "L"}"#;
    let url = raw_server(response(
        &format!("Content-Length: {}\r\n", wrong.len()),
        wrong.as_bytes(),
    ))
    .await;
    let error = fetcher().fetch_page(&url).await.expect_err("wrong shape");
    assert!(matches!(error, FetchError::Page { .. }), "{error:?}");
    assert!(error.to_string().contains(&url));

    let mut latin1 = b"{\"next\":\"http://x/\xe9\",\"items\":[],\"license\":\"L\"}".to_vec();
    latin1.shrink_to_fit();
    let url = raw_server(response(
        &format!("Content-Length: {}\r\n", latin1.len()),
        &latin1,
    ))
    .await;
    let error = fetcher().fetch_page(&url).await.expect_err("not UTF-8");
    assert!(matches!(error, FetchError::Page { .. }), "{error:?}");
}

#[tokio::test]
async fn a_redirect_loop_ends_with_a_precise_error() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/loop", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/loop",
        axum::routing::get(|| async { (axum::http::StatusCode::FOUND, [("location", "/loop")]) }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let error = fetcher().fetch_page(&url).await.expect_err("loop");
    let text = error.to_string();
    assert!(
        text.contains(&url) && text.to_lowercase().contains("redirect"),
        "{text}"
    );
}

#[tokio::test]
async fn gzip_and_chunked_pages_are_read() {
    let page = br#"{"next":"http://x/feed?afterChangeNumber=1","items":[{"id":"a","state":"deleted","kind":"Event","modified":1}],"license":"L"}"#;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gzip.write_all(page).expect("compress");
    let compressed = gzip.finish().expect("compress");
    let url = raw_server(response(
        &format!(
            "Content-Encoding: gzip\r\nContent-Length: {}\r\n",
            compressed.len()
        ),
        &compressed,
    ))
    .await;
    let (parsed, _) = fetcher().fetch_page(&url).await.expect("gzip page");
    assert_eq!(parsed.items.len(), 1);

    let half = page.len() / 2;
    let chunked = format!(
        "{:x}\r\n{}\r\n{:x}\r\n{}\r\n0\r\n\r\n",
        half,
        String::from_utf8_lossy(&page[..half]),
        page.len() - half,
        String::from_utf8_lossy(&page[half..])
    );
    let url = raw_server(response(
        "Transfer-Encoding: chunked\r\n",
        chunked.as_bytes(),
    ))
    .await;
    let (parsed, _) = fetcher().fetch_page(&url).await.expect("chunked page");
    assert_eq!(parsed.next, "http://x/feed?afterChangeNumber=1");
}

//! The harness's HTTP client against misbehaving servers: wiremock impersonates an SCR server (and an
//! identity service) that is slow, answers with errors or HTML, sends too much, or redirects elsewhere; raw
//! sockets on 127.0.0.1 reset connections, stall bodies and refuse connections. Each fault must come back
//! quickly as its `TransportFault`, saying what was received.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use reqwest::Method;
use scr_assure::client::{ClientError, ClientOptions, ScrClient, ScrRequest, TransportFault};
use scr_assure::clock::Clock;
use scr_assure::runner::checks;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BASE: &str = "/summary-care-record/FHIR/R4";

/// Tight bounds, for the tests whose subject is a bound firing.
fn short() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_millis(500),
        read_timeout: Duration::from_millis(300),
        deadline: Duration::from_secs(5),
        max_response_bytes: 1024 * 1024,
    }
}

/// Generous bounds, for the tests whose subject is not a timeout: on a loaded machine a server's prompt answer
/// can take longer than 300 ms, and that must not turn a TLS failure or a reset into a read timeout.
fn roomy() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(10),
        read_timeout: Duration::from_secs(30),
        deadline: Duration::from_secs(60),
        max_response_bytes: 1024 * 1024,
    }
}

/// How long a deliberately slow server holds its answer: far beyond any client bound under test, so only the
/// bound can end the request in time (the error text names which bound fired).
const HANG: Duration = Duration::from_secs(60);

/// The loose upper bound the timeout tests assert: it proves the client gave up rather than waiting for [`HANG`],
/// with room for a machine under heavy load (never a timing claim; speed is measured in `benches/`).
const BOUNDED: Duration = Duration::from_secs(30);

fn client(base: &str, options: ClientOptions) -> ScrClient {
    ScrClient::new(base, Clock::system(), options).unwrap_or_else(|e| panic!("client: {e}"))
}

fn get(p: &str) -> ScrRequest {
    ScrRequest { method: Method::GET, path: p.into(), headers: vec![], body: None }
}

async fn send_err(base: &str, options: ClientOptions, p: &str) -> (ClientError, Duration) {
    let start = Instant::now();
    match client(base, options).send(get(p)).await {
        Ok(x) => panic!("expected a transport fault, got HTTP {}: {}", x.response.status, x.response.body),
        Err(e) => (e, start.elapsed()),
    }
}

/// A raw HTTP server on 127.0.0.1 that runs `behave` on each connection.
async fn raw_server<F, Fut>(behave: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("addr: {e}"));
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(behave(stream));
        }
    });
    addr
}

/// Reads a request's head (the requests here have no body).
async fn read_head(stream: &mut TcpStream) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

const HEAD_100: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/fhir+json\r\ncontent-length: 100\r\n\r\n";

#[tokio::test]
async fn headers_that_never_come_are_a_read_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}").set_delay(HANG))
        .mount(&server)
        .await;
    let (e, took) = send_err(&server.uri(), short(), "/DocumentReference").await;
    assert_eq!(e.fault(), TransportFault::ReadTimeout, "{e}");
    assert!(took < BOUNDED, "took {took:?}");
    let text = e.to_string();
    assert!(text.contains("the response headers never came (read timeout 300 ms"), "{text}");
    assert!(text.contains("nothing was received"), "{text}");
}

#[tokio::test]
async fn a_stalled_body_is_a_read_timeout_with_the_bytes_received() {
    let addr = raw_server(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(HEAD_100).await;
        let _ = s.write_all(br#"{"resourceType""#).await;
        tokio::time::sleep(HANG).await;
    })
    .await;
    let (e, took) = send_err(&format!("http://{addr}"), short(), "/Bundle").await;
    assert_eq!(e.fault(), TransportFault::ReadTimeout, "{e}");
    assert!(took < BOUNDED, "took {took:?}");
    let received = e.received().unwrap_or_else(|| panic!("no received part: {e}"));
    assert_eq!((received.status, received.bytes), (200, 15));
    let text = e.to_string();
    assert!(text.contains("the body stalled after 15 bytes of an HTTP 200 response (read timeout 300 ms)"), "{text}");
    assert!(text.contains("Content-Type application/fhir+json") && text.contains("resourceType"), "{text}");
}

#[tokio::test]
async fn a_dribbling_body_meets_the_per_request_deadline() {
    let addr = raw_server(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(HEAD_100).await;
        for _ in 0..100 {
            if s.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let options = ClientOptions { deadline: Duration::from_secs(1), ..roomy() };
    let (e, took) = send_err(&format!("http://{addr}"), options, "/Bundle").await;
    assert_eq!(e.fault(), TransportFault::ReadTimeout, "{e}");
    assert!(matches!(e, ClientError::Deadline { .. }), "{e}");
    assert!(took >= Duration::from_secs(1) && took < BOUNDED, "took {took:?}");
    let received = e.received().unwrap_or_else(|| panic!("no received part: {e}"));
    assert!(received.status == 200 && received.bytes >= 5 && received.bytes < 100, "{received:?}");
    assert!(e.to_string().contains("no complete response within the per-request deadline of 1 s; received HTTP 200"));
}

#[tokio::test]
async fn error_statuses_are_exchanges_with_their_status_and_body() {
    let server = MockServer::start().await;
    let outcome = r#"{"resourceType":"OperationOutcome","issue":[{"severity":"error","code":"throttled"}]}"#;
    let html = "<html><head><title>503 Service Temporarily Unavailable</title></head><body>nginx</body></html>";
    let cases: [(&str, u16, &str, &str); 5] = [
        ("/429", 429, "application/json", outcome),
        ("/500", 500, "application/fhir+json", outcome),
        ("/503-json", 503, "application/json", outcome),
        ("/503-html", 503, "text/html", html),
        ("/504", 504, "text/plain", "upstream request timeout"),
    ];
    for (p, status, ct, body) in cases {
        Mock::given(path(p))
            .respond_with(ResponseTemplate::new(status).set_body_raw(body.as_bytes().to_vec(), ct))
            .mount(&server)
            .await;
    }
    let c = client(&server.uri(), roomy());
    for (p, status, ct, body) in cases {
        let x = c.send(get(p)).await.unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!((x.response.status, x.response.body.as_str()), (status, body), "{p}");
        assert_eq!(x.response.header("content-type"), Some(ct), "{p}");
        let json = checks::json_body(&x.response);
        assert_eq!(json.is_ok(), ct.contains("json"), "{p}: {json:?}");
    }
    let x = c.send(get("/503-html")).await.unwrap_or_else(|e| panic!("{e}"));
    let e = checks::json_body(&x.response).err().unwrap_or_default();
    assert!(
        e.starts_with("expected a JSON body, got an HTML page titled \"503 Service Temporarily Unavailable\" (HTTP 503, Content-Type text/html, 94 bytes: \"<html>"),
        "{e}"
    );
    let e = checks::status(&x.response, 200).err().unwrap_or_default();
    assert!(e.starts_with("expected HTTP 200, got 503 (HTTP 503, Content-Type text/html"), "{e}");
    let x = c.send(get("/504")).await.unwrap_or_else(|e| panic!("{e}"));
    let e = checks::json_body(&x.response).err().unwrap_or_default();
    assert!(e.contains("a body that is not JSON") && e.contains("\"upstream request timeout\""), "{e}");
}

#[tokio::test]
async fn malformed_json_and_a_wrong_content_type_fail_the_checks_saying_so() {
    let server = MockServer::start().await;
    Mock::given(path("/malformed"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(
                br#"{"resourceType":"Bundle","type":"searchset","total":"#.to_vec(),
                "application/fhir+json",
            ),
        )
        .mount(&server)
        .await;
    Mock::given(path("/plain"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(br#"{"resourceType":"Bundle","type":"searchset","total":0}"#.to_vec(), "text/plain"),
        )
        .mount(&server)
        .await;
    let c = client(&server.uri(), roomy());
    let x = c.send(get("/malformed")).await.unwrap_or_else(|e| panic!("{e}"));
    let e = checks::empty_searchset(&x.response).err().unwrap_or_default();
    assert!(e.starts_with("expected a JSON body, got malformed JSON (EOF while parsing"), "{e}");
    assert!(e.contains("HTTP 200, Content-Type application/fhir+json, 52 bytes"), "{e}");
    let x = c.send(get("/plain")).await.unwrap_or_else(|e| panic!("{e}"));
    let e = checks::empty_searchset(&x.response).err().unwrap_or_default();
    assert!(e.starts_with("expected a JSON body, got JSON served as text/plain, not a JSON media type"), "{e}");
}

#[tokio::test]
async fn a_body_over_the_limit_stops_with_the_bytes_read() {
    let server = MockServer::start().await;
    let big = vec![b'x'; 3 * 1024 * 1024];
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(big, "application/fhir+json"))
        .mount(&server)
        .await;
    Mock::given(path("/small"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![b'y'; 1024 * 1024], "application/fhir+json"))
        .mount(&server)
        .await;
    let (e, _) = send_err(&server.uri(), roomy(), "/big").await;
    assert_eq!(e.fault(), TransportFault::BodyTooLarge, "{e}");
    let received = e.received().unwrap_or_else(|| panic!("no received part: {e}"));
    assert_eq!(received.status, 200);
    assert!(received.bytes > 1024 * 1024 && received.bytes < 3 * 1024 * 1024, "{received:?}");
    assert!(received.excerpt.len() <= 203, "an excerpt, not the body: {}", received.excerpt.len());
    let text = e.to_string();
    assert!(text.contains("larger than the limit of 1048576 bytes; stopped after"), "{text}");
    assert!(text.contains("Content-Length 3145728"), "{text}");
    // Exactly at the limit is fine.
    let x = client(&server.uri(), roomy()).send(get("/small")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(x.response.body.len(), 1024 * 1024);
}

#[tokio::test]
async fn a_redirect_to_another_host_is_refused_and_never_followed() {
    let target = MockServer::start().await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&elsewhere).await;
    let location = format!("{}/steal", elsewhere.uri());
    Mock::given(path(format!("{BASE}/DocumentReference")))
        .respond_with(ResponseTemplate::new(302).insert_header("Location", location.as_str()))
        .mount(&target)
        .await;
    Mock::given(path(format!("{BASE}/same")))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", format!("{BASE}/moved").as_str()))
        .mount(&target)
        .await;
    Mock::given(path(format!("{BASE}/moved"))).respond_with(ResponseTemplate::new(200)).expect(0).mount(&target).await;
    let base = format!("{}{BASE}", target.uri());

    let (e, _) = send_err(&base, roomy(), "/DocumentReference").await;
    assert_eq!(e.fault(), TransportFault::RedirectRefused, "{e}");
    let text = e.to_string();
    assert!(
        text.contains(&format!(
            "HTTP 302 redirect to {location}: the target redirected to {}; scr-assure never follows a redirect to another host",
            elsewhere.uri()
        )),
        "{text}"
    );
    let exchange = e.exchange().unwrap_or_else(|| panic!("the redirect is recorded: {e}"));
    assert_eq!((exchange.response.status, exchange.response.header("location")), (302, Some(location.as_str())));

    // Same origin: recorded as it came, not followed either.
    let x = client(&base, roomy()).send(get("/same")).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(x.response.status, 307);
    let e = checks::status(&x.response, 200).err().unwrap_or_default();
    assert!(e.contains(&format!("Location {BASE}/moved")), "{e}");
    // `expect(0)` on both servers is verified when they drop.
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    drop(listener);
    let (e, _) = send_err(&format!("http://{addr}"), roomy(), "/_ping").await;
    assert_eq!(e.fault(), TransportFault::Unreachable, "{e}");
    assert!(e.to_string().starts_with(&format!("cannot reach http://{addr}/_ping: ")), "{e}");
    assert!(e.to_string().to_lowercase().contains("connection refused"), "{e}");
}

#[tokio::test]
async fn a_reset_or_early_close_is_connection_reset() {
    // Reads the request, then resets the connection (SO_LINGER 0 sends RST).
    let reset = raw_server(|mut s| async move {
        read_head(&mut s).await;
        let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
        drop(s);
    })
    .await;
    // Reads the request, then closes it without answering.
    let closed = raw_server(|mut s| async move {
        read_head(&mut s).await;
        drop(s);
    })
    .await;
    // Starts the body, then closes part-way.
    let cut = raw_server(|mut s| async move {
        read_head(&mut s).await;
        let _ = s.write_all(HEAD_100).await;
        let _ = s.write_all(b"{\"resourceType\":").await;
        let _ = s.flush().await;
        drop(s);
    })
    .await;
    for addr in [reset, closed] {
        let (e, _) = send_err(&format!("http://{addr}"), roomy(), "/Bundle").await;
        assert_eq!(e.fault(), TransportFault::ConnectionReset, "{e}");
        assert!(e.to_string().contains("the connection was reset or closed before the response came"), "{e}");
    }
    let (e, _) = send_err(&format!("http://{cut}"), roomy(), "/Bundle").await;
    assert_eq!(e.fault(), TransportFault::ConnectionReset, "{e}");
    assert_eq!(e.received().map(|r| (r.status, r.bytes)), Some((200, 16)), "{e}");
    assert!(e.to_string().contains("reset or closed during the body after 16 bytes"), "{e}");
}

#[tokio::test]
async fn https_to_a_plain_http_server_is_a_tls_failure() {
    let server = MockServer::start().await;
    let https = server.uri().replace("http://", "https://");
    let (e, _) = send_err(&https, roomy(), "/_ping").await;
    assert_eq!(e.fault(), TransportFault::Tls, "{e}");
    assert!(e.to_string().contains(": TLS failure: "), "{e}");
    assert!(e.to_string().ends_with("(the server does not speak TLS on this port)"), "{e}");
}

#[tokio::test]
async fn a_connection_that_is_never_accepted_is_a_connect_timeout() {
    // A listener whose accept queue is full: the kernel drops further SYNs, so connecting hangs.
    let socket = tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("{e}"));
    socket.bind("127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"));
    let listener = socket.listen(0).unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let mut held = Vec::new();
    for _ in 0..4 {
        if let Ok(Ok(s)) = tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(addr)).await {
            held.push(s);
        }
    }
    let options =
        ClientOptions { connect_timeout: Duration::from_millis(300), read_timeout: Duration::from_secs(5), ..short() };
    let (e, took) = send_err(&format!("http://{addr}"), options, "/_ping").await;
    assert_eq!(e.fault(), TransportFault::ConnectTimeout, "{e}");
    assert!(took < BOUNDED, "took {took:?}");
    assert!(e.to_string().contains("could not connect within 300 ms (connect timeout)"), "{e}");
    drop((held, listener));
}

#[tokio::test]
async fn the_token_client_is_bounded_the_same_way() {
    use scr_assure::identity::client::{ClientError as TokenError, TokenClient};
    use scr_assure::identity::rules::Form;
    let server = MockServer::start().await;
    Mock::given(path("/slow/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}").set_delay(HANG))
        .mount(&server)
        .await;
    Mock::given(path("/big/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![b' '; 2 * 1024 * 1024], "application/json"))
        .mount(&server)
        .await;
    let elsewhere = MockServer::start().await;
    Mock::given(method("POST")).respond_with(ResponseTemplate::new(200)).expect(0).mount(&elsewhere).await;
    Mock::given(path("/moved/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("Location", format!("{}/oauth2/token", elsewhere.uri()).as_str()),
        )
        .mount(&server)
        .await;
    let form = Form::from_pairs([("grant_type", "client_credentials")]);
    let fault = |r: Result<_, TokenError>| match r {
        Err(TokenError::Http(e)) => Some(e.fault()),
        _ => None,
    };
    let tokens = |p: &str, options: ClientOptions| {
        TokenClient::with_options(&format!("{}/{p}/oauth2", server.uri()), &options).unwrap_or_else(|e| panic!("{e}"))
    };
    let start = Instant::now();
    assert_eq!(fault(tokens("slow", short()).post_form(&form).await), Some(TransportFault::ReadTimeout));
    assert!(start.elapsed() < BOUNDED);
    assert_eq!(fault(tokens("big", roomy()).post_form(&form).await), Some(TransportFault::BodyTooLarge));
    // A redirect is not followed: the 307 comes back as an answer that is not a token.
    let moved = tokens("moved", roomy()).post_form(&form).await;
    assert!(matches!(moved, Err(TokenError::NotJson { status: 307, .. })), "{moved:?}");
}

#[tokio::test]
async fn the_site_check_is_bounded_by_the_site_http_table() {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_delay(HANG)).mount(&server).await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let site = format!(
        r#"
ods_code = "A12345"
asid = "200000001162"
session_urid = "555254242102"

[endpoints]
token_url = "{uri}/oauth2/token"
scr_base_url = "{uri}{BASE}"

[app]
api_key_file = "missing-api-key.txt"
kid = "k1"
private_key_file = "missing.pem"

[http]
connect_timeout = 1
timeout = 0.3
deadline = 5
"#,
        uri = server.uri()
    );
    let path = dir.path().join("site.toml");
    std::fs::write(&path, site).unwrap_or_else(|e| panic!("{e}"));
    let site = scr_assure::config::site::Site::load(&path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(site.http.read_timeout, Duration::from_millis(300));
    let start = Instant::now();
    let items = scr_assure::config::check::run(&site, &Clock::system()).await;
    assert!(start.elapsed() < BOUNDED, "took {:?}", start.elapsed());
    for name in ["token-endpoint", "scr-endpoint"] {
        let item = items.iter().find(|i| i.name == name).unwrap_or_else(|| panic!("no {name} item"));
        let line = item.to_string();
        assert!(line.starts_with("FAIL") && line.contains("(read-timeout)"), "{line}");
    }
}

#[test]
fn the_run_command_refuses_bad_bounds_and_a_slow_target_is_unreachable_quickly() {
    let bin = env!("CARGO_BIN_EXE_scr-assure");
    let out =
        std::process::Command::new(bin).args(["run", "--timeout", "0"]).output().unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--timeout") && stderr.contains("above 0"), "{stderr}");
    let out = std::process::Command::new(bin)
        .args(["run", "--max-response-bytes", "0"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(out.status.code(), Some(2));

    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET")).respond_with(ResponseTemplate::new(200).set_delay(HANG)).mount(&server).await;
        server
    });
    let reports = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let out = std::process::Command::new(bin)
        .args(["run", "-q", "--target", "sandbox", "--timeout", "0.3", "--base-url"])
        .arg(format!("{}{BASE}", server.uri()))
        .arg("--reports")
        .arg(reports.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(start.elapsed() < BOUNDED, "took {:?}", start.elapsed());
    assert!(stderr.contains("the response headers never came (read timeout 300 ms"), "{stderr}");

    // The int target through a site whose [http] table bounds the run (no flag given).
    let key = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/identity/test-app-private-key.pem");
    let site = format!(
        r#"
ods_code = "A12345"
asid = "200000001162"
session_urid = "555254242102"

[endpoints]
token_url = "{uri}/oauth2/token"
scr_base_url = "{uri}{BASE}"

[app]
api_key_env = "SCR_ASSURE_FAULTS_TEST_API_KEY"
kid = "scr-assure-test-1"
private_key_file = "{key}"

[http]
timeout = 0.4
"#,
        uri = server.uri(),
        key = key.display()
    );
    let site_path = reports.path().join("site.toml");
    std::fs::write(&site_path, site).unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    let out = std::process::Command::new(bin)
        .args(["run", "-q", "--target", "int", "--site"])
        .arg(&site_path)
        .arg("--reports")
        .arg(reports.path())
        .env("SCR_ASSURE_FAULTS_TEST_API_KEY", "test-only-key")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(start.elapsed() < BOUNDED, "took {:?}", start.elapsed());
    assert!(stderr.contains("the response headers never came (read timeout 400 ms"), "{stderr}");
    drop(server);
}

/// Runs the first `@SCRA-SBX-001` scenario against `server` as the sandbox target; (exit code, junit.xml).
fn run_sandbox_scenario(server_uri: &str, extra: &[&str]) -> (Option<i32>, String) {
    let reports = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scr-assure"))
        .args(["run", "-q", "--target", "sandbox", "-t", "@SCRA-SBX-001", "--snapshots", "off"])
        .args(["-n", "^The magic patient has an SCR with permission to view Yes$"])
        .args(extra)
        .arg("--base-url")
        .arg(format!("{server_uri}{BASE}"))
        .arg("--reports")
        .arg(reports.path())
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let junit = std::fs::read_to_string(reports.path().join("junit.xml"))
        .unwrap_or_else(|e| panic!("no junit.xml ({e}); stderr: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), junit)
}

#[test]
fn a_misbehaving_target_fails_the_step_saying_what_came() {
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|e| panic!("{e}"));
    let (html, slow) = runtime.block_on(async {
        let page = "<html><head><title>Gateway maintenance</title></head><body>back soon</body></html>";
        let html = MockServer::start().await;
        Mock::given(path(format!("{BASE}/_ping"))).respond_with(ResponseTemplate::new(200)).mount(&html).await;
        Mock::given(path(format!("{BASE}/DocumentReference")))
            .respond_with(ResponseTemplate::new(200).set_body_raw(page.as_bytes().to_vec(), "text/html"))
            .mount(&html)
            .await;
        let slow = MockServer::start().await;
        Mock::given(path(format!("{BASE}/_ping"))).respond_with(ResponseTemplate::new(200)).mount(&slow).await;
        Mock::given(path(format!("{BASE}/DocumentReference")))
            .respond_with(ResponseTemplate::new(200).set_delay(HANG))
            .mount(&slow)
            .await;
        (html, slow)
    });
    let (code, junit) = run_sandbox_scenario(&html.uri(), &[]);
    assert_eq!(code, Some(1), "{junit}");
    assert!(
        junit.contains("expected a JSON body, got an HTML page titled &quot;Gateway maintenance&quot; (HTTP 200, Content-Type text/html"),
        "{junit}"
    );
    let start = Instant::now();
    let (code, junit) = run_sandbox_scenario(&slow.uri(), &["--timeout", "0.3"]);
    assert_eq!(code, Some(1), "{junit}");
    assert!(start.elapsed() < BOUNDED, "took {:?}", start.elapsed());
    assert!(junit.contains("/DocumentReference?patient="), "{junit}");
    assert!(junit.contains("the response headers never came (read timeout 300 ms after sending)"), "{junit}");
    drop((html, slow));
}

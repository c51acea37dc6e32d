//! The baseline for `benches/load/run.sh`: a bare axum hello-world on 127.0.0.1, built from the same axum and
//! tokio as the mock (this crate's dependencies) and run the way `scr-assure mock` runs (tokio's multi-thread
//! runtime with its default worker count). Every path answers `200 Hello, World!`, so the load generator sends
//! the mock's request unchanged. Prints its base URL on stdout, as the mock does; Ctrl-C stops it.
//!
//! ```text
//! cargo run --release --example hello_axum -- [PORT]    # 0 or nothing: a free port
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use axum::body::Bytes;
use axum::Router;

#[tokio::main]
async fn main() -> ExitCode {
    let port = match std::env::args().nth(1).map(|p| p.parse::<u16>()) {
        None => 0,
        Some(Ok(port)) => port,
        Some(Err(e)) => {
            eprintln!("hello_axum: the port must be a number: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("hello_axum: cannot listen on 127.0.0.1:{port}: {e}");
            return ExitCode::from(3);
        }
    };
    match listener.local_addr() {
        Ok(addr) => println!("http://{addr}"),
        Err(e) => {
            eprintln!("hello_axum: {e}");
            return ExitCode::from(3);
        }
    }
    // The body is read (and dropped), as any server must to keep a keep-alive connection after a POST.
    let app = Router::new().fallback(|_body: Bytes| async { "Hello, World!" });
    let shutdown = async {
        // An error here means no Ctrl-C handler: serve until killed.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    match axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hello_axum: {e}");
            ExitCode::from(1)
        }
    }
}

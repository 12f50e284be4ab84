//! Issue 8, item 5: slow and idle clients, a flood of connections, and a shutdown with a request
//! half sent. Each test starts a server with short limits and plays the client byte by byte over
//! a raw TCP socket. The time bounds are generous (seconds): they check that a timeout exists
//! and is the configured one, not how fast anything is.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::Server;

fn server(extra: &[(&str, &str)]) -> Server {
    let mut env = vec![
        ("GATEHOUSE_HTTP__HEADER_TIMEOUT", "1"),
        ("GATEHOUSE_HTTP__IDLE_TIMEOUT", "2"),
        ("GATEHOUSE_HTTP__REQUEST_TIMEOUT", "2"),
        ("GATEHOUSE_HTTP__SHUTDOWN_TIMEOUT", "2"),
    ];
    env.extend_from_slice(extra);
    Server::start_with(&env)
}

fn connect(server: &Server) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection (or 15 s pass): what it sent, and when it closed.
fn read_to_close(stream: &mut TcpStream) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => {
                return (
                    String::from_utf8_lossy(&received).into(),
                    Some(started.elapsed()),
                );
            }
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                return (
                    String::from_utf8_lossy(&received).into(),
                    Some(started.elapsed()),
                );
            }
            Err(_) => return (String::from_utf8_lossy(&received).into(), None),
        }
    }
}

/// Reads one whole response to `GET /health` (its body is `{"status":"ok"}`).
fn read_health(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&received).ends_with(r#"{"status":"ok"}"#) {
        let n = stream.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer");
        received.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&received).into()
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: gatehouse\r\n\r\n";

/// The header timeout runs from the first byte of a request, however much longer the idle
/// timeout is (a probe found the idle timeout applied instead).
#[test]
fn headers_trickled_in_are_cut_off_at_the_header_timeout() {
    let server = server(&[("GATEHOUSE_HTTP__IDLE_TIMEOUT", "30")]);
    let mut stream = connect(&server);
    let started = Instant::now();
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .unwrap();
    // One more header byte every 200 ms, for up to 6 s: the headers never end in time.
    let mut writer = stream.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..30 {
            std::thread::sleep(Duration::from_millis(200));
            if writer.write_all(b"a").is_err() {
                return;
            }
        }
    });
    let (answer, closed) = read_to_close(&mut stream);
    let _ = trickle.join();
    assert!(!answer.contains("200 OK"), "served after all: {answer}");
    let closed = closed.expect("the server never closed the connection");
    assert!(
        started.elapsed() < Duration::from_secs(4) && closed >= Duration::from_millis(800),
        "closed after {closed:?} (header timeout 1 s, idle timeout 30 s)"
    );
    // A request line alone, then nothing: the header timeout too, not the idle one.
    let mut stream = connect(&server);
    let started = Instant::now();
    stream.write_all(b"GET /health HTTP/1.1\r\n").unwrap();
    let (answer, closed) = read_to_close(&mut stream);
    assert_eq!(answer, "");
    assert!(
        closed.is_some() && started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

/// One address may hold only so many connections; its next ones are closed at once, while
/// another address is served.
#[test]
fn one_address_cannot_take_every_connection() {
    let server = server(&[
        ("GATEHOUSE_HTTP__MAX_CONNECTIONS_PER_ADDRESS", "3"),
        ("GATEHOUSE_HTTP__IDLE_TIMEOUT", "30"),
    ]);
    let from = |ip: &str| connect_from(ip, &server.addr());
    let held: Vec<TcpStream> = (0..3).map(|_| from("127.0.0.2")).collect();
    let mut refused = from("127.0.0.2");
    refused.write_all(HEALTH).unwrap_or(());
    let (answer, closed) = read_to_close(&mut refused);
    assert_eq!(answer, "");
    assert!(
        closed.is_some(),
        "the fourth connection of 127.0.0.2 stays open"
    );
    let mut other = from("127.0.0.3");
    other.write_all(HEALTH).unwrap();
    assert!(read_health(&mut other).starts_with("HTTP/1.1 200"));
    drop(held);
}

/// A TCP connection to `to` from the local address `ip` (any 127.0.0.0/8 address is loopback).
/// The standard library cannot bind a socket before connecting it; tokio's `TcpSocket` can.
fn connect_from(ip: &str, to: &str) -> TcpStream {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(format!("{ip}:0").parse().unwrap()).unwrap();
        socket.connect(to.parse().unwrap()).await.unwrap()
    });
    let stream = stream.into_std().unwrap();
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream
}

#[test]
fn idle_connections_are_closed_fresh_or_kept_alive() {
    let server = server(&[]);
    // A connection that never sends a byte.
    let mut silent = connect(&server);
    // A keep-alive connection after one answered request.
    let mut kept = connect(&server);
    kept.write_all(HEALTH).unwrap();
    assert!(read_health(&mut kept).starts_with("HTTP/1.1 200"));
    let idle_since = Instant::now();
    for stream in [&mut silent, &mut kept] {
        let (rest, closed) = read_to_close(stream);
        assert_eq!(rest, "");
        assert!(closed.is_some(), "an idle connection stayed open");
        let closed = idle_since.elapsed();
        assert!(
            closed >= Duration::from_millis(1500) && closed < Duration::from_secs(6),
            "closed after {closed:?} (idle timeout 2 s)"
        );
    }
}

#[test]
fn a_slow_body_gets_408_at_the_request_timeout() {
    let server = server(&[]);
    let mut stream = connect(&server);
    stream
        .write_all(
            b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type",
        )
        .unwrap();
    let (answer, closed) = read_to_close(&mut stream);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"invalid_request""#), "{answer}");
    assert!(closed.is_some(), "the connection is closed after the 408");
}

/// A body declared larger than `http.max_body` is refused at once, not held until the request
/// timeout (a probe found the connection held for the whole 30 s, then answered 408).
#[test]
fn a_body_declared_too_large_is_413_at_once() {
    let server = server(&[("GATEHOUSE_HTTP__REQUEST_TIMEOUT", "30")]);
    for length in ["65537", "99999999999"] {
        let mut stream = connect(&server);
        let started = Instant::now();
        stream
            .write_all(
                format!(
                    "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {length}\r\n\r\ngrant_type"
                )
                .as_bytes(),
            )
            .unwrap();
        let (answer, closed) = read_to_close(&mut stream);
        assert!(answer.starts_with("HTTP/1.1 413"), "{length}: {answer}");
        assert!(answer.contains(r#""error":"invalid_request""#), "{answer}");
        assert!(
            closed.is_some(),
            "{length}: the connection is closed after the 413"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{length}: answered after {:?}, not at once",
            started.elapsed()
        );
    }
}

#[test]
fn beyond_the_connection_limit_clients_wait_and_the_admin_api_still_answers() {
    let server = server(&[
        ("GATEHOUSE_HTTP__MAX_CONNECTIONS", "3"),
        ("GATEHOUSE_HTTP__IDLE_TIMEOUT", "30"),
    ]);
    // Three keep-alive connections, each proven to hold a slot by one answered request.
    let mut held: Vec<TcpStream> = (0..3)
        .map(|_| {
            let mut s = connect(&server);
            s.write_all(HEALTH).unwrap();
            read_health(&mut s);
            s
        })
        .collect();
    let mut waiting = connect(&server);
    waiting
        .set_read_timeout(Some(Duration::from_millis(1500)))
        .unwrap();
    waiting.write_all(HEALTH).unwrap();
    let mut buf = [0u8; 64];
    let err = waiting
        .read(&mut buf)
        .expect_err("answered beyond the limit");
    assert!(
        matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
        "{err}"
    );
    // The admin listener has its own count: the operator is not locked out.
    assert_eq!(server.admin_json("/admin/status")["ready"], true);
    assert!(
        server.stderr().contains("connection limit reached"),
        "{}",
        server.stderr()
    );
    // One connection closes: the waiting client is served.
    drop(held.pop());
    waiting
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    assert!(read_health(&mut waiting).starts_with("HTTP/1.1 200"));
}

#[test]
fn sigterm_with_a_request_half_sent_exits_within_the_shutdown_timeout() {
    let mut server = server(&[
        ("GATEHOUSE_HTTP__HEADER_TIMEOUT", "60"),
        ("GATEHOUSE_HTTP__IDLE_TIMEOUT", "60"),
    ]);
    let mut stream = connect(&server);
    stream
        .write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Le")
        .unwrap();
    let mut body = connect(&server);
    body.write_all(b"POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let (took, success) = server.terminate();
    assert!(success, "a clean exit");
    assert!(
        took < Duration::from_secs(8),
        "took {took:?} (shutdown timeout 2 s)"
    );
    let (_, closed) = read_to_close(&mut stream);
    assert!(closed.is_some());
}

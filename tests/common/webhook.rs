//! A webhook receiver for tests: a small HTTP/1.1 server on 127.0.0.1
//! that records every request (method, path, headers, body, when) and
//! answers 500 to the first `fail_first` of them, 200 after.
//!
//! ```ignore
//! let receiver = Receiver::start(2);
//! // … POST to receiver.url …
//! let requests = receiver.wait_for(3, Duration::from_secs(10));
//! ```

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: String,
    pub at: Instant,
    /// The status it was answered with.
    pub answered: u16,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// The running receiver; it stops when dropped.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`
    pub url: String,
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    pub fn start(fail_first: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the receiver");
        let port = listener.local_addr().expect("an address").port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = answer(stream, &shared, fail_first);
                });
            }
        });
        Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            requests,
            stop,
        }
    }

    /// The requests so far, in the order they came.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests answered 2xx.
    pub fn delivered(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.answered == 200)
            .collect()
    }

    /// Waits until `n` requests came (at most `timeout`) and returns them
    /// all; panics when they do not come.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Request> {
        let start = Instant::now();
        loop {
            let requests = self.requests();
            if requests.len() >= n {
                return requests;
            }
            assert!(
                start.elapsed() < timeout,
                "{n} requests expected at the webhook receiver within {timeout:?}; {} came",
                requests.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn answer(
    stream: TcpStream,
    requests: &Mutex<Vec<Request>>,
    fail_first: usize,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    if reader.read_line(&mut first)? == 0 {
        return Ok(());
    }
    let mut words = first.split_whitespace();
    let method = words.next().unwrap_or("").to_string();
    let path = words.next().unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let status = {
        let mut requests = requests.lock().unwrap();
        let status = if requests.len() < fail_first {
            500
        } else {
            200
        };
        requests.push(Request {
            method,
            path,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
            at: Instant::now(),
            answered: status,
        });
        status
    };
    let (reason, text) = match status {
        200 => ("OK", "received"),
        _ => ("Internal Server Error", "the receiver is down for a test"),
    };
    out.write_all(
        format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        )
        .as_bytes(),
    )?;
    out.flush()
}

//! An SMTP server for tests: a real SMTP conversation over TCP on
//! 127.0.0.1 (EHLO or HELO, AUTH PLAIN or LOGIN, MAIL FROM, RCPT TO, DATA,
//! RSET, NOOP, QUIT), recording each message's envelope and raw data. It
//! can be told to refuse the next messages with a 4xx or 5xx answer to
//! their data. No TLS: point the portal at it with `--smtp-security none`.
//!
//! ```ignore
//! let sink = SmtpSink::start();
//! // … send to 127.0.0.1:sink.port …
//! let mails = sink.wait_for(1, Duration::from_secs(10));
//! assert_eq!(mails[0].to, ["ops@example.com"]);
//! ```

use base64::Engine;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One message the sink accepted.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    /// MAIL FROM's address.
    pub from: String,
    /// RCPT TO's addresses.
    pub to: Vec<String>,
    /// The message as sent after DATA (headers and body, CRLF line ends,
    /// dots unstuffed, without the final ".").
    pub data: String,
    /// The user and password of AUTH, when the client signed in.
    pub auth: Option<(String, String)>,
}

impl ReceivedMail {
    /// The value of the first header `name` (case-insensitive) of the
    /// message's head, unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        header_of(&self.data, name)
    }
}

/// The value of header `name` in the head of a MIME entity (headers, a
/// blank line, the body).
pub fn header_of(entity: &str, name: &str) -> Option<String> {
    let head = entity.split("\r\n\r\n").next().unwrap_or("");
    let mut value: Option<String> = None;
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = value.as_mut() {
                v.push(' ');
                v.push_str(line.trim());
            }
            continue;
        }
        if value.is_some() {
            break;
        }
        if let Some((key, rest)) = line.split_once(':') {
            if key.eq_ignore_ascii_case(name) {
                value = Some(rest.trim().to_string());
            }
        }
    }
    value
}

#[derive(Default)]
struct State {
    messages: Vec<ReceivedMail>,
    /// Refuse this many more messages, with this answer.
    refuse: Option<(usize, String)>,
    /// Messages refused so far.
    refused: usize,
}

/// The running sink; it stops when dropped.
pub struct SmtpSink {
    pub port: u16,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl SmtpSink {
    pub fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the SMTP sink");
        let port = listener.local_addr().expect("an address").port();
        let state = Arc::new(Mutex::new(State::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (shared, stopped) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let shared = shared.clone();
                std::thread::spawn(move || {
                    let _ = converse(stream, &shared);
                });
            }
        });
        SmtpSink { port, state, stop }
    }

    /// The messages accepted so far, in the order they came.
    pub fn messages(&self) -> Vec<ReceivedMail> {
        self.state.lock().unwrap().messages.clone()
    }

    /// How many messages were refused (by [`SmtpSink::refuse_next`]).
    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    /// Answers the data of the next `n` messages with `reply` (e.g. "451
    /// 4.3.0 try again later" or "554 5.7.1 refused") instead of accepting.
    pub fn refuse_next(&self, n: usize, reply: &str) {
        self.state.lock().unwrap().refuse = Some((n, reply.to_string()));
    }

    /// Waits until `n` messages arrived (at most `timeout`) and returns
    /// them all; panics when they do not come.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let start = Instant::now();
        loop {
            let messages = self.messages();
            if messages.len() >= n {
                return messages;
            }
            assert!(
                start.elapsed() < timeout,
                "{n} mails expected at the SMTP sink within {timeout:?}; {} came",
                messages.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread, which then sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The address between `<` and `>` of `MAIL FROM:<a>` / `RCPT TO:<a>`.
fn address(argument: &str) -> String {
    let start = argument.find('<').map_or(0, |i| i + 1);
    let end = argument.rfind('>').unwrap_or(argument.len());
    argument.get(start..end).unwrap_or("").to_string()
}

fn decode(b64: &str) -> String {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .unwrap_or_default();
    String::from_utf8_lossy(&bytes).to_string()
}

/// One client's conversation, until QUIT or the connection ends.
fn converse(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    let mut read_line = move || -> std::io::Result<Option<String>> {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    };
    out.write_all(b"220 sink.test ESMTP ready\r\n")?;
    let mut auth: Option<(String, String)> = None;
    let mut from = String::new();
    let mut to: Vec<String> = Vec::new();
    while let Some(line) = read_line()? {
        let (verb, argument) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        match verb.to_ascii_uppercase().as_str() {
            "EHLO" => out.write_all(
                b"250-sink.test greets you\r\n250-AUTH PLAIN LOGIN\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            )?,
            "HELO" => out.write_all(b"250 sink.test\r\n")?,
            "AUTH" => {
                let (mechanism, initial) = argument.split_once(' ').unwrap_or((argument, ""));
                match mechanism.to_ascii_uppercase().as_str() {
                    "PLAIN" => {
                        let response = if initial.is_empty() {
                            out.write_all(b"334 \r\n")?;
                            read_line()?.unwrap_or_default()
                        } else {
                            initial.to_string()
                        };
                        let decoded = decode(&response);
                        let mut parts = decoded.split('\0').skip(1);
                        auth = Some((
                            parts.next().unwrap_or("").to_string(),
                            parts.next().unwrap_or("").to_string(),
                        ));
                        out.write_all(b"235 2.7.0 signed in\r\n")?;
                    }
                    "LOGIN" => {
                        let user = if initial.is_empty() {
                            out.write_all(b"334 VXNlcm5hbWU6\r\n")?;
                            decode(&read_line()?.unwrap_or_default())
                        } else {
                            decode(initial)
                        };
                        out.write_all(b"334 UGFzc3dvcmQ6\r\n")?;
                        let password = decode(&read_line()?.unwrap_or_default());
                        auth = Some((user, password));
                        out.write_all(b"235 2.7.0 signed in\r\n")?;
                    }
                    _ => out.write_all(b"504 5.5.4 unknown mechanism\r\n")?,
                }
            }
            "MAIL" => {
                from = address(argument);
                to.clear();
                out.write_all(b"250 2.1.0 ok\r\n")?;
            }
            "RCPT" => {
                to.push(address(argument));
                out.write_all(b"250 2.1.5 ok\r\n")?;
            }
            "DATA" => {
                out.write_all(b"354 end with <CRLF>.<CRLF>\r\n")?;
                let mut data = String::new();
                loop {
                    let Some(line) = read_line()? else {
                        return Ok(());
                    };
                    if line == "." {
                        break;
                    }
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push_str("\r\n");
                }
                let mut state = state.lock().unwrap();
                let refusal = match &mut state.refuse {
                    Some((n, reply)) if *n > 0 => {
                        *n -= 1;
                        Some(reply.clone())
                    }
                    _ => None,
                };
                match refusal {
                    Some(reply) => {
                        state.refused += 1;
                        out.write_all(format!("{reply}\r\n").as_bytes())?;
                    }
                    None => {
                        state.messages.push(ReceivedMail {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                            auth: auth.clone(),
                        });
                        let id = state.messages.len();
                        out.write_all(format!("250 2.0.0 queued as {id}\r\n").as_bytes())?;
                    }
                }
            }
            "RSET" => {
                from.clear();
                to.clear();
                out.write_all(b"250 2.0.0 ok\r\n")?;
            }
            "NOOP" => out.write_all(b"250 2.0.0 ok\r\n")?,
            "QUIT" => {
                out.write_all(b"221 2.0.0 bye\r\n")?;
                return Ok(());
            }
            _ => out.write_all(b"502 5.5.2 not implemented\r\n")?,
        }
    }
    Ok(())
}

/// The parts of a `multipart/*` message: each part's whole text (headers,
/// blank line, body), split on the boundary of the message's Content-Type.
pub fn parts(mail: &ReceivedMail) -> Vec<String> {
    let content_type = mail.header("Content-Type").unwrap_or_default();
    let boundary = content_type
        .split(';')
        .filter_map(|p| p.trim().strip_prefix("boundary="))
        .next()
        .unwrap_or_else(|| panic!("a multipart message: {}", mail.data))
        .trim_matches('"')
        .to_string();
    let delimiter = format!("--{boundary}");
    let body = mail.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    body.split(delimiter.as_str())
        .skip(1)
        .take_while(|p| !p.starts_with("--"))
        .map(|p| p.trim_start_matches("\r\n").to_string())
        .collect()
}

/// The body of a MIME part, decoded as its Content-Transfer-Encoding says
/// (base64, quoted-printable, 7bit or 8bit).
pub fn decoded_body(part: &str) -> Vec<u8> {
    let body = part.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let body = body.strip_suffix("\r\n").unwrap_or(body);
    match header_of(part, "Content-Transfer-Encoding")
        .unwrap_or_default()
        .to_ascii_lowercase()
        .as_str()
    {
        "base64" => base64::engine::general_purpose::STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .expect("base64"),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    }
}

fn quoted_printable(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'=' if bytes.get(i + 1) == Some(&b'\r') && bytes.get(i + 2) == Some(&b'\n') => i += 3,
            b'=' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).expect("hex");
                out.push(u8::from_str_radix(hex, 16).expect("a hex escape"));
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

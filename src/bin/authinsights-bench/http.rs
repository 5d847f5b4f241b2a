//! A small HTTP/1.1 client for the load tests: one keep-alive connection per
//! thread, a request written as prepared bytes, a response read to its end
//! (by `Content-Length` or chunked) without parsing more than that. It costs
//! the client little CPU, so on a small machine most of it is left to the
//! server being measured.

use std::io::{self, Read, Write};
use std::net::TcpStream;

pub struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Bytes in `buf` already read from the socket.
    filled: usize,
}

/// A response's status and body length; the body went to the caller's sink.
pub struct Response {
    pub status: u16,
    pub body_len: usize,
}

impl Connection {
    pub fn open(addr: &str) -> io::Result<Connection> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buf: vec![0; 64 * 1024],
            filled: 0,
        })
    }

    /// The request bytes of a GET with a session cookie.
    pub fn get_request(host: &str, path: &str, cookie: &str) -> Vec<u8> {
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nAccept-Encoding: identity\r\n\r\n")
            .into_bytes()
    }

    /// Sends `request` and reads the whole response, handing the body to `sink`
    /// piece by piece.
    pub fn send(&mut self, request: &[u8], sink: &mut dyn FnMut(&[u8])) -> io::Result<Response> {
        self.stream.write_all(request)?;
        let head_end = loop {
            if let Some(at) = find(&self.buf[..self.filled], b"\r\n\r\n") {
                break at + 4;
            }
            self.fill()?;
        };
        let head = std::str::from_utf8(&self.buf[..head_end])
            .map_err(|_| io::Error::other("a response head that is not UTF-8"))?;
        let status: u16 = head
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other("no status line"))?;
        let mut length = None;
        let mut chunked = false;
        for line in head.split("\r\n").skip(1) {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        self.consume(head_end);
        let body_len = if chunked {
            self.read_chunked(sink)?
        } else {
            let n = length.unwrap_or(0);
            self.read_exact_into(n, sink)?;
            n
        };
        Ok(Response { status, body_len })
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.filled == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let n = self.stream.read(&mut self.buf[self.filled..])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        self.filled += n;
        Ok(())
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.filled, 0);
        self.filled -= n;
    }

    /// Reads `n` body bytes into `sink`.
    fn read_exact_into(&mut self, mut n: usize, sink: &mut dyn FnMut(&[u8])) -> io::Result<()> {
        while n > 0 {
            if self.filled == 0 {
                self.fill()?;
            }
            let take = n.min(self.filled);
            sink(&self.buf[..take]);
            self.consume(take);
            n -= take;
        }
        Ok(())
    }

    fn read_line(&mut self) -> io::Result<String> {
        loop {
            if let Some(at) = find(&self.buf[..self.filled], b"\r\n") {
                let line = String::from_utf8_lossy(&self.buf[..at]).into_owned();
                self.consume(at + 2);
                return Ok(line);
            }
            self.fill()?;
        }
    }

    fn read_chunked(&mut self, sink: &mut dyn FnMut(&[u8])) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let line = self.read_line()?;
            let size = usize::from_str_radix(line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::other(format!("a bad chunk size '{line}'")))?;
            if size == 0 {
                // Trailers (none are sent) end with an empty line.
                while !self.read_line()?.is_empty() {}
                return Ok(total);
            }
            self.read_exact_into(size, sink)?;
            total += size;
            self.read_line()?;
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Counts the records of a CSV stream as it arrives: line ends outside
/// quoted fields (a doubled quote inside a field toggles twice).
#[derive(Default)]
pub struct CsvRecords {
    in_quotes: bool,
    pub lines: u64,
}

impl CsvRecords {
    pub fn feed(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => self.lines += 1,
                _ => {}
            }
        }
    }
}

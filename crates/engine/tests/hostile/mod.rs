//! A hostile (or just broken) server on 127.0.0.1: raw HTTP/1.1 on a
//! socket, so it can answer what no well-behaved framework would (endless
//! bodies, lying lengths, redirects anywhere, wrong types). It records
//! every request it got, headers and body included, so a test can check
//! what was sent to it.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// Path and query.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Everything received, as text (to look for a leaked secret).
    pub fn text(&self) -> String {
        let h: Vec<String> = self
            .headers
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect();
        format!(
            "{} {}\n{}\n{}",
            self.method,
            self.target,
            h.join("\n"),
            String::from_utf8_lossy(&self.body)
        )
    }
}

/// What the server answers.
pub enum Reply {
    /// Status, extra headers, body (Content-Length set from it).
    Full(u16, Vec<(String, String)>, Vec<u8>),
    /// Status and headers, then `len` bytes of `fill` (Content-Length says
    /// `len`): a huge answer that is never held whole.
    Endless(u16, u64, u8),
    /// Bytes exactly as given, then the connection is closed.
    Raw(Vec<u8>),
}

impl Reply {
    pub fn json(status: u16, body: &str) -> Reply {
        Reply::Full(
            status,
            vec![("Content-Type".into(), "application/json".into())],
            body.as_bytes().to_vec(),
        )
    }
    pub fn redirect(status: u16, to: &str) -> Reply {
        Reply::Full(status, vec![("Location".into(), to.into())], vec![])
    }
}

type Script = dyn Fn(&Req) -> Reply + Send + Sync;

pub struct Hostile {
    pub url: String,
    pub got: Arc<Mutex<Vec<Req>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Hostile {
    pub async fn start(script: impl Fn(&Req) -> Reply + Send + Sync + 'static) -> Hostile {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let got = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let g = got.clone();
        let task = tokio::spawn(async move {
            while let Ok((s, _)) = l.accept().await {
                let (g, script) = (g.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = serve(s, g, script).await;
                });
            }
        });
        Hostile { url, got, task }
    }

    pub fn requests(&self) -> Vec<Req> {
        self.got.lock().unwrap().clone()
    }
}

async fn serve(
    s: tokio::net::TcpStream,
    got: Arc<Mutex<Vec<Req>>>,
    script: Arc<Script>,
) -> std::io::Result<()> {
    s.set_nodelay(true)?;
    let (r, mut w) = s.into_split();
    let mut r = BufReader::new(r);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let target = parts.next().unwrap_or_default().to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_string(), v.trim().to_string()));
            }
        }
        let len: usize = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(0);
        let chunked = headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let mut body = vec![0; len.min(64 << 20)];
        r.read_exact(&mut body).await?;
        if chunked {
            body = read_chunked(&mut r).await?;
        }
        let req = Req {
            method,
            target,
            headers,
            body,
        };
        let reply = script(&req);
        got.lock().unwrap().push(req);
        match reply {
            Reply::Full(status, headers, body) => {
                let mut head = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
                for (n, v) in headers {
                    head.push_str(&format!("{n}: {v}\r\n"));
                }
                head.push_str("\r\n");
                // One write: head and body in separate segments would meet
                // delayed ACKs (40 ms a request).
                let mut all = head.into_bytes();
                all.extend_from_slice(&body);
                w.write_all(&all).await?;
            }
            Reply::Endless(status, len, fill) => {
                let head = format!(
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n"
                );
                w.write_all(head.as_bytes()).await?;
                let chunk = vec![fill; 1 << 16];
                let mut left = len;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    // The client hangs up once it has read enough.
                    if w.write_all(&chunk[..n]).await.is_err() {
                        return Ok(());
                    }
                    left -= n as u64;
                }
            }
            Reply::Raw(bytes) => {
                w.write_all(&bytes).await?;
                w.shutdown().await?;
                return Ok(());
            }
        }
    }
}

async fn read_chunked(
    r: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).await?;
        let n =
            usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        let mut chunk = vec![0; n + 2];
        r.read_exact(&mut chunk).await?;
        if n == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

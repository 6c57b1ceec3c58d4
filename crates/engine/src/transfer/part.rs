//! One part: read from disk straight into the request body, hashed in the
//! same pass, sent with retries, its ETag checked and journaled.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use tokio::sync::OwnedSemaphorePermit;

use super::{FileCtx, Inner};
use crate::Error;
use crate::error::from_reqwest;
use crate::event::Event;
use crate::hashhub::PartHash;
use crate::portal::{PartRequest, PartResponse, Portal, Upload};
use crate::read::{ReadOutcome, part_stream, read_part};
use crate::retry::retry_cancellable;

pub(super) async fn send_part(
    inner: Arc<Inner>,
    portal: Arc<dyn Portal>,
    ctx: Arc<FileCtx>,
    upload: Arc<Upload>,
    part: u32,
    _permit: OwnedSemaphorePermit,
) -> Result<String, Error> {
    // An outage is waited out inside one attempt (see `network`), probed
    // at the storage's origin.
    let probe = portal.part_request(&upload, part).ok().map(|r| r.url);
    let (i, p, c, u, probe) = (&inner, portal.as_ref(), &ctx, &upload, probe.as_deref());
    let r = retry_cancellable(
        &inner.cfg.retry,
        &ctx.cancel,
        move |attempt| {
            i.net.online(probe, &c.cancel, move || {
                send_once(i, p, c, u, part, attempt)
            })
        },
        |attempt, delay, e| {
            inner.events.emit(Event::Retry {
                file: ctx.index,
                part: Some(part),
                attempt,
                delay_ms: delay.as_millis() as u64,
                reason: e.to_string(),
            })
        },
    )
    .await
    .map_err(|e| e.about_file(&ctx.item.path, Some(part)))
    .and_then(|etag| match &ctx.log {
        Some(l) => l
            .part_done(ctx.index, &upload.remote_id, part, &etag)
            .map(|()| etag),
        None => Ok(etag),
    });
    match &r {
        Ok(etag) => {
            let (start, end) = ctx.plan.range(part);
            inner.acked.fetch_add(end - start, Ordering::Relaxed);
            inner.events.emit(Event::PartDone {
                file: ctx.index,
                part,
                etag: etag.clone(),
            })
        }
        Err(e) => {
            if !matches!(e, Error::Cancelled) {
                let mut cause = ctx.cause.lock().expect("cause");
                if cause.is_none() {
                    *cause = Some(e.clone());
                }
            }
            // One part failed for good: the file cannot complete, so stop
            // its siblings instead of sending bytes for nothing.
            ctx.cancel.cancel();
        }
    }
    r
}

/// A part's request body and how its MD5 becomes known.
struct PartBody {
    body: reqwest::Body,
    /// Known before sending: the part was read whole (`Content-MD5`).
    md5: Option<[u8; 16]>,
    /// Computed as the body streams from disk.
    streaming_md5: Option<Arc<PartHash>>,
}

/// One attempt at one part: its request sent, watched for stalls, and its
/// answer checked (the ETag against the MD5 of the bytes sent).
pub(super) async fn send_once(
    inner: &Inner,
    portal: &dyn Portal,
    ctx: &Arc<FileCtx>,
    upload: &Upload,
    part: u32,
    attempt: u32,
) -> Result<String, Error> {
    if ctx.cancel.is_cancelled() {
        return Err(Error::Cancelled);
    }
    let (start, end) = ctx.plan.range(part);
    let len = end - start;
    inner.first_part.get_or_init(Instant::now);
    inner.events.emit(Event::PartStarted {
        file: ctx.index,
        part,
        attempt,
        size: len,
    });
    let req = portal.part_request(upload, part)?;
    // A link that expired (during a sleep, say) is not tried: the file
    // needs new links, which `Engine::run` gets it.
    if let Some(exp) = upload.expires_at
        && crate::clock::unix_now() > exp
    {
        return Err(Error::Expired {
            host: crate::error::host_of(&req.url),
            detail: format!("the link of part {part} expired before it could start"),
        });
    }
    crate::guard::check_url(&req.url, "the upload link")?;
    let moved = Arc::new(AtomicU64::new(0));
    let outcome: crate::read::Shared = Arc::new(Mutex::new(ReadOutcome::default()));

    let mut builder = request_for(&inner.net.client(), &req, len);
    let body = part_body(inner, ctx, &req, part, &moved, &outcome).await?;
    if let Some(md5) = body.md5 {
        builder = builder.header(
            "Content-MD5",
            base64::engine::general_purpose::STANDARD.encode(md5),
        );
    }
    let result = send_watched(inner, ctx, &req, builder.body(body.body), &moved, attempt).await;
    let local_failure = outcome.lock().expect("outcome").error.take();
    let result = match (result, local_failure) {
        (_, Some(local)) => Err(local),
        (r, None) => r.and_then(|resp| portal.accept_part(upload, part, &resp)),
    };
    // Every chunk of a part sent whole is hashed (MD5, and fed to the
    // file's SHA-256) before the part counts as done.
    let mut local_md5 = body.md5;
    if let (Ok(_), Some(md5)) = (&result, body.streaming_md5)
        && outcome.lock().expect("outcome").read == len
    {
        local_md5 = Some(md5.finish().await?);
    }
    let checked =
        result.and_then(|etag| check_etag(portal, upload, ctx, &req.url, part, etag, local_md5));
    if checked.is_err() {
        // Bytes of a failed attempt do not count as sent.
        ctx.sent
            .fetch_sub(moved.load(Ordering::Relaxed), Ordering::Relaxed);
    }
    checked
}

/// The body of a part's request: read whole first when the portal wants
/// its `Content-MD5`, else streamed from disk and hashed on the way.
async fn part_body(
    inner: &Inner,
    ctx: &Arc<FileCtx>,
    req: &PartRequest,
    part: u32,
    moved: &Arc<AtomicU64>,
    outcome: &crate::read::Shared,
) -> Result<PartBody, Error> {
    use futures::StreamExt;
    let (start, end) = ctx.plan.range(part);
    let len = end - start;
    let sha = inner.cfg.file_hash.then(|| ctx.hasher.clone());
    let progress = progress_fn(inner, ctx, part, moved.clone());
    let prefix = futures::stream::iter(
        (!req.prefix.is_empty()).then(|| Ok::<_, std::io::Error>(req.prefix.clone())),
    );
    let suffix = futures::stream::iter(
        (!req.suffix.is_empty()).then(|| Ok::<_, std::io::Error>(req.suffix.clone())),
    );
    if req.content_md5 {
        let (bytes, md5) = read_part(&ctx.item.path, start, len, sha.as_deref()).await?;
        // Sent from memory in chunk-sized slices (no copy), so progress
        // and stall detection work as for parts streamed from disk.
        let chunk = inner.cfg.chunk_size.max(1);
        let slices: Vec<bytes::Bytes> = (0..bytes.len())
            .step_by(chunk)
            .map(|i| bytes.slice(i..(i + chunk).min(bytes.len())))
            .collect();
        let file = futures::stream::iter(slices).map(move |b| {
            progress(b.len() as u64);
            Ok::<_, std::io::Error>(b)
        });
        return Ok(PartBody {
            body: reqwest::Body::wrap_stream(prefix.chain(file).chain(suffix)),
            md5: Some(md5),
            streaming_md5: None,
        });
    }
    let md5 = Arc::new(crate::hashhub::Hub::global().open());
    let file = part_stream(
        ctx.item.path.clone(),
        start,
        len,
        inner.cfg.chunk_size,
        sha,
        md5.clone(),
        outcome.clone(),
        progress,
    );
    Ok(PartBody {
        body: reqwest::Body::wrap_stream(prefix.chain(file).chain(suffix)),
        md5: None,
        streaming_md5: Some(md5),
    })
}

/// The HTTP request of `req` carrying `len` bytes of the file (its body
/// still to be set): method, URL, the portal's headers and the length of
/// prefix, bytes and suffix.
pub(super) fn request_for(
    client: &reqwest::Client,
    req: &PartRequest,
    len: u64,
) -> reqwest::RequestBuilder {
    let total = req.prefix.len() as u64 + len + req.suffix.len() as u64;
    let mut builder = client
        .request(req.method.clone(), &req.url)
        .header(reqwest::header::CONTENT_LENGTH, total);
    for (k, v) in &req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    builder
}

/// Sends a part's request and reads the storage's answer (its body capped).
pub(super) async fn answer(
    builder: reqwest::RequestBuilder,
    req: &PartRequest,
    attempt: u32,
) -> Result<PartResponse, Error> {
    let resp = builder
        .send()
        .await
        .map_err(|e| from_reqwest(&req.url, e))?;
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = crate::guard::body_capped(resp, &req.url, crate::guard::JSON_CAP).await?;
    Ok(PartResponse {
        url: req.url.clone(),
        status,
        headers,
        body,
        attempt,
    })
}

/// Sends a part's request and reads the answer, unless its body stops
/// moving, the file is cancelled or the computer slept meanwhile.
async fn send_watched(
    inner: &Inner,
    ctx: &Arc<FileCtx>,
    req: &PartRequest,
    builder: reqwest::RequestBuilder,
    moved: &Arc<AtomicU64>,
    attempt: u32,
) -> Result<PartResponse, Error> {
    tokio::select! {
        r = answer(builder, req, attempt) => r,
        _ = stalled(moved.clone(), inner.cfg.stall_timeout) => Err(Error::Network {
            host: crate::error::host_of(&req.url),
            detail: format!("no progress for {} s; {}", inner.cfg.stall_timeout.as_secs(), crate::network::STALLED),
        }),
        _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
        // Its connection died with the sleep: made anew, not counted.
        _ = inner.net.woken() => Err(Error::Unreachable {
            host: crate::error::host_of(&req.url),
            detail: "the computer slept; connecting again".into(),
        }),
    }
}

/// The storage's ETag for a part, refused when completion could not use
/// it (missing) or it is not the MD5 of the bytes sent.
fn check_etag(
    portal: &dyn Portal,
    upload: &Upload,
    ctx: &FileCtx,
    url: &str,
    part: u32,
    etag: String,
    local_md5: Option<[u8; 16]>,
) -> Result<String, Error> {
    // Completion lists every part's ETag: a part acknowledged without one
    // cannot be completed, so it counts as not stored. (A single PUT may
    // have none: a conditional retry's 412.)
    if upload.multipart && etag.trim().trim_matches('"').is_empty() {
        return Err(Error::Protocol {
            host: crate::error::host_of(url),
            detail: format!(
                "part {part} of {}: the storage acknowledged it without an ETag; sending it again",
                ctx.item.name
            ),
        });
    }
    if portal.etag_is_md5()
        && let Some(md5) = local_md5
    {
        let got = etag.trim_matches('"').to_ascii_lowercase();
        if !etag.is_empty() && got != hex::encode(md5) {
            return Err(Error::Protocol {
                host: crate::error::host_of(url),
                detail: format!(
                    "part {part} of {}: the storage's ETag {etag} is not the MD5 of the bytes sent ({}); sending it again",
                    ctx.item.name,
                    hex::encode(md5)
                ),
            });
        }
    }
    Ok(etag)
}

pub(super) fn progress_fn(
    inner: &Inner,
    ctx: &Arc<FileCtx>,
    part: u32,
    moved: Arc<AtomicU64>,
) -> impl Fn(u64) + Send + Sync + 'static {
    let events = inner.events.clone();
    let interval = inner.cfg.progress_interval;
    let ctx = ctx.clone();
    let last = Mutex::new(Instant::now() - interval);
    move |n| {
        let part_sent = moved.fetch_add(n, Ordering::Relaxed) + n;
        let file_sent = ctx.sent.fetch_add(n, Ordering::Relaxed) + n;
        let (start, end) = ctx.plan.range(part);
        let mut last = last.lock().expect("progress");
        if last.elapsed() >= interval || part_sent == end - start {
            *last = Instant::now();
            events.emit(Event::Progress {
                file: ctx.index,
                part,
                part_sent,
                file_sent,
            });
        }
    }
}

/// Resolves when `moved` has not changed for `limit`.
pub(super) async fn stalled(moved: Arc<AtomicU64>, limit: Duration) {
    let tick = (limit / 4).max(Duration::from_millis(50));
    let mut last = moved.load(Ordering::Relaxed);
    let mut since = Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        let now = moved.load(Ordering::Relaxed);
        if now != last {
            last = now;
            since = Instant::now();
        } else if since.elapsed() >= limit {
            return;
        }
    }
}

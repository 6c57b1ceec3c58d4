//! Upload links that expire: the engine's side of the deadline model. Links
//! are asked for only when they can be used, and a file is planned so that
//! every part starts before its link dies (or refused, saying what would fit).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::deadline::{self, Fit, Link};
use super::probe::Probed;
use super::{Engine, FileCtx};
use crate::Error;
use crate::event::Event;
use crate::hasher::OrderedHasher;
use crate::plan::MIB;
use crate::portal::{FileSpec, Portal, Upload};
use crate::retry::retry_cancellable;

impl Engine {
    pub(super) fn learn_link_lifetime(&self, ups: &[Upload]) {
        if let Some(exp) = ups.iter().find_map(|u| u.expires_at) {
            let left = exp.saturating_sub(crate::clock::unix_now());
            *self.inner.link_lifetime.lock().expect("lifetime") = Some(left);
        }
    }

    /// The throughput to plan with, and how it was found.
    pub(super) fn planning_rate(&self) -> (f64, String) {
        if let Some(r) = self.inner.measured_rate() {
            return (r, "measured so far".into());
        }
        let assumed = self.inner.cfg.assumed_rate;
        match &*self.inner.probed.lock().expect("probed") {
            Some(Probed::Rate(r)) => (*r, "measured by test uploads".into()),
            Some(Probed::Failed(e)) => (
                assumed,
                format!("assumed (test uploads to measure the uplink failed: {e})"),
            ),
            None => (assumed, "assumed until measured".into()),
        }
    }

    /// Seconds the links of `ups` have left, on this machine's clock.
    pub(super) fn window_of(ups: &[Upload]) -> Option<f64> {
        let exp = ups.iter().filter_map(|u| u.expires_at).min()?;
        Some(exp.saturating_sub(crate::clock::unix_now()) as f64)
    }

    /// Ask for the links of `ctxs[from..*to]` and read how long they
    /// really live before a byte is sent. A multipart file whose plan no
    /// longer fits them is planned again for them and asks for new links
    /// (the unused upload is abandoned); a start group of single PUTs too long
    /// for them keeps only the files that start in time (`*to` shrinks).
    pub(super) async fn begin_in_time(
        &self,
        portal: &dyn Portal,
        ctxs: &mut [Arc<FileCtx>],
        from: usize,
        to: &mut usize,
    ) -> Result<Vec<Upload>, Error> {
        let inner = &self.inner;
        let k = inner.cfg.parts_in_flight.max(1) as u32;
        // Singles: each file is one part; shorten the group to what the
        // lifetime learnt so far lets start in time.
        if !ctxs[from].plan.multipart
            && let Some(window) = self.known_window(portal)
        {
            let n = self.singles_in_time(&ctxs[from..*to], window, k);
            *to = from + n;
        }
        for _ in 0..4 {
            let group = &ctxs[from..*to];
            let specs: Vec<FileSpec> = group
                .iter()
                .map(|c| FileSpec {
                    name: c.item.name.clone(),
                    plan: c.plan.clone(),
                })
                .collect();
            let mut ups = retry_cancellable(
                &inner.cfg.retry,
                &group[0].cancel,
                |_| {
                    inner
                        .net
                        .online(None, &group[0].cancel, || portal.begin(&specs))
                },
                |attempt, delay, e| {
                    inner.events.emit(Event::Retry {
                        file: group[0].index,
                        part: None,
                        attempt,
                        delay_ms: delay.as_millis() as u64,
                        reason: e.to_string(),
                    })
                },
            )
            .await?;
            if ups.len() != group.len() {
                return Err(Error::Protocol {
                    host: portal.name().into(),
                    detail: format!("asked to start {} uploads, got {}", group.len(), ups.len()),
                });
            }
            self.learn_link_lifetime(&ups);
            let Some(window) = Self::window_of(&ups) else {
                return Ok(ups);
            };
            let c = &group[0];
            if !c.plan.multipart {
                let n = self.singles_in_time(group, window, k);
                ups.truncate(n);
                *to = from + n;
                return Ok(ups);
            }
            let (rate, _) = self.planning_rate();
            if deadline::fits(
                &c.plan,
                &self.ahead(),
                c.in_flight,
                &Link::shared(rate),
                window,
            ) {
                return Ok(ups);
            }
            // These links live shorter than planned for: a plan that fits
            // them, under new links.
            match self.fit_to_links(portal, c, Some(window))? {
                Some(n) => ctxs[from] = n,
                None => return Ok(ups),
            }
        }
        Err(Error::Protocol {
            host: portal.name().into(),
            detail: format!(
                "{}: every batch of upload links lived shorter than the one before; try again later",
                ctxs[from].item.path.display()
            ),
        })
    }

    /// The lifetime of the links the portal issued last (or says it issues).
    pub(super) fn known_window(&self, portal: &dyn Portal) -> Option<f64> {
        let learnt = *self.inner.link_lifetime.lock().expect("lifetime");
        learnt
            .map(Duration::from_secs)
            .or_else(|| portal.link_lifetime())
            .map(|d| d.as_secs_f64())
    }

    /// How many of `group` (single PUTs, sent in order, `k` at a time)
    /// start before links of `window` seconds expire; at least one.
    pub(super) fn singles_in_time(&self, group: &[Arc<FileCtx>], window: f64, k: u32) -> usize {
        let (rate, _) = self.planning_rate();
        let sizes: Vec<u64> = group.iter().map(|c| c.item.size).collect();
        let starts = deadline::starts(&sizes, &self.ahead(), k, &Link::shared(rate));
        starts
            .iter()
            .take_while(|t| **t <= deadline::MARGIN * window)
            .count()
            .max(1)
    }

    /// Before a multipart file's links are asked for (and again when the
    /// links turn out to live shorter): if the deadline model says a part
    /// would start after its link expires, send it as fewer, larger parts
    /// (with more in flight if that is what it takes) that all start in
    /// time, and say so. `None` keeps the plan; an error when nothing
    /// within the storage's limits gets the file through in time.
    pub(super) fn fit_to_links(
        &self,
        portal: &dyn Portal,
        ctx: &Arc<FileCtx>,
        window: Option<f64>,
    ) -> Result<Option<Arc<FileCtx>>, Error> {
        let Some(window) = window.or_else(|| self.known_window(portal)) else {
            return Ok(None);
        };
        let (rate, how) = self.planning_rate();
        let k = self.inner.cfg.parts_in_flight.max(1) as u32;
        let link = Link::shared(rate);
        match deadline::fit(&ctx.plan, &portal.limits(), &link, window, k, &self.ahead()) {
            Fit::Fits => Ok(None),
            Fit::Replanned { plan, in_flight } => {
                let more = if in_flight > k {
                    format!(" with {in_flight} parts in flight for it (not {k})")
                } else {
                    String::new()
                };
                self.inner.events.emit(Event::Warning {
                    file: ctx.index,
                    message: format!(
                        "{}: sent as {} of {} MiB (not {} of {} MiB){more} so that every part starts before its upload links expire, {} after they are issued, at the {:.1} MB/s {how}",
                        ctx.item.name,
                        count(plan.parts, "part"),
                        plan.part_size / MIB,
                        count(ctx.plan.parts, "part"),
                        ctx.plan.part_size / MIB,
                        span(window),
                        rate / 1e6,
                    ),
                });
                self.inner.events.emit(Event::FileQueued {
                    file: ctx.index,
                    path: ctx.item.path.clone(),
                    name: ctx.item.name.clone(),
                    size: ctx.item.size,
                    parts: plan.parts,
                    part_size: plan.part_size,
                });
                Ok(Some(Arc::new(FileCtx {
                    index: ctx.index,
                    item: ctx.item.clone(),
                    plan,
                    hasher: Arc::new(OrderedHasher::new()),
                    sent: AtomicU64::new(0),
                    cancel: ctx.cancel.clone(),
                    cause: Mutex::new(None),
                    log: ctx.log.clone(),
                    resumed: ctx.resumed,
                    warned: Default::default(),
                    in_flight,
                    extra: (in_flight > k)
                        .then(|| Arc::new(Semaphore::new((in_flight - k) as usize))),
                    started: AtomicU64::new(0),
                    running: Default::default(),
                })))
            }
            Fit::Impossible(r) => {
                let mut helps = Vec::new();
                if let Some(n) = r.in_flight {
                    helps.push(format!("{n} parts in flight (--parts-in-flight {n})"));
                }
                helps.push(format!("a link of at least {:.1} MB/s", r.rate / 1e6));
                Err(Error::Rejected {
                    host: portal.name().into(),
                    status: 0,
                    detail: format!(
                        "{}: {:.1} GB cannot reach {} before its upload links expire ({} after they are issued) at the {:.1} MB/s {how}, even as parts of the largest size with up to {} in flight; the largest file that can is {:.1} GB. Nothing of it was sent. It would fit with {}; or split the file.",
                        ctx.item.path.display(),
                        ctx.item.size as f64 / 1e9,
                        portal.name(),
                        span(window),
                        rate / 1e6,
                        deadline::MAX_IN_FLIGHT.max(k),
                        r.largest as f64 / 1e9,
                        helps.join(" or "),
                    ),
                })
            }
        }
    }

    /// Presigned URLs die at a deadline and a part must start before it:
    /// say so up front when, at the throughput measured so far, the last
    /// part of this file would start too late.
    pub(super) fn warn_if_too_slow(&self, ctx: &FileCtx, upload: &Upload, parts_done: usize) {
        let (Some(expires), Some(rate)) = (upload.expires_at, self.inner.measured_rate()) else {
            return;
        };
        if ctx.warned.load(Ordering::Relaxed) {
            return;
        }
        let now = crate::clock::unix_now();
        let window = expires.saturating_sub(now) as f64;
        let left = (ctx.plan.parts as usize).saturating_sub(parts_done) as u64 * ctx.plan.part_size;
        // Parts that start at once need no waiting.
        let head_start = self.inner.cfg.parts_in_flight as u64 * ctx.plan.part_size;
        let needed = left.saturating_sub(head_start) as f64 / rate;
        if needed > window {
            self.inner.events.emit(Event::Warning {
                file: ctx.index,
                message: format!(
                    "{}: at the {:.1} MB/s measured so far its last part would start in {:.0} min, after its upload links expire (in {:.0} min); parts that start late fail and the file is then sent again under a new id. A faster link or fewer files at once avoids this.",
                    ctx.item.name,
                    rate / 1e6,
                    needed / 60.0,
                    window / 60.0
                ),
            });
        }
    }
}

pub(super) fn span(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s")
    } else {
        format!("{:.0} min", secs / 60.0)
    }
}

pub(super) fn count(n: u32, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

//! probe: measure the uplink with throwaway uploads before refusing a
//! file whose links would expire at the rate assumed for an unmeasured
//! uplink.
//!
//! A fresh process knows nothing of its uplink and plans at
//! [`EngineConfig::assumed_rate`](super::EngineConfig) (1 MB/s), at which
//! a Loculus file over about 172 GB cannot start every part within its
//! 30-minute links. Rather than refuse a file a fast link would carry,
//! the engine first sends a few uploads of zeros to the same storage
//! (fresh single-upload links of the portal's, never attached to anything:
//! Loculus garbage-collects such files after about 7 days) and plans with
//! what they measured.

use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt as _;

use super::part::{answer, request_for};
use super::{Engine, FileCtx};
use crate::Error;
use crate::plan::{MIB, Plan};
use crate::portal::{FileSpec, Portal, Upload};

/// Sizes of the test uploads, sent in turn until one takes at least
/// [`LONG_ENOUGH`]: 4 MiB takes 4 s at the 1 MB/s of a slow lab uplink,
/// and 256 MiB still takes 2.7 s at 100 MB/s. At most 292 MiB in all.
pub const PROBE_SIZES: [u64; 3] = [4 * MIB, 32 * MIB, 256 * MIB];

/// An upload this long measures the rate, not TCP's start-up or the
/// request's round trip.
const LONG_ENOUGH: Duration = Duration::from_secs(2);

/// How often the parts sharing the uplink with a test upload are counted.
const SAMPLE_EVERY: Duration = Duration::from_millis(100);

/// A test upload that has not finished in this time has measured enough:
/// the rate is then far below what the file needs.
const PROBE_TIMEOUT: Duration = Duration::from_secs(120);

/// What the test uploads found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Probed {
    /// Bytes per second of the uplink, from the last (largest) test upload
    /// and the parts of other files that shared the uplink with it.
    Rate(f64),
    /// Why no rate came of it (the file is then planned at the assumed
    /// rate, and the refusal says so).
    Failed(String),
}

/// The zeros every test upload is sent from (in `.bss`, not the binary).
static ZEROS: [u8; MIB as usize] = [0; MIB as usize];

impl Engine {
    /// Whether a file refused at the assumed rate should wait for a probe:
    /// nothing measured yet, no probe run, and a portal whose throwaway
    /// uploads cost nothing.
    pub(super) fn may_probe(&self, portal: &dyn Portal) -> bool {
        portal.probe_uploads_allowed()
            && self.inner.measured_rate().is_none()
            && self.inner.probed.lock().expect("probed").is_none()
    }

    /// Measures the uplink to `portal`'s storage (once per engine) and
    /// keeps the result for planning. `ctx` is the file it is for: the
    /// events name it, and cancelling it stops the probe.
    pub(super) async fn probe_uplink(&self, portal: &dyn Portal, ctx: &FileCtx) {
        let inner = &self.inner;
        let (file, name) = (ctx.index, &ctx.item.name);
        let (assumed, _) = self.planning_rate();
        inner.events.emit(crate::event::Event::Warning {
            file,
            message: format!(
                "{name}: too big for its upload links at the {:.1} MB/s assumed for an uplink not yet measured; measuring the uplink first with up to {} MiB of test uploads (zeros, never attached to a submission)",
                assumed / 1e6,
                PROBE_SIZES.iter().sum::<u64>() / MIB
            ),
        });
        let probes = tokio::select! {
            r = self.send_probes(portal, &ctx.cancel) => r,
            _ = ctx.cancel.cancelled() => Err(Error::Cancelled),
        };
        let outcome = match probes {
            Ok(rate) => {
                inner.events.emit(crate::event::Event::Warning {
                    file,
                    message: format!("{name}: the uplink measured {:.1} MB/s", rate / 1e6),
                });
                Probed::Rate(rate)
            }
            // Cancelled with its file: nothing learnt, a later file may
            // measure.
            Err(Error::Cancelled) => return,
            Err(e) => Probed::Failed(e.to_string()),
        };
        *inner.probed.lock().expect("probed") = Some(outcome);
    }

    async fn send_probes(
        &self,
        portal: &dyn Portal,
        cancel: &tokio_util::sync::CancellationToken,
    ) -> Result<f64, Error> {
        let specs: Vec<FileSpec> = PROBE_SIZES
            .iter()
            .map(|&size| FileSpec {
                name: "ferry-uplink-test.bin".into(),
                plan: Plan::single(size),
            })
            .collect();
        let uploads = self
            .inner
            .net
            .online(None, cancel, || portal.begin(&specs))
            .await?;
        let mut rate = None;
        for (upload, size) in uploads.iter().zip(PROBE_SIZES) {
            // Parts of other files in flight share the uplink with the test
            // upload; as in the deadline model, each connection gets an
            // equal share, so the link carries that many shares. How many
            // is sampled while the test upload goes: a file that ends
            // halfway shared half of it.
            let mut seen = vec![self.ahead().len()];
            let took = {
                let sample = async {
                    loop {
                        tokio::time::sleep(SAMPLE_EVERY).await;
                        seen.push(self.ahead().len());
                    }
                };
                tokio::select! {
                    r = self.send_zeros(portal, upload, size) => r?,
                    () = sample => unreachable!("sampling never ends"),
                }
            };
            seen.push(self.ahead().len());
            let sharing = seen.iter().sum::<usize>() as f64 / seen.len() as f64;
            rate = Some(size as f64 / took.as_secs_f64().max(1e-3) * (1.0 + sharing));
            if took >= LONG_ENOUGH {
                break;
            }
        }
        rate.ok_or_else(|| Error::Protocol {
            host: portal.name().into(),
            detail: "no link came for a test upload".into(),
        })
    }

    /// PUTs `size` zeros through `upload`'s link under the bandwidth limit,
    /// and returns how long the storage took to acknowledge them.
    async fn send_zeros(
        &self,
        portal: &dyn Portal,
        upload: &Upload,
        size: u64,
    ) -> Result<Duration, Error> {
        let req = portal.part_request(upload, 1)?;
        crate::guard::check_url(&req.url, "the test upload's link")?;
        let chunks = std::iter::once(req.prefix.clone())
            .chain((0..size.div_ceil(MIB)).map(move |i| {
                let n = (size - i * MIB).min(MIB) as usize;
                Bytes::from_static(&ZEROS[..n])
            }))
            .chain(std::iter::once(req.suffix.clone()))
            .filter(|b| !b.is_empty());
        let body = futures::stream::iter(chunks).then(|b| async move {
            crate::rate::take(b.len() as u64).await;
            Ok::<_, std::io::Error>(b)
        });
        let builder = request_for(&self.inner.net.client(), &req, size)
            .timeout(PROBE_TIMEOUT)
            .body(reqwest::Body::wrap_stream(body));
        let started = Instant::now();
        let resp = answer(builder, &req, 1).await?;
        let took = started.elapsed();
        portal.accept_part(upload, 1, &resp)?;
        Ok(took)
    }
}

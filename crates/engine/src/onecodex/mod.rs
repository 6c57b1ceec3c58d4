//! One Codex: `init_upload` gives an S3 POST policy per file; each file
//! goes in one `multipart/form-data` POST (policy fields first, `file`
//! last) streamed from disk; `confirm_upload` once per sample, after every
//! file of it (both of a pair) is stored.

mod api;
pub mod names;
pub mod reads;

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use bytes::Bytes;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Error;
use crate::plan::PlanLimits;
use crate::portal::{FileSpec, PartRequest, PartResponse, Portal, Upload, storage_error};
use crate::scan::NameRules;
use crate::token::Secret;

/// The published API base.
pub const DEFAULT_BASE: &str = "https://app.onecodex.com/api/v1";

/// Whether One Codex takes the API `key`, creating nothing: `init_upload`
/// with an empty body is refused after the key was checked, so 401/403 mean
/// the key and any other 4xx means it passed.
pub async fn check_key(http: &reqwest::Client, base: &str, key: &str) -> Result<(), Error> {
    crate::guard::check_url(base, "the One Codex API")?;
    let url = format!("{}/samples/init_upload", base.trim_end_matches('/'));
    let req = http
        .post(&url)
        .basic_auth(key.trim(), Some(""))
        .json(&json!({}));
    let (status, detail) = crate::error::probe(req, &url, &[]).await?;
    let host = crate::error::host_of(&url);
    match status {
        401 | 403 => Err(Error::Auth {
            host,
            status,
            detail: format!(
                "One Codex did not accept this API key ({detail}); copy a current key from One Codex (Settings → API keys)"
            ),
        }),
        404 => Err(Error::Rejected {
            host,
            status,
            detail: format!(
                "there is no One Codex API at {base} ({detail}); give its address, e.g. {DEFAULT_BASE}"
            ),
        }),
        400..=499 => Ok(()),
        _ => Err(Error::Server {
            host,
            status,
            detail: format!("{detail}; try again later"),
            retry_after: None,
        }),
    }
}

/// One POST takes up to 20 GB.
pub const MAX_FILE: u64 = 20_000_000_000;

/// Paired-end samples are told to the portal through the `Portal` trait.
pub use crate::portal::Pair;

/// The `file` entry of [`Upload::form`]: its value is the file name.
const FILE_FIELD: &str = "file";

pub struct OneCodex {
    api: api::Api,
    /// Mate name -> its pair (more come with [`OneCodex::add_pairs`]).
    pairs: Mutex<HashMap<String, Pair>>,
    /// Uploads `init_upload` handed out for a mate that has not begun yet.
    pending: Mutex<HashMap<String, Upload>>,
    /// Sample id -> (files it needs, files stored, confirmed).
    samples: Mutex<HashMap<String, Sample>>,
}

#[derive(Default)]
struct Sample {
    needs: usize,
    stored: BTreeSet<String>,
    confirmed: bool,
}

#[derive(Deserialize)]
struct InitAnswer {
    sample_id: String,
    upload_url: String,
    additional_fields: Value,
    #[serde(default)]
    paired_end_upload_url: Option<String>,
    #[serde(default)]
    paired_end_additional_fields: Option<Value>,
}

impl OneCodex {
    /// `base` is the API's base URL (`.../api/v1`); `pairs` are the
    /// paired-end samples among the files to send.
    pub fn new(
        http: reqwest::Client,
        base: &str,
        api_key: Secret,
        pairs: Vec<Pair>,
    ) -> Result<Self, Error> {
        let mut by_name = HashMap::new();
        for p in pairs {
            by_name.insert(p.r1.clone(), p.clone());
            by_name.insert(p.r2.clone(), p);
        }
        Ok(OneCodex {
            api: api::Api::new(http, base, api_key)?,
            pairs: Mutex::new(by_name),
            pending: Mutex::new(HashMap::new()),
            samples: Mutex::new(HashMap::new()),
        })
    }

    /// Files added after the portal was made: their pairs, before they
    /// are sent (a desktop queue grows while signed in).
    pub fn add_pairs(&self, pairs: Vec<Pair>) {
        let mut by_name = self.pairs.lock().expect("pairs");
        for p in pairs {
            by_name.insert(p.r1.clone(), p.clone());
            by_name.insert(p.r2.clone(), p);
        }
    }

    async fn init(&self, f: &FileSpec) -> Result<Upload, Error> {
        if let Some(u) = self.pending.lock().expect("pending").remove(&f.name) {
            return Ok(u);
        }
        let pair = self.pairs.lock().expect("pairs").get(&f.name).cloned();
        let (first, size, mate) = match &pair {
            Some(p) => (p.r1.clone(), p.r1_size, Some(p.r2.clone())),
            None => (f.name.clone(), f.plan.size, None),
        };
        let body = json!({
            "filename": first,
            "size": size,
            "paired_end_filename": mate,
            "upload_type": "standard",
        });
        let a: InitAnswer = self.api.post("samples/init_upload", &body).await?;
        let host = self.api.host();
        let main = upload(
            &a.sample_id,
            a.upload_url,
            &a.additional_fields,
            &first,
            host,
        )?;
        self.samples.lock().expect("samples").insert(
            a.sample_id.clone(),
            Sample {
                needs: if mate.is_some() { 2 } else { 1 },
                ..Sample::default()
            },
        );
        let Some(mate) = mate else { return Ok(main) };
        let (Some(url), Some(fields)) = (a.paired_end_upload_url, a.paired_end_additional_fields)
        else {
            return Err(Error::Protocol {
                host: host.into(),
                detail: format!(
                    "init_upload for the pair {first} + {mate} gave no paired_end_upload_url"
                ),
            });
        };
        let second = upload(&a.sample_id, url, &fields, &mate, host)?;
        let (mine, other, other_name) = if f.name == first {
            (main, second, mate)
        } else {
            (second, main, first)
        };
        self.pending
            .lock()
            .expect("pending")
            .insert(other_name, other);
        Ok(mine)
    }

    async fn confirm(&self, sample_id: &str, maybe_done: bool) -> Result<(), Error> {
        let r: Result<Value, Error> = self
            .api
            .post("samples/confirm_upload", &json!({ "sample_id": sample_id }))
            .await;
        match r {
            Ok(_) => Ok(()),
            // A retried confirm whose first attempt got through.
            Err(Error::Rejected {
                status: 400,
                detail,
                ..
            }) if maybe_done && detail.contains("already confirmed") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

/// The file name an upload carries (its `file` form entry).
fn file_name(upload: &Upload) -> String {
    upload
        .form
        .iter()
        .find(|(k, _)| k == FILE_FIELD)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// An [`Upload`] for one file: the POST URL and its form fields, the
/// `file` entry last.
fn upload(
    sample_id: &str,
    url: String,
    fields: &Value,
    name: &str,
    host: &str,
) -> Result<Upload, Error> {
    let mut form = form_fields(fields).map_err(|detail| Error::Protocol {
        host: host.into(),
        detail,
    })?;
    form.retain(|(k, _)| k != FILE_FIELD);
    form.push((FILE_FIELD.into(), name.into()));
    Ok(Upload {
        remote_id: sample_id.into(),
        urls: vec![url],
        headers: vec![],
        multipart: false,
        expires_at: None,
        form,
    })
}

/// `additional_fields` as form fields: a JSON object, or (as the published
/// schema types it) a JSON-encoded string of one.
pub fn form_fields(v: &Value) -> Result<Vec<(String, String)>, String> {
    let obj = match v {
        Value::Object(o) => o.clone(),
        Value::String(s) => match serde_json::from_str::<Value>(s) {
            Ok(Value::Object(o)) => o,
            _ => return Err("additional_fields is a string but not a JSON object".into()),
        },
        _ => return Err("additional_fields is neither an object nor a JSON string".into()),
    };
    obj.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            other => Err(format!(
                "additional_fields.{k} is not a plain value ({other})"
            )),
        })
        .collect()
}

/// The body around the file: every field, then the `file` part's header
/// (`prefix`), and the closing boundary (`suffix`).
pub fn multipart_frame(form: &[(String, String)], boundary: &str) -> (Bytes, Bytes) {
    let mut head = String::new();
    let mut file_name = "file";
    for (k, v) in form {
        if k == FILE_FIELD {
            file_name = v;
            continue;
        }
        head.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
            quote(k)
        ));
    }
    head.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
        quote(file_name)
    ));
    (
        Bytes::from(head),
        Bytes::from(format!("\r\n--{boundary}--\r\n")),
    )
}

/// Names are checked at scan time, but never let a quote or line break
/// reshape the form.
fn quote(s: &str) -> String {
    s.replace(['"', '\r', '\n'], "_")
}

/// One Codex's file-name rules and R1/R2 pairing, before or without a
/// signed-in portal.
pub struct OneCodexNames;

impl NameRules for OneCodexNames {
    fn check_name(&self, name: &str) -> Result<(), String> {
        names::check(name)
    }
    /// `size` must be at least 1.
    fn accepts_empty(&self) -> bool {
        false
    }
    fn mates(&self, names: &[String]) -> Vec<(usize, usize)> {
        pair_by_name(names)
    }
    fn lone_mates(&self, names: &[String]) -> Vec<(usize, String)> {
        reads::lone_mates(names)
            .into_iter()
            .map(|(i, missing)| (i, lone_mate_message(&names[i], missing)))
            .collect()
    }
}

/// What to tell the user about a read whose mate is missing.
pub fn lone_mate_message(name: &str, missing: &str) -> String {
    format!(
        "{name} is one read of a pair, but its {missing} is not among the files: it would go up as a single-end sample; add its mate to send them as one paired sample"
    )
}

impl NameRules for OneCodex {
    fn check_name(&self, name: &str) -> Result<(), String> {
        OneCodexNames.check_name(name)
    }
    fn accepts_empty(&self) -> bool {
        OneCodexNames.accepts_empty()
    }
    fn mates(&self, names: &[String]) -> Vec<(usize, usize)> {
        OneCodexNames.mates(names)
    }
    fn lone_mates(&self, names: &[String]) -> Vec<(usize, String)> {
        OneCodexNames.lone_mates(names)
    }
}

#[async_trait::async_trait]
impl Portal for OneCodex {
    fn name(&self) -> &str {
        "One Codex"
    }

    fn limits(&self) -> PlanLimits {
        PlanLimits {
            min_part: 0,
            max_part: MAX_FILE,
            max_parts: 1,
            max_single: MAX_FILE,
            multipart: false,
        }
    }

    fn needs_complete(&self, _upload: &Upload) -> bool {
        true
    }

    fn learn_pairs(&self, pairs: Vec<Pair>) {
        self.add_pairs(pairs);
    }

    async fn begin(&self, files: &[FileSpec]) -> Result<Vec<Upload>, Error> {
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            out.push(self.init(f).await?);
        }
        Ok(out)
    }

    fn part_request(&self, upload: &Upload, part: u32) -> Result<PartRequest, Error> {
        let url = match (part, upload.urls.first()) {
            (1, Some(u)) => u.clone(),
            _ => {
                return Err(Error::Protocol {
                    host: self.api.host().into(),
                    detail: format!("One Codex files go in one request; no part {part}"),
                });
            }
        };
        let boundary = format!("ferry-{}", uuid::Uuid::new_v4().simple());
        let (prefix, suffix) = multipart_frame(&upload.form, &boundary);
        // No Basic auth here: the policy is the credential, and the API key
        // must never reach the storage host.
        Ok(PartRequest {
            method: Method::POST,
            url,
            headers: vec![(
                "Content-Type".into(),
                format!("multipart/form-data; boundary={boundary}"),
            )],
            prefix,
            suffix,
            content_md5: false,
        })
    }

    fn accept_part(
        &self,
        upload: &Upload,
        _part: u32,
        resp: &PartResponse,
    ) -> Result<String, Error> {
        if (200..300).contains(&resp.status) {
            return Ok(String::new());
        }
        match storage_error(resp) {
            Error::Rejected {
                host,
                status: 403,
                detail,
            } if detail.to_ascii_lowercase().contains("expired") => {
                // A lone file starts over under a new sample; half of a
                // pair cannot (its mate belongs to this sample), so the
                // pair goes again whole on `ferry resume`.
                let name = file_name(upload);
                if self.pairs.lock().expect("pairs").contains_key(&name) {
                    Err(Error::Rejected {
                        host,
                        status: 403,
                        detail: format!(
                            "{detail}: the upload policy of {name} expired before it was sent; `ferry resume` sends its pair again as a new sample"
                        ),
                    })
                } else {
                    Err(Error::Expired { host, detail })
                }
            }
            e => Err(e),
        }
    }

    async fn complete(
        &self,
        upload: &Upload,
        _etags: &[String],
        maybe_done: bool,
    ) -> Result<(), Error> {
        let name = file_name(upload);
        let ready = {
            let mut samples = self.samples.lock().expect("samples");
            let s = samples.entry(upload.remote_id.clone()).or_insert(Sample {
                needs: 1,
                ..Sample::default()
            });
            s.stored.insert(name);
            s.stored.len() >= s.needs && !s.confirmed
        };
        if !ready {
            // The mate's completion confirms the sample.
            return Ok(());
        }
        self.confirm(&upload.remote_id, maybe_done).await?;
        if let Some(s) = self
            .samples
            .lock()
            .expect("samples")
            .get_mut(&upload.remote_id)
        {
            s.confirmed = true;
        }
        Ok(())
    }
}

/// The pairs among files given as (name, size), by their names.
pub fn pairs_of(files: &[(String, u64)]) -> Vec<Pair> {
    let names: Vec<String> = files.iter().map(|f| f.0.clone()).collect();
    pair_by_name(&names)
        .into_iter()
        .map(|(a, b)| Pair {
            r1: files[a].0.clone(),
            r1_size: files[a].1,
            r2: files[b].0.clone(),
        })
        .collect()
}

/// Pairs among `names` by their read marks (Illumina's
/// `_S1_L001_R1_001`, `_R1`/`_R2`, `_1`/`_2`, `.R1.`/`.R2.`; see
/// [`reads`]). Returns (R1 index, R2 index).
pub fn pair_by_name(names: &[String]) -> Vec<(usize, usize)> {
    reads::pairs(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_come_as_object_or_encoded_string() {
        let obj = json!({"key": "u/${filename}", "policy": "p", "success_action_status": 201});
        let a = form_fields(&obj).unwrap();
        let b = form_fields(&Value::String(obj.to_string())).unwrap();
        assert_eq!(a, b);
        assert!(a.contains(&("success_action_status".into(), "201".into())));
        assert!(form_fields(&json!(3)).is_err());
        assert!(form_fields(&json!("not json")).is_err());
    }

    #[test]
    fn the_file_is_the_last_field() {
        let form = vec![
            ("key".to_string(), "k".to_string()),
            ("file".to_string(), "r.fq".to_string()),
        ];
        let (p, s) = multipart_frame(&form, "B");
        let p = String::from_utf8(p.to_vec()).unwrap();
        assert!(p.find("name=\"key\"").unwrap() < p.find("name=\"file\"").unwrap());
        assert!(p.ends_with("\r\n\r\n") && p.contains("filename=\"r.fq\""));
        assert_eq!(&s[..], b"\r\n--B--\r\n");
    }

    #[test]
    fn pairs_by_read_suffix() {
        let n: Vec<String> = [
            "s_R2.fq.gz",
            "s_R1.fq.gz",
            "t_1.fastq",
            "t_2.fastq",
            "u_R1.fq",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut p = pair_by_name(&n);
        p.sort();
        assert_eq!(p, vec![(1, 0), (2, 3)]);
    }
}

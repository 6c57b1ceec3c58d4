//! attach: the uploaded files named in the submission's metadata
//! (`files.<category>` = `name:fileId ...`), then `POST /<organism>/submit`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde::{Deserialize, Serialize};

use super::Loculus;
use crate::Error;

pub use super::attach::link_metadata;

/// One uploaded file to attach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachedFile {
    /// The metadata row (`id`); `None` = the row whose `files.<category>`
    /// cell names the file, or the only row.
    pub submission_id: Option<String>,
    pub category: String,
    pub name: String,
    pub file_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DataUseTerms {
    Open,
    /// Restricted until a `YYYY-MM-DD` date.
    Restricted {
        until: String,
    },
}

#[derive(Debug, Clone)]
pub struct Submission {
    pub organism: String,
    pub metadata: PathBuf,
    pub sequences: Option<PathBuf>,
    pub files: Vec<AttachedFile>,
    pub data_use_terms: DataUseTerms,
    /// Send the pre-August-2026 `fileMapping` form field instead of the
    /// `files.<category>` columns (current backends ignore it).
    pub legacy_file_mapping: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Accession {
    pub submission_id: String,
    pub accession: String,
    pub version: i64,
}

/// The metadata as sent, and which files went to which row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedMetadata {
    pub tsv: Vec<u8>,
    /// submission id -> category -> [(name, fileId)]
    pub files: BTreeMap<String, BTreeMap<String, Vec<(String, String)>>>,
}

/// The ids of a metadata TSV's rows, in order (empty when it has no id
/// column): what `record #<n>` in the backend's messages counts.
pub fn table_ids(raw: &[u8]) -> Vec<String> {
    let mut rd = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .flexible(true)
        .from_reader(raw);
    let Some(col) = rd.headers().ok().and_then(|h| {
        h.iter()
            .position(|c| c == "id")
            .or_else(|| h.iter().position(|c| c == "submissionId"))
    }) else {
        return vec![];
    };
    rd.records()
        .map(|r| {
            r.map(|r| r.get(col).unwrap_or_default().trim().to_string())
                .unwrap_or_default()
        })
        .collect()
}

/// The rows a rejected submit names, each with the server's message: by
/// `record #<n>` (1-based in the table as sent, as the backend counts),
/// by a row's id (or `<id>_<segment>`) among its words, or by a fileId
/// attached to the row (`The following file IDs do not exist: ...`).
/// `ids` are the rows as sent, in order. Empty for other errors.
pub fn row_messages(
    err: &Error,
    ids: &[String],
    files: &[AttachedFile],
) -> BTreeMap<String, String> {
    let Error::Rejected { detail, .. } = err else {
        return BTreeMap::new();
    };
    let mut named = std::collections::BTreeSet::new();
    let lower = detail.to_ascii_lowercase();
    for (at, _) in lower.match_indices("record #") {
        let n: String = lower[at + 8..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Some(id) = n
            .parse::<usize>()
            .ok()
            .and_then(|n| ids.get(n.wrapping_sub(1)))
        {
            named.insert(id.clone());
        }
    }
    let known: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
    let by_file: BTreeMap<&str, &str> = files
        .iter()
        .filter_map(|f| Some((f.file_id.as_str(), f.submission_id.as_deref()?)))
        .collect();
    let words = detail.split(|c: char| c.is_whitespace() || ",;()[]{}='\"`".contains(c));
    for w in words {
        for w in [w, w.trim_end_matches(['.', ':'])] {
            let row = if known.contains(w) {
                Some(w)
            } else if let Some(r) = by_file.get(w.to_ascii_lowercase().as_str()) {
                Some(*r)
            } else {
                w.rsplit_once('_')
                    .map(|(id, _)| id)
                    .filter(|id| known.contains(id))
            };
            if let Some(r) = row {
                named.insert(r.to_string());
            }
        }
    }
    named.into_iter().map(|id| (id, detail.clone())).collect()
}

/// A file as a streamed request body; an open that fails fails the request.
fn file_body(path: &std::path::Path) -> reqwest::Body {
    match std::fs::File::open(path) {
        Ok(f) => reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(
            tokio::fs::File::from_std(f),
        )),
        Err(e) => {
            reqwest::Body::wrap_stream(futures::stream::once(
                async move { Err::<bytes::Bytes, _>(e) },
            ))
        }
    }
}

impl Loculus {
    /// Link the files, submit, and check that the backend attached them.
    pub async fn submit(
        &self,
        sub: &Submission,
    ) -> Result<(Vec<Accession>, LinkedMetadata), Error> {
        // A compressed table is read decompressed: the files' columns are
        // written into it, and it goes as a plain `metadata.tsv`.
        let raw = super::folder::compressed::read_table(&sub.metadata)
            .map_err(|e| Error::io(&sub.metadata, e))?;
        self.submit_tsv(sub, &raw).await
    }

    /// [`Loculus::submit`] with the metadata TSV given (`sub.metadata`
    /// names it in messages), e.g. one rebuilt from a CSV.
    pub async fn submit_tsv(
        &self,
        sub: &Submission,
        raw: &[u8],
    ) -> Result<(Vec<Accession>, LinkedMetadata), Error> {
        let linked = link_metadata(&sub.metadata, raw, &sub.files, !sub.legacy_file_mapping)?;
        // The FASTA is streamed from disk on each attempt, never held whole.
        let sequences = match &sub.sequences {
            Some(p) => Some((
                p.clone(),
                std::fs::metadata(p).map_err(|e| Error::io(p, e))?.len(),
            )),
            None => None,
        };
        let tsv = bytes::Bytes::from(linked.tsv.clone());
        let file_mapping = sub.legacy_file_mapping.then(|| {
            let m: BTreeMap<&String, BTreeMap<&String, Vec<serde_json::Value>>> = linked
                .files
                .iter()
                .map(|(sid, cats)| {
                    (
                        sid,
                        cats.iter()
                            .map(|(c, v)| {
                                (
                                    c,
                                    v.iter()
                                        .map(|(n, id)| serde_json::json!({"fileId": id, "name": n}))
                                        .collect(),
                                )
                            })
                            .collect(),
                    )
                })
                .collect();
            serde_json::to_string(&m).unwrap_or_default()
        });
        let path = format!("{}/submit", sub.organism);
        let resp = self
            .api
            .send(Method::POST, &path, |r| {
                let mut form = Form::new()
                    .part(
                        "metadataFile",
                        Part::stream_with_length(tsv.clone(), tsv.len() as u64)
                            .file_name("metadata.tsv")
                            .mime_str("text/tab-separated-values")
                            .expect("static mime"),
                    )
                    .text("groupId", self.group_id.to_string());
                if let Some((p, len)) = &sequences {
                    let name = crate::scan::name_of(p);
                    let part = Part::stream_with_length(file_body(p), *len).file_name(name);
                    form = form.part("sequenceFile", part);
                }
                form = match &sub.data_use_terms {
                    DataUseTerms::Open => form.text("dataUseTermsType", "OPEN"),
                    DataUseTerms::Restricted { until } => form
                        .text("dataUseTermsType", "RESTRICTED")
                        .text("restrictedUntil", until.clone()),
                };
                if let Some(m) = &file_mapping {
                    form = form.text("fileMapping", m.clone());
                }
                r.multipart(form)
            })
            .await?;
        let accessions: Vec<Accession> = self.api.json(resp).await?;
        Ok((accessions, linked))
    }

    /// Ask the backend which files an entry carries (`get-data-to-edit`).
    /// The real backend may answer 500 until preprocessing has run, so
    /// callers should treat an error as "not verifiable yet".
    pub async fn attached_files(
        &self,
        organism: &str,
        accession: &Accession,
    ) -> Result<BTreeMap<String, Vec<(String, String)>>, Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Fid {
            file_id: String,
            name: String,
        }
        #[derive(Deserialize)]
        struct Data {
            #[serde(default)]
            files: Option<BTreeMap<String, Vec<Fid>>>,
        }
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Edit {
            submitted_data: Data,
        }
        let e: Edit = self
            .api
            .get_json(&format!(
                "{organism}/get-data-to-edit/{}/{}",
                accession.accession, accession.version
            ))
            .await?;
        Ok(e.submitted_data
            .files
            .unwrap_or_default()
            .into_iter()
            .map(|(c, v)| (c, v.into_iter().map(|f| (f.name, f.file_id)).collect()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID1: &str = "8d8ac610-566d-4ef0-9c22-186b2a5ed793";
    const ID2: &str = "2ea137d0-8773-4e0a-a9aa-5591de12ff23";

    fn f(sid: Option<&str>, cat: &str, name: &str, id: &str) -> AttachedFile {
        AttachedFile {
            submission_id: sid.map(str::to_string),
            category: cat.into(),
            name: name.into(),
            file_id: id.into(),
        }
    }

    fn text(l: &LinkedMetadata) -> String {
        String::from_utf8(l.tsv.clone()).unwrap()
    }

    #[test]
    fn single_row_gets_the_files_as_columns() {
        let raw = b"id\tcountry\ns1\tCH\n";
        let l = link_metadata(
            "m.tsv".as_ref(),
            raw,
            &[
                f(None, "rawReads", "r1.fq", ID1),
                f(None, "rawReads", "r2.fq", ID2),
            ],
            true,
        )
        .unwrap();
        assert_eq!(
            text(&l),
            format!("id\tcountry\tfiles.rawReads\ns1\tCH\tr1.fq:{ID1} r2.fq:{ID2}\n")
        );
    }

    #[test]
    fn names_in_cells_pick_the_row_and_keep_existing_ids() {
        let raw =
            format!("id\tx\tfiles.rawReads\na\t1\told.fq:{ID2} r1.fq\nb\t2\tr2.fq::sub/r2.fq\n");
        let l = link_metadata(
            "m.tsv".as_ref(),
            raw.as_bytes(),
            &[
                f(None, "rawReads", "r2.fq", ID1),
                f(None, "rawReads", "r1.fq", ID2),
            ],
            true,
        )
        .unwrap();
        assert_eq!(
            text(&l),
            format!("id\tx\tfiles.rawReads\na\t1\told.fq:{ID2} r1.fq:{ID2}\nb\t2\tr2.fq:{ID1}\n")
        );
    }

    #[test]
    fn unlinked_and_missing_files_are_reported_together() {
        let raw = b"id\tx\tfiles.rawReads\na\t1\tneeded.fq\nb\t2\t\n";
        let err = link_metadata(
            "m.tsv".as_ref(),
            raw,
            &[f(None, "rawReads", "stray.fq", ID1)],
            true,
        )
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("stray.fq") && msg.contains("needed.fq"),
            "{msg}"
        );
        assert!(msg.contains("--file rawReads=needed.fq"), "{msg}");
    }

    #[test]
    fn a_rejection_is_shown_at_the_rows_it_names() {
        let ids: Vec<String> = ["s1", "s2", "s3", "s4"].map(String::from).to_vec();
        let rejected = |detail: &str| Error::Rejected {
            host: "h".into(),
            status: 422,
            detail: detail.into(),
        };
        let rows = |detail: &str, files: &[AttachedFile]| -> Vec<String> {
            let m = row_messages(&rejected(detail), &ids, files);
            assert!(m.values().all(|v| v == detail));
            m.into_keys().collect()
        };
        assert_eq!(
            rows(
                "Record #2 with id 's2' in the metadata file contains no metadata. This is invalid.",
                &[]
            ),
            ["s2"]
        );
        assert_eq!(
            rows(
                "Record #3 in the metadata file contains no value for 'id'. Row: [, CH]",
                &[]
            ),
            ["s3"]
        );
        assert_eq!(
            rows(
                "Metadata file contains at least one duplicate submissionId: Key (submission_id)=(s4) already exists.",
                &[]
            ),
            ["s4"]
        );
        assert_eq!(
            rows(
                "Metadata file contains 2 FASTA ids that are not present in the sequence file: s1, s3_L",
                &[]
            ),
            ["s1", "s3"]
        );
        assert_eq!(rows("No sequence data given for sample s2.", &[]), ["s2"]);
        let f = [f(Some("s3"), "rawReads", "a.fq", ID1)];
        assert_eq!(
            rows(
                &format!(
                    "The following file IDs do not exist: {}",
                    ID1.to_uppercase()
                ),
                &f
            ),
            ["s3"]
        );
        // Nothing named: no row gets it (the whole message is shown anyway).
        assert!(rows("Invalid filename 'a b' in category 'rawReads': Filenames may not contain whitespace.", &f).is_empty());
        let other = Error::Network {
            host: "h".into(),
            detail: "record #1 s1".into(),
        };
        assert!(row_messages(&other, &ids, &[]).is_empty());
    }

    #[test]
    fn id_column_is_required() {
        let err = link_metadata("m.tsv".as_ref(), b"name\nx\n", &[], true).unwrap_err();
        assert!(err.to_string().contains("no 'id' column"));
    }

    #[test]
    fn legacy_mode_leaves_the_table_alone() {
        let raw = b"submissionId\tx\ns1\t1\n";
        let l = link_metadata(
            "m.tsv".as_ref(),
            raw,
            &[f(Some("s1"), "rawReads", "a.fq", ID1)],
            false,
        )
        .unwrap();
        assert_eq!(l.tsv, raw.to_vec());
        assert_eq!(
            l.files["s1"]["rawReads"],
            vec![("a.fq".to_string(), ID1.to_string())]
        );
    }
}

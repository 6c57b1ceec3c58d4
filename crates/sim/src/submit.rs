//! `POST /{organism}/submit` (checklist items 12-19) and
//! `GET /{organism}/get-data-to-edit/{accession}/{version}`.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::auth::{AuthUser, check_group};
use crate::dates;
use crate::files::object_key;
use crate::info::{Organism, organism, organism_keys};
use crate::metadata::{Entry, parse_fasta, parse_tsv};
use crate::model::SubmissionRecord;
use crate::problem::ApiError;
use crate::state::AppState;

const COMPRESSIONS: &[&str] = &["", ".zst", ".xz", ".gz", ".zip", ".bz2", ".lzma"];
const FASTA_SUFFIXES: &[&str] = &[".fasta", ".seq", ".fa", ".fna", ".fas"];

struct FilePart {
    name: Option<String>,
    data: Vec<u8>,
}

#[derive(Default)]
struct Form {
    metadata: Option<FilePart>,
    sequence: Option<FilePart>,
    fields: HashMap<String, String>,
}

async fn read_form(mp: Result<Multipart, MultipartRejection>) -> Result<Form, ApiError> {
    let mut mp = mp.map_err(|_| {
        ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type is not supported; expected multipart/form-data.",
        )
    })?;
    let mut form = Form::default();
    let bad = |e: axum::extract::multipart::MultipartError| {
        ApiError::bad_request(format!("Failed to parse multipart servlet request: {e}"))
    };
    while let Some(field) = mp.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        let file_name = field.file_name().map(str::to_owned);
        let data = field.bytes().await.map_err(bad)?.to_vec();
        match name.as_str() {
            "metadataFile" => {
                form.metadata = Some(FilePart {
                    name: file_name,
                    data,
                })
            }
            "sequenceFile" => {
                form.sequence = Some(FilePart {
                    name: file_name,
                    data,
                })
            }
            // Unknown parts (e.g. the removed `fileMapping`) are silently ignored, as on Loculus.
            _ if file_name.is_none() => {
                form.fields
                    .insert(name, String::from_utf8_lossy(&data).into_owned());
            }
            _ => {}
        }
    }
    Ok(form)
}

/// Data-use terms (enabled on the sim): `OPEN`, or `RESTRICTED` with a date in [today, today+1y].
fn data_use_terms(form: &Form) -> Result<(String, Option<String>), ApiError> {
    let Some(kind) = form.fields.get("dataUseTermsType").map(|s| s.trim()) else {
        return Err(ApiError::bad_request(
            "the 'dataUseTermsType' needs to be provided.",
        ));
    };
    match kind {
        "OPEN" => Ok(("OPEN".into(), None)),
        "RESTRICTED" => {
            let Some(until) = form.fields.get("restrictedUntil").map(|s| s.trim()) else {
                return Err(ApiError::bad_request(
                    "The date 'restrictedUntil' must be set if 'dataUseTermsType' is RESTRICTED.",
                ));
            };
            let date = dates::parse_date(until).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "The date 'restrictedUntil' must be a valid date in the format YYYY-MM-DD: {until}."
                ))
            })?;
            let today = dates::today();
            let max = (today.0 + 1, today.1, today.2);
            if date < today {
                return Err(ApiError::bad_request(
                    "The date 'restrictedUntil' must be in the future, up to a maximum of 1 year from now.",
                ));
            }
            if date > max {
                return Err(ApiError::bad_request(
                    "The date 'restrictedUntil' must not exceed 1 year from today.",
                ));
            }
            Ok(("RESTRICTED".into(), Some(until.to_owned())))
        }
        other => Err(ApiError::bad_request(format!(
            "Failed to convert 'dataUseTermsType' with value: '{other}'"
        ))),
    }
}

/// The compression suffix of an allowed name (`""` for none), by plain
/// `endsWith` as the backend's `getFileType` does.
fn check_suffix(name: &str, bases: &[&str]) -> Option<&'static str> {
    // Longest first: `.fasta` must not be taken for `.fas`, nor `` before `.gz`.
    for c in COMPRESSIONS.iter().rev() {
        for b in bases {
            if name.ends_with(&format!("{b}{c}")) {
                return Some(c);
            }
        }
    }
    None
}

/// The part decompressed by its suffix, as the backend's
/// `CompressionService` does (zip: the first entry).
fn decompress(suffix: &str, data: &[u8], what: &str) -> Result<Vec<u8>, ApiError> {
    use std::io::Read;
    let mut out = Vec::new();
    let r: std::io::Result<usize> = match suffix {
        "" => return Ok(data.to_vec()),
        ".gz" => flate2::read::MultiGzDecoder::new(data).read_to_end(&mut out),
        ".zst" => zstd::stream::read::Decoder::new(data).and_then(|mut d| d.read_to_end(&mut out)),
        ".xz" => lzma_rust2::XzReader::new(data, true).read_to_end(&mut out),
        ".lzma" => lzma_rust2::LzmaReader::new_mem_limit(data, u32::MAX, None)
            .and_then(|mut d| d.read_to_end(&mut out)),
        ".bz2" => bzip2::read::MultiBzDecoder::new(data).read_to_end(&mut out),
        ".zip" => zip::ZipArchive::new(std::io::Cursor::new(data))
            .and_then(|mut a| {
                let mut f = a.by_index(0)?;
                Ok(f.read_to_end(&mut out)?)
            })
            .map_err(std::io::Error::other),
        _ => unreachable!("only COMPRESSIONS"),
    };
    r.map_err(|e| {
        ApiError::bad_request(format!(
            "The {what} could not be decompressed as {}: {e}",
            suffix.trim_start_matches('.')
        ))
    })?;
    Ok(out)
}

/// `POST /{organism}/submit`.
pub(crate) async fn submit(
    State(shared): State<AppState>,
    Path(org_key): Path<String>,
    user: AuthUser,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let org = organism(&org_key).ok_or_else(|| {
        ApiError::bad_request(format!(
            "Invalid organism: {org_key}, possible values are: {}",
            organism_keys()
        ))
    })?;
    let form = read_form(mp).await?;
    let group_id = crate::files::int_param(&form.fields, "groupId", None)?;
    let Some(meta) = &form.metadata else {
        return Err(ApiError::bad_request(
            "Required part 'metadataFile' is not present.",
        ));
    };
    check_group(&user, group_id)?;
    let (terms, restricted_until) = data_use_terms(&form)?;

    // Metadata file: the name decides the format.
    let Some(meta_name) = meta.name.as_deref().filter(|n| !n.is_empty()) else {
        return Err(ApiError::bad_request("Metadata file file missing"));
    };
    let meta_data = match check_suffix(meta_name, &["tsv"]) {
        None => {
            return Err(ApiError::bad_request(
                "Metadata file has wrong extension. Must be .tsv for uncompressed submissions or .tsv.zst, .tsv.xz, .tsv.gz, .tsv.zip, .tsv.bz2, .tsv.lzma for compressed submissions",
            ));
        }
        Some(c) => decompress(c, &meta.data, "metadata file")?,
    };
    // Sequence file: required iff the organism has consensus sequences.
    match (&form.sequence, org.consensus_sequences) {
        (None, true) => {
            return Err(ApiError::bad_request(format!(
                "Submissions for organism {} require a sequence file.",
                org.key
            )));
        }
        (Some(_), false) => {
            return Err(ApiError::bad_request(format!(
                "Sequence uploads are not allowed for organism {}.",
                org.key
            )));
        }
        _ => {}
    }
    let fasta = match &form.sequence {
        None => None,
        Some(seq) => {
            let name = seq.name.as_deref().unwrap_or("");
            match check_suffix(name, FASTA_SUFFIXES) {
                None => {
                    return Err(ApiError::bad_request(
                        "Sequence file has wrong extension. Must be .fasta, .seq, .fa, .fna, .fas for uncompressed submissions or .fasta.zst, .fasta.xz, .fasta.gz, .fasta.zip, .fasta.bz2, .fasta.lzma for compressed submissions",
                    ));
                }
                Some(c) => Some(parse_fasta(&decompress(c, &seq.data, "sequence file")?)?),
            }
        }
    };

    let entries = parse_tsv(&meta_data)?;
    if let Some(fasta) = &fasta {
        cross_check(&entries, fasta)?;
    }
    check_files(&shared, org, group_id, &entries).await?;

    // All checks passed: create the entries (all-or-nothing).
    let mut by_id: HashMap<String, String> = fasta.into_iter().flatten().collect();
    let mut inner = shared.lock();
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        let sequences = e
            .fasta_ids
            .iter()
            .filter_map(|id| by_id.remove(id).map(|s| (id.clone(), s)))
            .collect();
        inner.accession_counter += 1;
        let accession = accession(inner.accession_counter);
        out.push(json!({"accession": accession, "version": 1, "submissionId": e.id}));
        inner.submissions.push(SubmissionRecord {
            accession,
            version: 1,
            submission_id: e.id,
            organism: org.key.to_owned(),
            group_id,
            submitter: user.name.clone(),
            data_use_terms: terms.clone(),
            restricted_until: restricted_until.clone(),
            metadata: e.metadata,
            files: e.files,
            sequences,
            released: false,
        });
    }
    Ok(Json(Value::Array(out)))
}

/// `LOC_` + 6 digits + a check letter, e.g. `LOC_000001A`.
pub(crate) fn accession(n: u64) -> String {
    let digits = format!("{n:06}");
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * (i as u32 + 1))
        .sum();
    let check = char::from(b'A' + (sum % 26) as u8);
    format!("LOC_{digits}{check}")
}

/// FASTA ids and metadata ids (`fastaIds`, default the id) must match in both directions.
fn cross_check(entries: &[Entry], fasta: &[(String, String)]) -> Result<(), ApiError> {
    let meta_ids: BTreeSet<&str> = entries
        .iter()
        .flat_map(|e| e.fasta_ids.iter().map(String::as_str))
        .collect();
    let fasta_ids: BTreeSet<&str> = fasta.iter().map(|(id, _)| id.as_str()).collect();
    let missing: Vec<&str> = meta_ids.difference(&fasta_ids).copied().collect();
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "Metadata file contains {} FASTA ids that are not present in the sequence file: {}",
            missing.len(),
            missing.join(", ")
        )));
    }
    let extra: Vec<&str> = fasta_ids.difference(&meta_ids).copied().collect();
    if !extra.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "Sequence file contains {} ids that are not present in the metadata file: {}",
            extra.len(),
            extra.join(", ")
        )));
    }
    Ok(())
}

/// Why a file name is invalid, in Loculus' order of checks.
fn name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("Filenames may not be empty");
    }
    // Kotlin `String.length` counts UTF-16 units.
    if name.encode_utf16().count() > 255 {
        return Some("Filenames may not exceed 255 characters");
    }
    if name.chars().any(|c| "<>:\"/\\|?*".contains(c)) {
        return Some("Filenames may not contain forbidden characters (< > : \" / \\ | ? *).");
    }
    if name.chars().any(|c| (c as u32) < 32) {
        return Some("Filenames may not contain ASCII control characters 0-31.");
    }
    if name.chars().any(char::is_whitespace) {
        return Some("Filenames may not contain whitespace.");
    }
    None
}

/// What a submit checks of a known fileId: group, multipart, completed,
/// S3 upload id.
type Known = (i64, bool, bool, Option<String>);

/// Checklist item 16, in order. Long (about 140 lines) on purpose: the
/// checks run in Loculus' order, so the first error is the one it gives,
/// and splitting them would scatter that order.
async fn check_files(
    shared: &AppState,
    org: &Organism,
    group_id: i64,
    entries: &[Entry],
) -> Result<(), ApiError> {
    if entries.iter().all(|e| e.files.is_empty()) {
        return Ok(());
    }
    if !org.files_enabled {
        return Err(ApiError::bad_request(format!(
            "the {} organism does not support file submission.",
            org.key
        )));
    }
    for e in entries {
        for (cat, list) in &e.files {
            for (name, _) in list {
                if let Some(p) = name_problem(name) {
                    return Err(ApiError::unprocessable(format!(
                        "Invalid filename '{name}' in category '{cat}': {p}"
                    )));
                }
            }
        }
    }
    for e in entries {
        for (cat, list) in &e.files {
            let mut seen = BTreeSet::new();
            let dups: BTreeSet<&str> = list
                .iter()
                .filter(|(n, _)| !seen.insert(n.as_str()))
                .map(|(n, _)| n.as_str())
                .collect();
            if !dups.is_empty() {
                let dups: Vec<&str> = dups.into_iter().collect();
                return Err(ApiError::unprocessable(format!(
                    "The files in category {cat} contain duplicate file names: {}",
                    dups.join(", ")
                )));
            }
        }
    }
    for e in entries {
        for cat in e.files.keys() {
            if !org.categories.contains(&cat.as_str()) {
                return Err(ApiError::unprocessable(format!(
                    "The category {cat} is not part of the configured submission categories for {}. Allowed categories are: {}.",
                    org.key,
                    org.categories.join(", ")
                )));
            }
        }
    }
    // Distinct fileIds, in first-seen order.
    let mut ids: Vec<&str> = Vec::new();
    for e in entries {
        for list in e.files.values() {
            for (_, id) in list {
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
        }
    }
    let (known, expired): (BTreeMap<String, Known>, Vec<String>) = {
        let inner = shared.lock();
        let known = ids
            .iter()
            .filter_map(|id| {
                inner.files.get(*id).map(|f| {
                    let r = &f.record;
                    (
                        id.to_string(),
                        (r.group_id, r.multipart, r.completed, f.upload_id.clone()),
                    )
                })
            })
            .collect();
        let expired = ids
            .iter()
            .filter(|id| inner.files.get(**id).is_some_and(|f| f.marked_at.is_some()))
            .map(|id| id.to_string())
            .collect();
        (known, expired)
    };
    let incomplete: Vec<String> = ids
        .iter()
        .filter_map(|id| match known.get(*id) {
            Some((_, true, false, upload)) => {
                Some(format!("({id}, {})", upload.as_deref().unwrap_or("")))
            }
            _ => None,
        })
        .collect();
    if !incomplete.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "The following multipart uploads have not been completed: {}",
            incomplete.join(", ")
        )));
    }
    let unknown: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| !known.contains_key(*id))
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "The following file IDs do not exist: {}",
            unknown.join(", ")
        )));
    }
    // Marked by the garbage collection (gc.rs): refused until the next
    // run deletes it, after which it is one of the unknown ids above.
    if !expired.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "The following file IDs are no longer valid because they have expired: {}",
            expired.join(", ")
        )));
    }
    let mut absent = Vec::new();
    for id in &ids {
        match shared.s3.head(&object_key(id)).await {
            Ok(Some(_)) => {}
            Ok(None) => absent.push(*id),
            Err(e) => return Err(ApiError::internal(format!("Unexpected S3 error: {e}"))),
        }
    }
    if !absent.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "No file uploaded for file IDs: {}",
            absent.join(", ")
        )));
    }
    for id in &ids {
        if known[*id].0 != group_id {
            return Err(ApiError::bad_request(format!(
                "File {id} does not belong to group {group_id}."
            )));
        }
    }
    Ok(())
}

/// `GET /{organism}/get-data-to-edit/{accession}/{version}`.
pub(crate) async fn get_data_to_edit(
    State(shared): State<AppState>,
    Path((org_key, accession, version)): Path<(String, String, String)>,
    user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    if organism(&org_key).is_none() {
        return Err(ApiError::bad_request(format!(
            "Invalid organism: {org_key}, possible values are: {}",
            organism_keys()
        )));
    }
    let version: i64 = version.parse().map_err(|_| {
        ApiError::bad_request(format!(
            "Failed to convert 'version' with value: '{version}'"
        ))
    })?;
    let found = shared
        .lock()
        .submissions
        .iter()
        .find(|s| s.accession == accession && s.version == version && s.organism == org_key)
        .cloned();
    let Some(s) = found else {
        return Err(ApiError::not_found(format!(
            "Accession version {accession}.{version} does not exist"
        )));
    };
    check_group(&user, s.group_id)?;
    let files: Value = if s.files.is_empty() {
        Value::Null
    } else {
        s.files
            .iter()
            .map(|(cat, list)| {
                let v: Vec<Value> = list
                    .iter()
                    .map(|(name, id)| json!({"fileId": id, "name": name}))
                    .collect();
                (cat.clone(), Value::Array(v))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    Ok(Json(json!({
        "accession": s.accession,
        "version": s.version,
        "groupId": s.group_id,
        "submissionId": s.submission_id,
        "status": "RECEIVED",
        "submittedData": {
            "metadata": s.metadata,
            "unalignedNucleotideSequences": s.sequences,
            "files": files,
        },
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn parts_are_decompressed_by_their_suffix() {
        let tsv = b"id\tcountry\ns1\tCH\n";
        assert_eq!(check_suffix("m.tsv.zst", &["tsv"]), Some(".zst"));
        assert_eq!(check_suffix("s.fasta", FASTA_SUFFIXES), Some(""));
        assert_eq!(check_suffix("m.csv.gz", &["tsv"]), None);
        let zst = zstd::encode_all(&tsv[..], 1).unwrap();
        assert_eq!(decompress(".zst", &zst, "metadata file").unwrap(), tsv);
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(tsv).unwrap();
        assert_eq!(
            decompress(".bz2", &bz.finish().unwrap(), "metadata file").unwrap(),
            tsv
        );
        let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        z.start_file("metadata.tsv", zip::write::SimpleFileOptions::default())
            .unwrap();
        z.write_all(tsv).unwrap();
        let zipped = z.finish().unwrap().into_inner();
        assert_eq!(decompress(".zip", &zipped, "metadata file").unwrap(), tsv);
        let err = decompress(".gz", b"plain", "sequence file").unwrap_err();
        assert!(
            err.detail
                .contains("sequence file could not be decompressed as gz")
        );
    }
}

//! `GET /{organism}/get-sequences`: the sequence entries of the caller's groups, as
//! `SubmissionController.getSequenceList` / `SubmissionDatabaseService.getSequences` answer it
//! (`GetSequenceResponse`: entries ordered by accession, status and processing-result counts
//! over the whole group and organism, unaffected by filters and paging).

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use serde_json::{Value, json};

use crate::auth::{AuthUser, check_group};
use crate::info::{organism, organism_keys};
use crate::problem::ApiError;
use crate::state::AppState;

const STATUSES: &[&str] = &[
    "RECEIVED",
    "IN_PROCESSING",
    "PROCESSED",
    "APPROVED_FOR_RELEASE",
];
const RESULTS: &[&str] = &["NO_ISSUES", "HAS_WARNINGS", "HAS_ERRORS"];

/// Spring binds `List<X>` request params from repeated keys and from comma-separated values.
fn list(pairs: &[(String, String)], key: &str) -> Option<Vec<String>> {
    let v: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_owned()))
        .filter(|s| !s.is_empty())
        .collect();
    pairs.iter().any(|(k, _)| k == key).then_some(v)
}

fn int(pairs: &[(String, String)], key: &str) -> Result<Option<i64>, ApiError> {
    match pairs.iter().find(|(k, _)| k == key) {
        None => Ok(None),
        Some((_, v)) => v.parse().map(Some).map_err(|_| {
            ApiError::bad_request(format!("Failed to convert '{key}' with value: '{v}'"))
        }),
    }
}

pub(crate) async fn get_sequences(
    State(shared): State<AppState>,
    Path(org_key): Path<String>,
    RawQuery(query): RawQuery,
    user: AuthUser,
) -> Result<Json<Value>, ApiError> {
    if organism(&org_key).is_none() {
        return Err(ApiError::bad_request(format!(
            "Invalid organism: {org_key}, possible values are: {}",
            organism_keys()
        )));
    }
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let groups: Option<Vec<i64>> = match list(&pairs, "groupIdsFilter") {
        None => None,
        Some(v) => Some(
            v.iter()
                .map(|g| {
                    g.parse().map_err(|_| {
                        ApiError::bad_request(format!(
                            "Failed to convert 'groupIdsFilter' with value: '{g}'"
                        ))
                    })
                })
                .collect::<Result<_, _>>()?,
        ),
    };
    if let Some(gs) = &groups {
        for g in gs {
            check_group(&user, *g)?;
        }
    }
    let statuses = list(&pairs, "statusesFilter");
    if let Some(bad) = statuses
        .iter()
        .flatten()
        .find(|s| !STATUSES.contains(&s.as_str()))
    {
        return Err(ApiError::bad_request(format!(
            "Failed to convert 'statusesFilter' with value: '{bad}'"
        )));
    }
    let page = int(&pairs, "page")?;
    let size = int(&pairs, "size")?;

    let in_groups = |g: i64| match &groups {
        Some(gs) => gs.contains(&g),
        None => user.super_user || user.groups.contains(&g),
    };
    let inner = shared.lock();
    let mut all: Vec<_> = inner
        .submissions
        .iter()
        .filter(|s| s.organism == org_key && in_groups(s.group_id))
        .collect();
    all.sort_by(|a, b| (&a.accession, a.version).cmp(&(&b.accession, b.version)));
    // The sim never processes entries: they stay RECEIVED, or were added
    // released.
    let status_of = |s: &crate::model::SubmissionRecord| {
        if s.released {
            "APPROVED_FOR_RELEASE"
        } else {
            "RECEIVED"
        }
    };
    // Paged like the backend: `limit(size, page * size)` over the
    // filtered entries, and only when both are given.
    let (skip, take) = match (page, size) {
        (Some(page), Some(size)) => ((page.max(0) * size.max(0)) as usize, size.max(0) as usize),
        _ => (0, usize::MAX),
    };
    let entries: Vec<Value> = all
        .iter()
        .filter(|s| {
            statuses
                .as_ref()
                .is_none_or(|v| v.iter().any(|st| st == status_of(s)))
        })
        .skip(skip)
        .take(take)
        .map(|s| {
            let status = status_of(s);
            let terms = match &s.restricted_until {
                Some(until) => json!({"type": s.data_use_terms, "restrictedUntil": until}),
                None => json!({"type": s.data_use_terms}),
            };
            json!({
                "accession": s.accession,
                "version": s.version,
                "status": status,
                "processingResult": null,
                "groupId": s.group_id,
                "submitter": s.submitter,
                "isRevocation": false,
                "submissionId": s.submission_id,
                "dataUseTerms": terms,
            })
        })
        .collect();
    let status_counts: serde_json::Map<String, Value> = STATUSES
        .iter()
        .map(|st| {
            let n = all.iter().filter(|s| status_of(s) == *st).count();
            (st.to_string(), json!(n))
        })
        .collect();
    let result_counts: serde_json::Map<String, Value> =
        RESULTS.iter().map(|r| (r.to_string(), json!(0))).collect();
    Ok(Json(json!({
        "sequenceEntries": entries,
        "statusCounts": status_counts,
        "processingResultCounts": result_counts,
    })))
}

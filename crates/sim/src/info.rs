//! The instance's organisms and `GET /loculus-info` (what the website serves).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::state::AppState;

pub(crate) struct Organism {
    pub key: &'static str,
    pub display_name: &'static str,
    pub consensus_sequences: bool,
    pub files_enabled: bool,
    pub categories: &'static [&'static str],
}

/// Checklist item 1: files + sequences, files only, sequences only.
pub(crate) const ORGANISMS: &[Organism] = &[
    Organism {
        key: "ebola-sudan",
        display_name: "Ebola Sudan",
        consensus_sequences: true,
        files_enabled: true,
        categories: &["rawReads", "sequencingReports"],
    },
    Organism {
        key: "dummy-organism-with-files",
        display_name: "Test organism (with files)",
        consensus_sequences: false,
        files_enabled: true,
        categories: &["rawReads"],
    },
    Organism {
        key: "dummy-organism",
        display_name: "Test Dummy Organism",
        consensus_sequences: true,
        files_enabled: false,
        categories: &[],
    },
];

pub(crate) fn organism(key: &str) -> Option<&'static Organism> {
    ORGANISMS.iter().find(|o| o.key == key)
}

/// `[a, b, c]` as Loculus prints the valid organism list.
pub(crate) fn organism_keys() -> String {
    let keys: Vec<&str> = ORGANISMS.iter().map(|o| o.key).collect();
    format!("[{}]", keys.join(", "))
}

fn display(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if i == 0 {
            out.extend(c.to_uppercase());
        } else if c.is_uppercase() {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn schema(o: &Organism) -> Value {
    let mut data_types = json!({ "consensusSequences": o.consensus_sequences });
    if o.files_enabled {
        let cats: Vec<Value> = o
            .categories
            .iter()
            .map(|c| json!({"name": c, "displayName": display(c)}))
            .collect();
        data_types["files"] = json!({"enabled": true, "categories": cats});
    }
    if o.consensus_sequences {
        data_types["maxSequencesPerEntry"] = json!(1);
    }
    json!({
        "organismName": o.display_name,
        "inputFields": [
            {"name": "id", "displayName": "ID", "required": true, "noEdit": true,
             "definition": "Your sample identifier"},
            {"name": "sampleCollectionDate", "displayName": "Collection date", "required": true,
             "example": "2024-01-31"},
            {"name": "geoLocCountry", "displayName": "Collection country", "required": true},
            {"name": "authors", "displayName": "Authors", "desired": true}
        ],
        "metadataTemplate": ["id", "sampleCollectionDate", "geoLocCountry", "authors"],
        "metadata": [
            {"name": "accessionVersion", "type": "string"},
            {"name": "sampleCollectionDate", "type": "date"},
            {"name": "geoLocCountry", "type": "string"}
        ],
        "submissionDataTypes": data_types,
        "primaryKey": "accessionVersion",
        "tableColumns": ["sampleCollectionDate", "geoLocCountry"],
        "defaultOrderBy": "sampleCollectionDate",
        "defaultOrder": "descending",
    })
}

fn cors(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, OPTIONS"),
    );
    h.insert(
        HeaderName::from_static("access-control-allow-headers"),
        HeaderValue::from_static("Content-Type"),
    );
    r
}

/// `GET /loculus-info`: hosts (all this one server) and organisms.
pub(crate) async fn loculus_info(State(shared): State<AppState>) -> Response {
    let base = &shared.backend_url;
    let mut organisms = serde_json::Map::new();
    let mut lapis = serde_json::Map::new();
    for o in ORGANISMS {
        organisms.insert(
            o.key.into(),
            json!({"schema": schema(o), "referenceGenomes": []}),
        );
        lapis.insert(o.key.into(), json!(format!("{base}/lapis/{}", o.key)));
    }
    let body = json!({
        "hosts": {"backend": base, "lapis": lapis, "keycloak": base, "website": base},
        "minCliVersion": "0.0.0",
        "title": "Ferry simulated Loculus",
        "organisms": organisms,
    });
    cors(Json(body).into_response())
}

pub(crate) async fn loculus_info_options() -> Response {
    cors(StatusCode::NO_CONTENT.into_response())
}

/// `GET /` of the backend.
pub(crate) async fn backend_root() -> Json<Value> {
    Json(json!({
        "name": "Loculus backend",
        "status": "Healthy",
        "documentation": "visit /swagger-ui/index.html",
        "isInDebugMode": false
    }))
}

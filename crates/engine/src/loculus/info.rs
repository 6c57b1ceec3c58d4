//! Discovery: `GET <website>/loculus-info` (no sign-in), reduced to what an
//! uploader needs per organism: sequences or not, and the file categories.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Loculus;
use crate::Error;
use crate::error::{from_reqwest, from_status, host_of};

/// What a submission to one organism may carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrganismInfo {
    pub key: String,
    pub display_name: String,
    /// A FASTA is required (and without it, refused).
    pub consensus_sequences: bool,
    pub files_enabled: bool,
    /// `submissionDataTypes.files.categories[].name` (the submit side, not
    /// the output `schema.files`).
    pub categories: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    pub title: Option<String>,
    pub backend: Option<String>,
    /// `None` when the instance cannot sign anyone in right now.
    pub keycloak: Option<String>,
    pub organisms: BTreeMap<String, OrganismInfo>,
}

impl InstanceInfo {
    /// The organism, or a message listing the instance's organisms.
    pub fn organism(&self, key: &str) -> Result<&OrganismInfo, String> {
        self.organisms.get(key).ok_or_else(|| {
            let known: Vec<&str> = self.organisms.keys().map(String::as_str).collect();
            format!(
                "no organism '{key}' on this instance; use one of: {}",
                known.join(", ")
            )
        })
    }
}

#[derive(Deserialize)]
struct RawInfo {
    title: Option<String>,
    #[serde(default)]
    hosts: RawHosts,
    #[serde(default)]
    organisms: BTreeMap<String, RawOrganism>,
}

#[derive(Deserialize, Default)]
struct RawHosts {
    backend: Option<String>,
    keycloak: Option<String>,
}

#[derive(Deserialize)]
struct RawOrganism {
    schema: RawSchema,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSchema {
    organism_name: Option<String>,
    submission_data_types: Option<RawDataTypes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDataTypes {
    consensus_sequences: Option<bool>,
    files: Option<RawFiles>,
}

#[derive(Deserialize)]
struct RawFiles {
    #[serde(default)]
    enabled: bool,
    #[serde(default)]
    categories: Vec<RawCategory>,
}

#[derive(Deserialize)]
struct RawCategory {
    name: String,
}

/// Parse a `loculus-info` body.
pub fn parse_instance_info(body: &[u8]) -> Result<InstanceInfo, serde_json::Error> {
    let raw: RawInfo = serde_json::from_slice(body)?;
    let organisms = raw
        .organisms
        .into_iter()
        .map(|(key, o)| {
            let dt = o.schema.submission_data_types;
            // No submissionDataTypes block: Helm emits consensusSequences: true.
            let consensus = dt
                .as_ref()
                .and_then(|d| d.consensus_sequences)
                .unwrap_or(true);
            let files = dt.and_then(|d| d.files).filter(|f| f.enabled);
            let info = OrganismInfo {
                display_name: o.schema.organism_name.unwrap_or_else(|| key.clone()),
                key: key.clone(),
                consensus_sequences: consensus,
                files_enabled: files.is_some(),
                categories: files
                    .map(|f| f.categories.into_iter().map(|c| c.name).collect())
                    .unwrap_or_default(),
            };
            (key, info)
        })
        .collect();
    Ok(InstanceInfo {
        title: raw.title,
        backend: raw.hosts.backend,
        keycloak: raw.hosts.keycloak,
        organisms,
    })
}

impl Loculus {
    /// `GET <website>/loculus-info`: public, no token.
    pub async fn instance_info(
        http: &reqwest::Client,
        website: &str,
    ) -> Result<InstanceInfo, Error> {
        let url = format!("{}/loculus-info", website.trim_end_matches('/'));
        let resp = http
            .get(&url)
            .send()
            .await
            .map_err(|e| from_reqwest(&url, e))?;
        let status = resp.status().as_u16();
        let body = crate::guard::body_capped(resp, &url, crate::guard::JSON_CAP).await?;
        if !(200..300).contains(&status) {
            let detail = super::api::problem_detail(&String::from_utf8_lossy(&body));
            return Err(from_status(&url, status, detail, None));
        }
        parse_instance_info(&body).map_err(|e| Error::Protocol {
            host: host_of(&url),
            detail: format!(
                "{url} is not a Loculus instance description ({e}); give the website's address"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_categories_and_sequences() {
        let body = br#"{"title":"T","hosts":{"backend":"http://b","keycloak":null},
          "organisms":{
            "a":{"schema":{"organismName":"A","submissionDataTypes":{"consensusSequences":false,
                 "files":{"enabled":true,"categories":[{"name":"rawReads","displayName":"Raw reads"}]}}}},
            "b":{"schema":{"organismName":"B"}},
            "c":{"schema":{"submissionDataTypes":{"consensusSequences":true,"files":{"enabled":false,"categories":[{"name":"x"}]}}}}}}"#;
        let i = parse_instance_info(body).unwrap();
        assert_eq!(i.backend.as_deref(), Some("http://b"));
        assert_eq!(i.keycloak, None);
        assert_eq!(i.organisms["a"].categories, vec!["rawReads"]);
        assert!(!i.organisms["a"].consensus_sequences);
        assert!(i.organisms["b"].consensus_sequences && !i.organisms["b"].files_enabled);
        assert!(!i.organisms["c"].files_enabled && i.organisms["c"].categories.is_empty());
        assert!(
            i.organism("zzz")
                .unwrap_err()
                .to_string()
                .contains("a, b, c")
        );
    }
}

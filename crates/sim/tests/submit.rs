//! `POST /{organism}/submit` checks, in the documented order, and get-data-to-edit.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::Value;

const FILES_ONLY: &str = "dummy-organism-with-files";

fn tsv_with_files(cell: &str) -> String {
    format!("id\tgeoLocCountry\tfiles.rawReads\ns1\tGermany\t{cell}\n")
}

#[tokio::test]
async fn happy_path_multipart_submit_and_get_data_to_edit() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let whole = data(12 * MIB, 9);
    let parts = vec![
        whole[..5 * MIB].to_vec(),
        whole[5 * MIB..10 * MIB].to_vec(),
        whole[10 * MIB..].to_vec(),
    ];
    let id = upload_multipart(&sim, &demo, 1, &parts).await;
    assert_eq!(
        sim.object_sha256(&id).await,
        Some((whole.len() as u64, sha256_hex(&whole)))
    );

    let r = Submit::new(FILES_ONLY, tsv_with_files(&format!("reads.fastq.gz:{id}")))
        .send(&sim, &demo)
        .await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v[0]["submissionId"], "s1");
    assert_eq!(v[0]["version"], 1);
    let acc = v[0]["accession"].as_str().unwrap().to_owned();
    assert!(acc.starts_with("LOC_") && acc.len() == 11, "{acc}");

    let subs = sim.submissions();
    assert_eq!(subs.len(), 1);
    assert_eq!(
        subs[0].files["rawReads"],
        vec![("reads.fastq.gz".to_owned(), id.clone())]
    );
    assert_eq!(
        subs[0].metadata.get("geoLocCountry").map(String::as_str),
        Some("Germany")
    );
    assert!(!subs[0].metadata.contains_key("files.rawReads"));
    assert_eq!(subs[0].group_id, 1);

    let url = format!(
        "{}/{FILES_ONLY}/get-data-to-edit/{acc}/1",
        sim.backend_url()
    );
    let e: Value = client()
        .get(&url)
        .bearer_auth(&demo)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(e["accession"], acc.as_str());
    assert_eq!(e["groupId"], 1);
    assert_eq!(
        e["submittedData"]["files"]["rawReads"][0]["fileId"],
        id.as_str()
    );
    assert_eq!(
        e["submittedData"]["files"]["rawReads"][0]["name"],
        "reads.fastq.gz"
    );
    // Not a member of the entry's group.
    problem(
        client()
            .get(&url)
            .bearer_auth(sim.token_for("other"))
            .send()
            .await
            .unwrap(),
        403,
        "not a member",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn consensus_organism_with_fasta_and_files() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let a = upload_single(&sim, &demo, 1, data(1000, 1)).await;
    let b = upload_single(&sim, &demo, 1, data(1000, 2)).await;
    let tsv = format!(
        "id\tgeoLocCountry\tfiles.rawReads\tfiles.sequencingReports\ns1\tX\tr1.fq:{a} r2.fq:{b}\treport.pdf:{a}\ns2\tY\t\t\n"
    );
    let mut s = Submit::new("ebola-sudan", tsv);
    s.sequence = Some((
        "seqs.fasta",
        ">s1 some description\nACGT\nACGT\n>s2\nTTTT\n".into(),
    ));
    let r = s.send(&sim, &demo).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let subs = sim.submissions();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0].files["rawReads"].len(), 2);
    assert_eq!(subs[0].files["sequencingReports"][0].1, a);
    assert!(subs[1].files.is_empty());
    // Each entry keeps its own sequence, lines joined, by FASTA id.
    assert_eq!(
        subs[0].sequences,
        [("s1".to_string(), "ACGTACGT".to_string())].into()
    );
    assert_eq!(
        subs[1].sequences,
        [("s2".to_string(), "TTTT".to_string())].into()
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn sequence_file_rules() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let tsv = "id\tgeoLocCountry\ns1\tX\n";
    problem(
        Submit::new("ebola-sudan", tsv).send(&sim, &demo).await,
        400,
        "Submissions for organism ebola-sudan require a sequence file.",
    )
    .await;
    let mut s = Submit::new(FILES_ONLY, tsv);
    s.sequence = Some(("s.fasta", ">s1\nACGT\n".into()));
    problem(
        s.send(&sim, &demo).await,
        400,
        "Sequence uploads are not allowed for organism dummy-organism-with-files.",
    )
    .await;
    let mut s = Submit::new("dummy-organism", tsv);
    s.sequence = Some(("s.fasta", ">s2\nACGT\n".into()));
    problem(
        s.send(&sim, &demo).await,
        422,
        "FASTA ids that are not present in the sequence file: s1",
    )
    .await;
    let mut s = Submit::new("dummy-organism", tsv);
    s.sequence = Some(("s.txt", ">s1\nACGT\n".into()));
    problem(
        s.send(&sim, &demo).await,
        400,
        "Sequence file has wrong extension",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test]
async fn form_level_checks() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let tsv = "id\tgeoLocCountry\ns1\tX\n";
    problem(
        Submit::new("no-such-organism", tsv).send(&sim, &demo).await,
        400,
        "Invalid organism: no-such-organism",
    )
    .await;
    let mut s = Submit::new(FILES_ONLY, tsv);
    s.group = "2";
    problem(
        s.send(&sim, &demo).await,
        403,
        "User demo is not a member of group(s) 2",
    )
    .await;
    let mut s = Submit::new(FILES_ONLY, tsv);
    s.group = "42";
    problem(
        s.send(&sim, &demo).await,
        404,
        "Group(s) 42 do(es) not exist.",
    )
    .await;
    let mut s = Submit::new(FILES_ONLY, tsv);
    s.terms = None;
    problem(
        s.send(&sim, &demo).await,
        400,
        "the 'dataUseTermsType' needs to be provided.",
    )
    .await;
    let mut s = Submit::new(FILES_ONLY, tsv);
    s.terms = Some("RESTRICTED");
    problem(
        s.send(&sim, &demo).await,
        400,
        "must be set if 'dataUseTermsType' is RESTRICTED",
    )
    .await;
    let mut s = Submit::new(FILES_ONLY, tsv);
    s.metadata_name = "metadata.csv";
    problem(
        s.send(&sim, &demo).await,
        400,
        "Metadata file has wrong extension",
    )
    .await;
    problem(
        Submit::new(FILES_ONLY, "name\tgeoLocCountry\ns1\tX\n")
            .send(&sim, &demo)
            .await,
        422,
        "does not contain either header 'id' or 'submissionId'",
    )
    .await;
    problem(
        Submit::new(FILES_ONLY, "id\tgeoLocCountry\ns1\tX\ns1\tY\n")
            .send(&sim, &demo)
            .await,
        422,
        "duplicate submissionId",
    )
    .await;
    // POST without a token: 403.
    let r = client()
        .post(format!("{}/{FILES_ONLY}/submit", sim.backend_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(sim.submissions().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn file_cell_and_name_rules() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let id = upload_single(&sim, &demo, 1, data(10, 1)).await;
    let cases = [
        (
            format!("a/b.fq:{id}"),
            "Invalid filename 'a/b.fq' in category 'rawReads': Filenames may not contain forbidden characters",
        ),
        (format!("a:b.fq:{id}"), "Invalid filename 'a:b.fq'"),
        (
            format!("{}:{id}", "x".repeat(256)),
            "Filenames may not exceed 255 characters",
        ),
        (format!("a\u{1}b:{id}"), "ASCII control characters 0-31"),
        (
            format!("a\u{2003}b:{id}"),
            "Filenames may not contain whitespace.",
        ),
        (
            format!("r.fq:{id} r.fq:{id}"),
            "found duplicate file names in column 'files.rawReads': r.fq",
        ),
        ("r.fq".to_owned(), "is missing a file ID"),
        (format!(":{id}"), "is missing a file name"),
        ("r.fq:not-a-uuid".to_owned(), "Expected a UUID."),
    ];
    for (cell, needle) in cases {
        problem(
            Submit::new(FILES_ONLY, tsv_with_files(&cell))
                .send(&sim, &demo)
                .await,
            422,
            needle,
        )
        .await;
    }
    // Unknown category.
    let tsv = format!("id\tgeoLocCountry\tfiles.assemblies\ns1\tX\tx.fa:{id}\n");
    problem(Submit::new(FILES_ONLY, tsv).send(&sim, &demo).await, 422, "The category assemblies is not part of the configured submission categories for dummy-organism-with-files. Allowed categories are: rawReads.").await;
    // Files for an organism without files.
    let mut s = Submit::new("dummy-organism", tsv_with_files(&format!("r.fq:{id}")));
    s.sequence = Some(("s.fasta", ">s1\nACGT\n".into()));
    problem(
        s.send(&sim, &demo).await,
        400,
        "the dummy-organism organism does not support file submission.",
    )
    .await;
    // Upper-case fileIds are accepted (Java UUID parsing) and stored lowercase.
    let r = Submit::new(
        FILES_ONLY,
        tsv_with_files(&format!("r.fq:{}", id.to_uppercase())),
    )
    .send(&sim, &demo)
    .await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(sim.submissions()[0].files["rawReads"][0].1, id);
    sim.shutdown().await;
}

#[tokio::test]
async fn file_state_checks() {
    let sim = sim().await;
    let demo = sim.demo_token();
    // Multipart upload not completed.
    let (pending, urls) = request_multipart(&sim, &demo, 1, 1).await;
    put_parts(&urls, &[data(10, 1)]).await;
    problem(
        Submit::new(FILES_ONLY, tsv_with_files(&format!("r.fq:{pending}")))
            .send(&sim, &demo)
            .await,
        422,
        &format!("The following multipart uploads have not been completed: ({pending}, "),
    )
    .await;
    // Unknown fileId.
    let unknown = uuid::Uuid::new_v4().to_string();
    problem(
        Submit::new(FILES_ONLY, tsv_with_files(&format!("r.fq:{unknown}")))
            .send(&sim, &demo)
            .await,
        422,
        &format!("The following file IDs do not exist: {unknown}"),
    )
    .await;
    // Requested but never uploaded.
    let (empty, _) = request_single(&sim, &demo, 1).await;
    problem(
        Submit::new(FILES_ONLY, tsv_with_files(&format!("r.fq:{empty}")))
            .send(&sim, &demo)
            .await,
        422,
        &format!("No file uploaded for file IDs: {empty}"),
    )
    .await;
    // File of another group: 400.
    let foreign = upload_single(&sim, &sim.token_for("other"), 2, data(10, 2)).await;
    problem(
        Submit::new(FILES_ONLY, tsv_with_files(&format!("r.fq:{foreign}")))
            .send(&sim, &demo)
            .await,
        400,
        &format!("File {foreign} does not belong to group 1."),
    )
    .await;
    assert!(sim.submissions().is_empty());
    sim.shutdown().await;
}

#[tokio::test]
async fn file_mapping_part_is_silently_ignored() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let id = upload_single(&sim, &demo, 1, data(10, 1)).await;
    let mapping = format!(r#"{{"s1": {{"rawReads": [{{"fileId": "{id}", "name": "r.fq"}}]}}}}"#);
    let mut s = Submit::new(FILES_ONLY, "id\tgeoLocCountry\ns1\tX\n");
    s.extra.push(("fileMapping", mapping));
    let r = s.send(&sim, &demo).await;
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.unwrap();
    let acc = v[0]["accession"].as_str().unwrap();
    // Accepted, but nothing is attached: a client relying on fileMapping must notice.
    assert!(sim.submissions()[0].files.is_empty());
    let e: Value = client()
        .get(format!(
            "{}/{FILES_ONLY}/get-data-to-edit/{acc}/1",
            sim.backend_url()
        ))
        .bearer_auth(&demo)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(e["submittedData"]["files"]["rawReads"].is_null());
    sim.shutdown().await;
}

/// `GET /{organism}/get-sequences`: the group's entries with their
/// submission ids (how a client finds out whether a submit whose answer
/// was lost landed), group checks, paging, counts over the whole group.
#[tokio::test]
async fn get_sequences_lists_the_groups_entries_with_their_submission_ids() {
    let sim = sim().await;
    let demo = sim.demo_token();
    let get = |q: &str, token: &str| {
        client()
            .get(format!(
                "{}/{FILES_ONLY}/get-sequences{q}",
                sim.backend_url()
            ))
            .bearer_auth(token.to_string())
            .send()
    };
    let empty = json(get("?groupIdsFilter=1", &demo).await.unwrap()).await;
    assert_eq!(empty["sequenceEntries"], Value::Array(vec![]));
    assert_eq!(empty["statusCounts"]["RECEIVED"], 0);

    let tsv = "id\tgeoLocCountry\ns1\tX\ns2\tY\n";
    let r = Submit::new(FILES_ONLY, tsv).send(&sim, &demo).await;
    assert_eq!(r.status(), StatusCode::OK, "{}", r.text().await.unwrap());
    let v = json(get("?groupIdsFilter=1", &demo).await.unwrap()).await;
    let entries = v["sequenceEntries"].as_array().unwrap();
    let ids: Vec<&str> = entries
        .iter()
        .map(|e| e["submissionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["s1", "s2"]);
    for e in entries {
        assert_eq!(e["version"], 1);
        assert_eq!(e["groupId"], 1);
        assert_eq!(e["status"], "RECEIVED");
        assert_eq!(e["isRevocation"], false);
        assert_eq!(e["submitter"], "demo");
        assert_eq!(e["dataUseTerms"]["type"], "OPEN");
        assert!(e["accession"].as_str().unwrap().starts_with("LOC_"));
    }
    assert_eq!(v["statusCounts"]["RECEIVED"], 2);
    assert_eq!(v["processingResultCounts"]["HAS_ERRORS"], 0);
    // Without a filter: the caller's groups.
    let all = json(get("", &demo).await.unwrap()).await;
    assert_eq!(all["sequenceEntries"], v["sequenceEntries"]);
    // Paging is 0-based; counts stay totals.
    let page = json(get("?groupIdsFilter=1&page=1&size=1", &demo).await.unwrap()).await;
    assert_eq!(page["sequenceEntries"].as_array().unwrap().len(), 1);
    assert_eq!(page["sequenceEntries"][0]["submissionId"], "s2");
    assert_eq!(page["statusCounts"]["RECEIVED"], 2);
    // Not the caller's group, an unknown group, an unknown organism.
    problem(
        get("?groupIdsFilter=1", &sim.token_for("other"))
            .await
            .unwrap(),
        403,
        "not a member",
    )
    .await;
    problem(
        get("?groupIdsFilter=987654", &demo).await.unwrap(),
        404,
        "do(es) not exist",
    )
    .await;
    let r = client()
        .get(format!(
            "{}/no-such-organism/get-sequences",
            sim.backend_url()
        ))
        .bearer_auth(&demo)
        .send()
        .await
        .unwrap();
    problem(r, 400, "Invalid organism").await;
    sim.shutdown().await;
}

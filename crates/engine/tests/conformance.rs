//! One conformance suite for every portal (object_store style): each
//! scenario is written once, generic over a [`rigs::Rig`] that starts the
//! portal's simulator on a real S3 server, and run against Loculus, One
//! Codex and BaseSpace. Every test checks what a user would: the stored
//! bytes hash to the file's SHA-256 and the portal accepted the file.
//! Ten scenarios, so each portal runs ten tests (30 in all).

#[path = "common.rs"]
mod common;
#[path = "conformance/rigs.rs"]
mod rigs;
#[path = "conformance/scenarios.rs"]
mod scenarios;

macro_rules! conformance {
    ($module:ident, $rig:ty) => {
        mod $module {
            use super::scenarios as s;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sizes_at_every_boundary_are_stored_exactly() {
                s::sizes_at_every_boundary::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn many_small_files_all_arrive() {
                s::many_small_files::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn resets_500s_and_429s_still_complete_with_equal_hashes() {
                s::faults_still_complete::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn bad_names_are_refused_before_any_request() {
                s::bad_names_refused_before_any_request::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn wrong_credentials_give_the_sign_in_error() {
                s::wrong_credentials_are_a_sign_in_error::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn the_credential_never_reaches_the_storage_host() {
                s::credential_stays_off_storage::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_empty_file_is_stored_or_refused_before_any_request() {
                s::empty_file_stored_or_refused_before_any_request::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn credentials_revoked_mid_job_stop_it_and_resume_finishes() {
                s::revoked_mid_job_stops_then_resumes::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn an_interrupted_job_resumes() {
                s::interrupted_job_resumes::<$rig>().await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_storage_that_lies_about_etags_is_caught_or_checked() {
                s::storage_that_lies_is_caught::<$rig>().await
            }
        }
    };
}

conformance!(loculus, crate::rigs::LoculusRig);
conformance!(onecodex, crate::rigs::OneCodexRig);
conformance!(basespace, crate::rigs::BaseSpaceRig);

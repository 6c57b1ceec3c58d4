//! How the Watched folders panel shows a run submitted as a batch
//! (ferry-front's `SubmitRuns` does the work, as for `ferry watch
//! --submit`): the run's line names its accessions, or says what to fix
//! and to press **Check again**.

use ferry_engine::loculus::Linkage;
use ferry_engine::watch::SendFailure;
use ferry_front::submit::Again;
use ferry_front::watch_submit::{Recheck, RunPresenter, waiting_report};
use ferry_front::{SubmitFailure, Submitted};

/// The panel's words for its runs' submits.
pub struct PanelRuns;

impl RunPresenter for PanelRuns {
    fn recheck(&self) -> Recheck {
        Recheck::CheckAgainButton
    }

    fn submitted(
        &self,
        _job: &str,
        _linkage: &Linkage,
        result: Result<Submitted, SubmitFailure>,
    ) -> Result<String, String> {
        match result {
            Ok(s) => {
                let names: Vec<String> = s
                    .accessions
                    .iter()
                    .map(|a| format!("{}.{}", a.accession, a.version))
                    .collect();
                let receipt = match &s.receipt {
                    Some(Err(e)) => format!(" ({e})"),
                    _ => String::new(),
                };
                Ok(format!("submitted as {}{receipt}", names.join(", ")))
            }
            // A fix undone while the files went up: the report, as while
            // the run waited.
            Err(SubmitFailure::Problems { problems, .. }) => {
                Err(waiting_report(&problems, self.recheck()))
            }
            Err(e) => Err(e.message(Again::CheckAgainButton)),
        }
    }

    fn not_sent(&self, _job: &str, failure: &SendFailure) -> String {
        failure.first.to_string()
    }
}

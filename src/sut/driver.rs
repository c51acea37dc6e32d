//! Running one action through the SUT's driver (command, http, attended).
//! SKELETON — to be completed.

use super::{ActionFailure, ActionReport, ActionRequest, SutConfig};

/// Runs `request` through `config`'s driver; never panics, never hangs past `action_timeout`.
pub async fn run_action(config: &SutConfig, request: &ActionRequest) -> ActionReport {
    ActionReport {
        action: request.action,
        params: request.params.clone(),
        command: Vec::new(),
        started: String::new(),
        duration_ms: 0,
        exit_code: None,
        stdout_excerpt: String::new(),
        stderr_excerpt: String::new(),
        outcome: None,
        failure: Some(ActionFailure::NotConfigured {
            action: request.action.as_str().into(),
            file: config.file.as_ref().map(|f| f.display().to_string()).unwrap_or_default(),
        }),
        attended: None,
    }
}

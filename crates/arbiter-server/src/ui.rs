//! The reviewers' web UI (server-rendered HTML).

use crate::AppState;
use axum::Router;

/// Whether a path belongs to the UI (which handles sign-in itself).
pub fn is_ui_path(_path: &str) -> bool {
    false
}

/// Adds the UI's routes.
pub fn routes(r: Router<AppState>) -> Router<AppState> {
    r
}

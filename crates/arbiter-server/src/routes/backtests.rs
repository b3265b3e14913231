//! `POST /api/v1/backtests` (reviewer or admin): a candidate plan policy set
//! and/or stack configuration replayed over the stored change requests of a
//! window; the answer is the report only (see [`crate::backtest`]).

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::AppState;
use arbiter_api::{BacktestReport, BacktestRequest, Role};
use axum::body::Bytes;
use axum::extract::State;
use axum::{Extension, Json};

/// `POST /api/v1/backtests`.
pub async fn run(
    State(app): State<AppState>,
    Extension(p): Extension<Principal>,
    body: Bytes,
) -> ApiResult<Json<BacktestReport>> {
    p.require(Role::Reviewer)?;
    let req: BacktestRequest = crate::intake::parse_json(body).await?;
    Ok(Json(crate::backtest::run(&app, &p.id(), req).await?))
}

//! bcs-storage: a REST document store for container-cluster resources,
//! compatible with the bcs-storage service of BlueKing Container Service.
//!
//! Layers (imports point down): `api` (HTTP) -> `domain` (bcs semantics) ->
//! `model` (backend-neutral types) and `store` (SQLite, MongoDB).

pub mod api;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod logwriter;
pub mod metrics;
pub mod model;
pub mod reload;
pub mod server;
pub mod store;
pub mod tls;

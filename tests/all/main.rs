//! All integration tests, as modules of one binary (one link, shared helpers).

mod auth;
mod cli;
mod common;
mod conformance;
mod crash;
mod drills;
mod fuzz;
mod go_wire;
mod http_alarms;
mod http_cluster;
mod http_custom;
mod http_dynamic;
mod http_errors;
mod http_events;
mod http_export;
mod http_host;
mod http_kube;
mod http_metric;
mod http_ops;
mod http_query;
mod http_watch;
mod http_watchkv;
mod kube_clients;
mod openapi;
mod props;
mod retention;

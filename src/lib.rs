//! Pulse: polls public product mentions, classifies their sentiment locally, stores trend
//! series in sled, detects shifts in opinion and volume, and alerts marketing and IT.
//!
//! The pipeline is visible in the module tree: [`sources`] → [`matcher`] → [`sentiment`]
//! → [`store`] → [`trend`] → [`alert`], driven by [`daemon`] and queried from [`cli`].

pub mod alert;
pub mod api;
pub mod bench;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod health;
pub mod heartbeat;
pub mod logging;
pub mod matcher;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod query;
pub mod sentiment;
pub mod sources;
pub mod store;
pub mod trend;

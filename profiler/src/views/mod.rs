//! Pure renders of the model.

pub mod diff;
pub mod metrics;
pub mod report;
pub mod timeline;

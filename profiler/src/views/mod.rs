//! Pure renders of the model.

pub mod diff;
pub mod report;
pub mod timeline;

//! Pure renders of the model.

pub mod report;

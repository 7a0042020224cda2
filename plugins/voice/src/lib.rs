//! Omni voice connector (being written).

//! Omni messenger connector (being written).

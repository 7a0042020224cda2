//! Omni telegram connector (being written).

//! Omni whatsapp connector (being written).

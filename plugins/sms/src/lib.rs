//! Omni sms connector (being written).

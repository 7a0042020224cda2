//! Omni email connector (being written).
#[allow(unused_imports)]
use mail_parser as _;

//! CloudTrail records as CloudTrail writes them, borrowed from the input buffer: only the fields
//! detection and the finding mapping read (spec §6.1).

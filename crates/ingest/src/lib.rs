//! Log readers: CloudTrail as CloudTrail delivers it, JSON lines, stdin.

//! GuardDuty's REST-JSON protocol over HTTP: routing, SigV4, AWS error shapes.

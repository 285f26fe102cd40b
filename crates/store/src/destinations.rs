//! Publishing destinations (CreatePublishingDestination family): where a detector's findings are
//! exported, and whether publishing there works.

/// Persistence of publishing destinations (operations are added by the destinations work).
pub trait DestinationStore {}

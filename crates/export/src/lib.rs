//! Delivering findings where responders read them, from the store's outbox.
//!
//! * [`destinations`]: publishing destinations (CreatePublishingDestination), S3 objects as
//!   GuardDuty writes them.
pub mod destinations;

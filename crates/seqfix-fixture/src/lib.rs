//! Sample data in the shape of production, for seqfix's tests, benchmarks and examples:
//! kept out of the seqfix library so that its generators (and `rand`) are not part of what
//! seqfix ships. Deterministic: the same spec and seed give the same rows.
//!
//! `messages`: the messages table with duplicates the generator knows about (tests compute
//! the right answer without asking seqfix); `contacts`: the sequence tables `seqfix process`
//! works on, in every situation its rules distinguish.
pub mod contacts;
pub mod messages;

//! seqfix: find, remove and prevent duplicate sequence messages in MySQL/MariaDB.
//!
//! Data flows one way: `cli` (arguments) → `config` (checked) → `db` (connection) →
//! an operation (`audit`, ...) returning a report → `report` (table or JSON).
pub mod cli;
pub mod config;
pub mod db;
pub mod fixture;
pub mod sql;

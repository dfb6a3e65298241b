//! The name fix-fpm's tests import a report's fix by: the fix and its steps now live in
//! `follow` (`follow::Fix`, `follow::Step`), with the one way of following them.

#[allow(unused_imports)] // fix-fpm's tests import these by this path
pub use super::follow::{Fix, Step};

//! Walking each item of a list: every failing upstream gets a walk of its
//! own, from the same nodes, with its own facts.
//!
//! An item's facts are set under the `each` node's prefix on top of what
//! was known before the list, and are gone again when the next item
//! starts: one upstream's findings never rest on another's facts. Findings
//! made during an item's walk are labelled with what the item is about.

use std::collections::BTreeMap;

use super::Engine;
use crate::guide::Interrupted;
use crate::rules::{Each, NodeKind, RuleSet};
use crate::value::{Facts, Value};

/// An `each` under way.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    /// The `each` node.
    node: usize,
    items: Vec<BTreeMap<String, Value>>,
    index: usize,
    /// What was known before the list, restored before every item.
    base: Facts,
    base_unchecked: Vec<String>,
    /// What the current item's findings are about.
    label: Option<String>,
    /// The item's title, as announced.
    title: Option<String>,
}

impl Engine<'_> {
    /// Starts the walk of the first item, or goes on past an empty list.
    pub(super) fn enter_each(&mut self, n: usize) -> Result<Option<usize>, Interrupted> {
        let each = each_of(self.rules, n);
        let items = match self.walk.facts.get(&each.list) {
            Value::List(items) => items.clone(),
            _ => Vec::new(),
        };
        if items.is_empty() {
            return Ok(each.then);
        }
        self.frames.push(Frame {
            node: n,
            items,
            index: 0,
            base: self.walk.facts.clone(),
            base_unchecked: self.unchecked.clone(),
            label: None,
            title: None,
        });
        self.enter_item().map(Some)
    }

    /// When an item's walk ended: the next item's start, or where the walk
    /// goes on after the list; `None` when the whole walk is over.
    pub(super) fn next_item(&mut self) -> Result<Option<usize>, Interrupted> {
        let Some(frame) = self.frames.last_mut() else {
            return Ok(None);
        };
        frame.index += 1;
        if frame.index < frame.items.len() {
            return self.enter_item().map(Some);
        }
        let Some(frame) = self.frames.pop() else {
            return Ok(None);
        };
        self.restore_base(&frame);
        Ok(each_of(self.rules, frame.node).then)
    }

    /// Sets the current item's facts and tells the person which item this is.
    fn enter_item(&mut self) -> Result<usize, Interrupted> {
        let Some(frame) = self.frames.last() else {
            unreachable!("an item is entered only inside an `each`");
        };
        let frame = frame.clone();
        let each = each_of(self.rules, frame.node);
        self.restore_base(&frame);
        for (name, value) in &frame.items[frame.index] {
            self.walk
                .facts
                .set(format!("{}.{name}", each.prefix), value.clone());
        }
        let label = each.label.render(&self.walk.facts);
        let title = each.title.as_ref().map(|t| t.render(&self.walk.facts));
        if let Some(f) = self.frames.last_mut() {
            f.label = Some(label);
            f.title.clone_from(&title);
        }
        if let (Some(guide), Some(title)) = (self.guide.as_deref_mut(), title) {
            guide.section(&title, frame.index + 1, frame.items.len())?;
        }
        Ok(each.start)
    }

    fn restore_base(&mut self, frame: &Frame) {
        // The walk's running counts outlive the item; everything else is
        // what was known before the list.
        let faults = self.walk.facts.get("walk.faults").clone();
        let resolved = self.walk.facts.get("walk.resolved").clone();
        self.walk.facts = frame.base.clone();
        self.walk.facts.set("walk.faults", faults);
        self.walk.facts.set("walk.resolved", resolved);
        self.unchecked = frame.base_unchecked.clone();
    }

    /// What the current item's findings and checks are about.
    pub(super) fn current_label(&self) -> Option<String> {
        self.frames.last().and_then(|f| f.label.clone())
    }

    /// The current item's title, as announced.
    pub(super) fn current_title(&self) -> Option<String> {
        self.frames.last().and_then(|f| f.title.clone())
    }

    /// The `each` node of the current item, if any.
    pub(super) fn current_each(&self) -> Option<&Each> {
        self.frames.last().map(|f| each_of(self.rules, f.node))
    }
}

fn each_of(rules: &RuleSet, n: usize) -> &Each {
    match &rules.nodes[n].kind {
        NodeKind::Each(e) => e,
        _ => unreachable!("a frame is made only for an `each` node"),
    }
}

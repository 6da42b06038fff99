//! Picking exactly N examples: questions de-duplicated, records covered in
//! turn (round-robin) so that every record is served before any gets a second
//! example, and what could not be produced reported with its reason.

use crate::data::example::Example;
use crate::data::text::collapse_spaces;
use std::collections::HashSet;

/// Collects examples, refusing a question already taken.
///
/// Two questions are the same when their text is the same once spaces are
/// collapsed: "qu'est-ce que gidaf ?" (an augmented casing variant) is kept
/// beside "Qu'est-ce que GIDAF ?" on purpose; `split` keeps such variants on
/// the same side of the train/test boundary.
#[derive(Default)]
pub struct Picker {
    seen: HashSet<String>,
    pub examples: Vec<Example>,
    /// Candidates refused because their question was already taken.
    pub duplicates: usize,
}

impl Picker {
    pub fn is_taken(&self, question: &str) -> bool {
        self.seen.contains(&collapse_spaces(question))
    }

    /// Adds `ex` unless its question is taken; returns whether it was added.
    pub fn add(&mut self, mut ex: Example) -> bool {
        ex.question = collapse_spaces(&ex.question);
        ex.answer = collapse_spaces(&ex.answer);
        if ex.question.is_empty() || ex.answer.is_empty() || !self.seen.insert(ex.question.clone()) {
            self.duplicates += 1;
            return false;
        }
        self.examples.push(ex);
        true
    }

    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }
}

/// Takes candidates round by round: the first candidate of every record (in
/// `order`), then the second of every record, ... until `count` are taken.
pub fn round_robin(picker: &mut Picker, per_record: Vec<Vec<Example>>, order: &[usize], count: usize) {
    let mut iters: Vec<std::vec::IntoIter<Example>> = per_record.into_iter().map(|v| v.into_iter()).collect();
    let mut live = true;
    while live && picker.len() < count {
        live = false;
        for &r in order {
            if picker.len() >= count {
                break;
            }
            // Skip this record's duplicates until one is taken or its list ends.
            for ex in iters[r].by_ref() {
                live = true;
                if picker.add(ex) {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ex(r: usize, q: &str) -> Example {
        Example { record: Some(r), intent: "x".into(), question: q.into(), answer: "a".into(), facts: vec![], prompt: None }
    }

    #[test]
    fn round_robin_covers_records_first_and_dedups() {
        let lists = vec![vec![ex(0, "a1"), ex(0, "a2"), ex(0, "a3")], vec![ex(1, "a1"), ex(1, "b2")], vec![ex(2, "c1")]];
        let mut p = Picker::default();
        round_robin(&mut p, lists, &[0, 1, 2], 4);
        let qs: Vec<&str> = p.examples.iter().map(|e| e.question.as_str()).collect();
        // Record 1's "a1" duplicates record 0's, so its next candidate is taken in the same turn.
        assert_eq!(qs, ["a1", "b2", "c1", "a2"]);
        assert_eq!(p.duplicates, 1);
    }
}

//! rule-based: for every field of every record, the kind's question phrasings
//! with the kind's canonical answer, a natural sentence built from the fact.

use crate::data::catalogue::{Catalogue, Field, Record};
use crate::data::example::{facts_in_answer, field_facts, Example};
use crate::data::templates::{lang, usable_answers, Ctx, Lang};
use crate::util::rng::Rng;

/// One example about `field` of record `r`, asked with `question_tpl` and
/// answered with `answer` (already rendered).
pub fn single_example(r: usize, rec: &Record, field: &Field, lang_: Lang, question_tpl: &str, answer: String) -> Option<Example> {
    let ctx = Ctx { lang: lang_, name: &rec.name, field: Some(field) };
    let question = ctx.render(question_tpl)?;
    let facts = facts_in_answer(&answer, field_facts(field));
    Some(Example { record: Some(r), intent: field.kind.intent().to_string(), question, answer, facts, prompt: None })
}

/// The rule-based candidates of one record, in the order they should be
/// taken: the first phrasing of every field (fields in a seeded random
/// order), then the second phrasing of every field, and so on.
pub fn record_candidates(r: usize, rec: &Record, lang_: Lang, rng: &mut Rng) -> Vec<Example> {
    let t = lang(lang_);
    let mut order: Vec<usize> = (0..rec.fields.len()).collect();
    rng.shuffle(&mut order);
    let max_phrasings = rec.fields.iter().map(|f| (t.kind)(f.kind).rule_questions.len()).max().unwrap_or(0);
    let mut out = Vec::new();
    for p in 0..max_phrasings {
        for &fi in &order {
            let field = &rec.fields[fi];
            let kt = (t.kind)(field.kind);
            let Some(q) = kt.rule_questions.get(p) else {
                continue;
            };
            let ctx = Ctx { lang: lang_, name: &rec.name, field: Some(field) };
            let Some(answer) = usable_answers(kt, &ctx).into_iter().next() else {
                continue;
            };
            out.extend(single_example(r, rec, field, lang_, q, answer));
        }
    }
    out
}

/// Every record's candidates, and the order in which records take turns.
pub fn all_candidates(cat: &Catalogue, lang_: Lang, rng: &mut Rng) -> (Vec<Vec<Example>>, Vec<usize>) {
    let lists = cat.records.iter().enumerate().map(|(i, rec)| record_candidates(i, rec, lang_, rng)).collect();
    let mut order: Vec<usize> = (0..cat.records.len()).collect();
    rng.shuffle(&mut order);
    (lists, order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::catalogue::Field;

    #[test]
    fn candidates_in_phrasing_rounds() {
        let rec = Record {
            name: "GIDAF".into(),
            fields: vec![Field::new("hebergement", "la DSI de Rennes", None), Field::new("statut", "en production", None)],
            source: "x".into(),
            line: 1,
        };
        let c = record_candidates(0, &rec, Lang::Fr, &mut Rng::new(1));
        assert_eq!(c.len(), 4);
        let mut first: Vec<&str> = c[..2].iter().map(|e| e.question.as_str()).collect();
        first.sort();
        assert_eq!(first, ["Quel est le statut de GIDAF ?", "Qui héberge GIDAF ?"]);
        let h = c.iter().find(|e| e.intent == "hosting").unwrap();
        assert_eq!(h.answer, "GIDAF est hébergé par la DSI de Rennes.");
        assert_eq!(h.facts, ["la DSI de Rennes"]);
        let s = c.iter().find(|e| e.intent == "status").unwrap();
        assert_eq!(s.answer, "GIDAF est en production.");
    }
}

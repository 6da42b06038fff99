//! The pieces of augmented generation (assembled in rounds by
//! [`crate::data::knowledge`]): a question about one fact in any phrasing of
//! three registers, with an answer wording that varies while the facts stay
//! exact and surface noise on the question (accents, case, typos,
//! punctuation); two-fact questions; questions about names absent from the
//! catalogue.

use crate::data::catalogue::{Catalogue, FieldKind, Record};
use crate::data::example::{facts_in_answer, field_facts, Example};
use crate::data::noise::perturb;
use crate::data::rule_based::single_example;
use crate::data::templates::{lang, usable_answers, Ctx, KindTemplates, Lang, LangTemplates};
use crate::data::text::{fold, upper_first, words};
use crate::util::rng::Rng;
use std::collections::HashSet;

/// A question about field `fi` of record `r`: any phrasing of its kind, any
/// usable answer wording, with noise on the question.
pub fn fact_question(r: usize, rec: &Record, fi: usize, lang_: Lang, rng: &mut Rng) -> Option<Example> {
    let t = lang(lang_);
    let field = &rec.fields[fi];
    let kt = (t.kind)(field.kind);
    let q_tpl = any_question(kt, rng);
    let ctx = Ctx { lang: lang_, name: &rec.name, field: Some(field) };
    let answers = usable_answers(kt, &ctx);
    if answers.is_empty() {
        return None;
    }
    let answer = answers[rng.below(answers.len() as u64) as usize].clone();
    let mut ex = single_example(r, rec, field, lang_, q_tpl, answer)?;
    ex.question = perturb(&ex.question, &rec.name, rng);
    Some(ex)
}

/// Any phrasing of a kind's question: the rule-based ones and the others alike.
fn any_question(kt: &KindTemplates, rng: &mut Rng) -> &'static str {
    let n_q = kt.rule_questions.len() + kt.more_questions.len();
    let qi = rng.below(n_q as u64) as usize;
    kt.rule_questions.get(qi).copied().unwrap_or_else(|| kt.more_questions[qi - kt.rule_questions.len()].text)
}

/// A question about two fields in a random frame: the first clause names the
/// entity, the second refers to it with a pronoun.
fn two_fact_question(
    t: &LangTemplates,
    (c1, k1): (&Ctx, &KindTemplates),
    (c2, k2): (&Ctx, &KindTemplates),
    rng: &mut Rng,
) -> Option<String> {
    let frame = &t.multi[rng.below(t.multi.len() as u64) as usize];
    Some(frame.text.replace("{C1}", &c1.render(k1.clause_named)?).replace("{C2}", &c2.render(k2.clause_pronoun)?))
}

/// "Peux-tu me dire qui héberge X et quel est son statut ?" → both answers.
pub fn multi(r: usize, rec: &Record, lang_: Lang, rng: &mut Rng) -> Option<Example> {
    let t = lang(lang_);
    let i = rng.below(rec.fields.len() as u64) as usize;
    let mut j = rng.below(rec.fields.len() as u64 - 1) as usize;
    if j >= i {
        j += 1;
    }
    let (f1, f2) = (&rec.fields[i], &rec.fields[j]);
    let (k1, k2) = ((t.kind)(f1.kind), (t.kind)(f2.kind));
    let c1 = Ctx { lang: lang_, name: &rec.name, field: Some(f1) };
    let c2 = Ctx { lang: lang_, name: &rec.name, field: Some(f2) };
    let question = two_fact_question(t, (&c1, k1), (&c2, k2), rng)?;
    let (a1, a2) = (usable_answers(k1, &c1), usable_answers(k2, &c2));
    if a1.is_empty() || a2.is_empty() {
        return None;
    }
    let a1 = &a1[rng.below(a1.len() as u64) as usize];
    let a2 = &a2[rng.below(a2.len() as u64) as usize];
    // URL answers end without a period (a URL must not swallow it); the next sentence still needs a boundary.
    let sep = if a1.ends_with('.') { " " } else { ". " };
    let answer = format!("{a1}{sep}{a2}");
    let facts = facts_in_answer(&answer, field_facts(f1).into_iter().chain(field_facts(f2)));
    let question = perturb(&upper_first(&question), &rec.name, rng);
    Some(Example { record: Some(r), intent: "multi".to_string(), question, answer, facts, prompt: None })
}

/// Names that look like the catalogue's (uppercase acronyms) but are not in it.
pub struct FakeNames {
    taken: HashSet<String>,
}

impl FakeNames {
    pub fn new(cat: &Catalogue) -> Self {
        let mut taken = HashSet::new();
        for r in &cat.records {
            taken.insert(fold(&r.name));
            taken.extend(words(&r.text()));
        }
        FakeNames { taken }
    }

    /// Takes `name` if no record uses it (as a name or a word) and it was not
    /// given before; returns whether it was free.
    pub fn claim(&mut self, name: &str) -> bool {
        self.taken.insert(fold(name))
    }

    /// A new pronounceable acronym (4 to 7 letters) that no record uses, as a
    /// name or as a word; `None` if none is found in a bounded number of tries.
    pub fn next(&mut self, rng: &mut Rng) -> Option<String> {
        const CONS: &[u8] = b"BCDFGKLMNPRSTVZ";
        const VOW: &[u8] = b"AEIOUY";
        for _ in 0..1000 {
            let len = 4 + rng.below(4) as usize;
            let start_vowel = rng.below(4) == 0;
            let name: String = (0..len)
                .map(|i| {
                    let set = if (i % 2 == 0) != start_vowel { CONS } else { VOW };
                    set[rng.below(set.len() as u64) as usize] as char
                })
                .collect();
            if self.taken.insert(fold(&name)) {
                return Some(name);
            }
        }
        None
    }
}

/// Kinds whose questions make sense about an unknown name.
const NEGATIVE_KINDS: &[FieldKind] = &[
    FieldKind::Description,
    FieldKind::Hosting,
    FieldKind::Owner,
    FieldKind::Users,
    FieldKind::Technologies,
    FieldKind::Status,
    FieldKind::ServiceDate,
    FieldKind::Url,
];

/// A question about an unknown application, answered with the refusal text
/// (`{X}` in it is replaced by the unknown name). One in four asks two things
/// at once ("qui gère X et où est-il hébergé ?"): a refusal must not give way
/// to a longer question.
pub fn negative(fake: &str, lang_: Lang, refusal: &str, rng: &mut Rng) -> Option<Example> {
    let t = lang(lang_);
    let pick = |rng: &mut Rng| (t.kind)(NEGATIVE_KINDS[rng.below(NEGATIVE_KINDS.len() as u64) as usize]);
    let ctx = Ctx { lang: lang_, name: fake, field: None };
    let question = if rng.below(4) == 0 {
        let (k1, k2) = (pick(rng), pick(rng));
        if std::ptr::eq(k1, k2) {
            return None;
        }
        upper_first(&two_fact_question(t, (&ctx, k1), (&ctx, k2), rng)?)
    } else {
        ctx.render(any_question(pick(rng), rng))?
    };
    Some(Example {
        record: None,
        intent: "negative".to_string(),
        question: perturb(&question, fake, rng),
        answer: refusal.replace("{X}", fake),
        facts: Vec::new(),
        prompt: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::catalogue::Field;

    fn rec() -> Record {
        Record {
            name: "GIDAF".into(),
            fields: vec![
                Field::new("hebergement", "la DSI de Rennes", None),
                Field::new("statut", "en production", None),
                Field::new("technologies", "Java, PostgreSQL", None),
            ],
            source: "x".into(),
            line: 1,
        }
    }

    #[test]
    fn questions_name_the_record_and_keep_facts() {
        let r = rec();
        let mut rng = Rng::new(5);
        let mut multis = 0;
        for i in 0..300 {
            let ex = if i % 5 == 0 { multi(0, &r, Lang::Fr, &mut rng) } else { fact_question(0, &r, i % 3, Lang::Fr, &mut rng) }.unwrap();
            assert!(fold(&ex.question).contains("gidaf"), "{}", ex.question);
            assert!(!ex.facts.is_empty(), "{ex:?}");
            for f in &ex.facts {
                assert!(fold(&ex.answer).contains(&fold(f)), "{ex:?}");
            }
            multis += usize::from(ex.intent == "multi");
        }
        assert_eq!(multis, 60);
    }

    #[test]
    fn fake_names_avoid_the_catalogue() {
        let cat = Catalogue { records: vec![rec()], ..Default::default() };
        let mut f = FakeNames::new(&cat);
        let mut rng = Rng::new(1);
        let names: Vec<String> = (0..100).map(|_| f.next(&mut rng).unwrap()).collect();
        let set: HashSet<&String> = names.iter().collect();
        assert_eq!(set.len(), 100);
        assert!(names.iter().all(|n| fold(n) != "gidaf" && n.len() >= 4));
        let ex = negative("ZORBA", Lang::Fr, "Je ne connais pas {X}.", &mut rng).unwrap();
        assert_eq!(ex.answer, "Je ne connais pas ZORBA.");
        assert!(fold(&ex.question).contains("zorba"));
    }
}

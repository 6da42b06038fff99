//! augmented: training data that teaches facts, not templates.
//!
//! A small model stores a fact so that it can be asked about in other words
//! only if it saw that fact many times, in many phrasings and orders
//! (Allen-Zhu & Li, "Physics of Language Models 3.1": knowledge augmentation),
//! and answers "which application does X?" only if it saw that direction too
//! (Berglund et al., "The Reversal Curse"). So the dataset is built in
//! *rounds*; one round holds, in a shuffled order:
//!
//! - for every record: [`FICHES_PER_ROUND`] "fiches" (every fact of the record
//!   in a random order and wording: the cheapest exposure per fact, about 16
//!   tokens against 60 for a question) and one two-fact question;
//! - for every other fact (a field of a record; the other half in the next
//!   round): one question with a random phrasing, a random answer wording and
//!   surface noise. Fiches store the facts, questions teach how they are asked
//!   (Allen-Zhu & Li: with augmented biographies, questions on half of the
//!   people were enough for the other half);
//! - reverse questions (value → application): by full name, description,
//!   URL, owner, hosting, technology and dependency, answered with every
//!   application that matches;
//! - refusals for fields a record does not have, and for names that are not
//!   in the catalogue: invented ones and near misses of real names (`X-RH`,
//!   `NEO-X`, `X2`...: two in three), a share `negative_ratio` of the round.
//!
//! Rounds repeat until the count is reached, so every fact gets the same
//! number of exposures whatever the length of its record (balanced per fact,
//! not per record). [`Exposures`] counts them, and generate-training says when
//! the count is too low for the catalogue.

use crate::data::augmented::{fact_question, multi, negative, FakeNames};
use crate::data::catalogue::{Catalogue, FieldKind, Record};
use crate::data::example::{field_facts, Example};
use crate::data::noise::perturb;
use crate::data::select::Picker;
use crate::data::templates::{lang, usable_answers, Ctx, Lang};
use crate::data::text::{fold, upper_first};
use crate::util::rng::Rng;
use std::collections::BTreeMap;

/// Fiches of each record in one round.
pub const FICHES_PER_ROUND: usize = 3;
/// A fact gets a question every this many rounds.
const QUESTION_EVERY: usize = 2;
/// Exposures of each fact planned over the whole training. About 30 are
/// needed for a 270M model to answer about a fact in other words (issue 12's
/// measurements); 24 is what fits about 20 minutes of CPU training for a
/// 30–40-record catalogue. Provisional: the recipe sweep on benches/quality
/// (dev set) is what should set it.
pub const TARGET_EXPOSURES: usize = 24;
/// The epochs `finetune` runs by default (`train::recipe::defaults::EPOCHS`),
/// which the automatic count plans for.
pub const PLANNED_EPOCHS: usize = crate::train::recipe::defaults::EPOCHS;
/// A reverse question is asked only when at most this many applications
/// match (fewer for list items such as technologies, which many records share).
const MAX_REVERSE_GROUP: usize = 5;
const MAX_REVERSE_ITEM_GROUP: usize = 3;

/// How often each fact of the catalogue appears in a dataset.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Exposures {
    pub facts: usize,
    pub min: usize,
    pub median: usize,
    pub max: usize,
}

impl Exposures {
    /// Epochs needed for every fact to reach [`TARGET_EXPOSURES`] in training
    /// (`None` when some fact never appears).
    pub fn epochs_needed(&self) -> Option<usize> {
        (self.min > 0).then(|| TARGET_EXPOSURES.div_ceil(self.min))
    }
}

/// The examples of round number `index`, shuffled.
pub fn round(
    cat: &Catalogue,
    lang_: Lang,
    refusal: &str,
    negative_ratio: f64,
    index: usize,
    names: &mut FakeNames,
    rng: &mut Rng,
) -> Vec<Example> {
    let mut out = Vec::new();
    let mut fact = 0usize;
    let common = common_kinds(cat);
    for (r, rec) in cat.records.iter().enumerate() {
        for fi in 0..rec.fields.len() {
            if (fact + index).is_multiple_of(QUESTION_EVERY) {
                out.extend(fact_question(r, rec, fi, lang_, rng));
            }
            fact += 1;
        }
        for _ in 0..FICHES_PER_ROUND {
            out.extend(fiche(r, rec, lang_, rng));
        }
        if rec.fields.len() >= 2 && (r + index).is_multiple_of(QUESTION_EVERY) {
            out.extend(multi(r, rec, lang_, rng));
        }
        out.extend(missing_fields(r, rec, &common, lang_, rng));
    }
    out.extend(reverse_questions(cat, lang_, index, rng));
    let n_neg = ((out.len() as f64 * negative_ratio / (1.0 - negative_ratio)).round() as usize).max(usize::from(negative_ratio > 0.0));
    for i in 0..n_neg {
        // Two in three are near misses of real names (the hard case: the
        // model must tell ESCALE-FIN from ESCALE), the rest invented names.
        let fake = if i % 3 != 2 { near_miss(cat, names, rng) } else { None }.or_else(|| names.next(rng));
        if let Some(ex) = fake.and_then(|f| negative(&f, lang_, refusal, rng)) {
            out.push(ex);
        }
    }
    rng.shuffle(&mut out);
    out
}

/// Rounds until `picker` holds `count` examples; stops early when a whole
/// round brings nothing new. Returns the number of rounds started.
pub fn fill(picker: &mut Picker, cat: &Catalogue, lang_: Lang, refusal: &str, negative_ratio: f64, count: usize, rng: &mut Rng) -> usize {
    let mut names = FakeNames::new(cat);
    let mut rounds = 0;
    let mut negatives = 0usize;
    while picker.len() < count {
        rounds += 1;
        let before = picker.len();
        for ex in round(cat, lang_, refusal, negative_ratio, rounds - 1, &mut names, rng) {
            if picker.len() >= count {
                break;
            }
            // Questions about real records repeat across rounds and are
            // de-duplicated, invented names never are: keep the share in check.
            let negative = ex.intent == "negative";
            if negative && negatives as f64 >= negative_ratio * (picker.len() + 1) as f64 {
                continue;
            }
            if picker.add(ex) && negative {
                negatives += 1;
            }
        }
        if picker.len() == before {
            break;
        }
    }
    rounds
}

/// Examples in one round (its size before de-duplication), to size a dataset.
pub fn round_size(cat: &Catalogue, lang_: Lang, negative_ratio: f64) -> usize {
    let mut rng = Rng::new(0);
    let mut names = FakeNames::new(cat);
    round(cat, lang_, "-", negative_ratio, 0, &mut names, &mut rng).len()
}

/// The count that gives every fact [`TARGET_EXPOSURES`] over [`PLANNED_EPOCHS`]
/// epochs of the training split (80 %).
pub fn auto_count(cat: &Catalogue, lang_: Lang, negative_ratio: f64) -> usize {
    // One round exposes each fact in FICHES_PER_ROUND fiches and, every
    // QUESTION_EVERY rounds, in a question (and some in two-fact questions).
    let per_round = FICHES_PER_ROUND as f64 + 1.0 / QUESTION_EVERY as f64;
    let rounds = TARGET_EXPOSURES as f64 / (per_round * PLANNED_EPOCHS as f64);
    let train_share = 0.8;
    (round_size(cat, lang_, negative_ratio) as f64 * rounds / train_share).ceil() as usize
}

/// Exposures of every (record, field) fact in `examples`: a fact is exposed
/// by an example about its record whose answer contains its key facts.
pub fn exposures(cat: &Catalogue, examples: &[Example]) -> Exposures {
    let mut counts: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for (r, rec) in cat.records.iter().enumerate() {
        for fi in 0..rec.fields.len() {
            counts.insert((r, fi), 0);
        }
    }
    for ex in examples {
        let Some(r) = ex.record else { continue };
        let answer = fold(&ex.answer);
        for (fi, f) in cat.records[r].fields.iter().enumerate() {
            let facts = field_facts(f);
            if !facts.is_empty() && facts.iter().all(|k| answer.contains(&fold(k))) {
                *counts.entry((r, fi)).or_default() += 1;
            }
        }
    }
    let mut v: Vec<usize> = counts.into_values().collect();
    v.sort_unstable();
    match v.as_slice() {
        [] => Exposures::default(),
        s => Exposures { facts: s.len(), min: s[0], median: s[s.len() / 2], max: s[s.len() - 1] },
    }
}

/// Every fact of the record, in a random order and random wordings.
pub fn fiche(r: usize, rec: &Record, lang_: Lang, rng: &mut Rng) -> Option<Example> {
    let t = lang(lang_);
    if rec.fields.is_empty() {
        return None;
    }
    let mut order: Vec<usize> = (0..rec.fields.len()).collect();
    rng.shuffle(&mut order);
    let mut sentences = Vec::new();
    let mut facts = Vec::new();
    for fi in order {
        let f = &rec.fields[fi];
        let ctx = Ctx { lang: lang_, name: &rec.name, field: Some(f) };
        let answers = usable_answers((t.kind)(f.kind), &ctx);
        if answers.is_empty() {
            continue;
        }
        let a = answers[rng.below(answers.len() as u64) as usize].clone();
        // URL answers end without a period; between sentences one is needed (as in two-fact answers).
        sentences.push(if a.ends_with(['.', '!', '?']) { a } else { format!("{a}.") });
        facts.extend(field_facts(f));
    }
    let q = t.fiche_questions[rng.below(t.fiche_questions.len() as u64) as usize];
    let question = perturb(&upper_first(&Ctx { lang: lang_, name: &rec.name, field: None }.render(q)?), &rec.name, rng);
    let answer = sentences.join(" ");
    let facts = crate::data::example::facts_in_answer(&answer, facts);
    Some(Example { record: Some(r), intent: "fiche".to_string(), question, answer, facts, prompt: None })
}

/// Kinds that most records have: a record without one of them gets a
/// "the catalogue does not say" answer instead of an invented value.
fn common_kinds(cat: &Catalogue) -> Vec<FieldKind> {
    let mut n: BTreeMap<String, (FieldKind, usize)> = BTreeMap::new();
    for rec in &cat.records {
        let mut seen = std::collections::HashSet::new();
        for f in &rec.fields {
            if f.kind != FieldKind::Other && seen.insert(f.kind) {
                n.entry(format!("{:?}", f.kind)).or_insert((f.kind, 0)).1 += 1;
            }
        }
    }
    n.into_values().filter(|(_, c)| *c * 2 > cat.records.len()).map(|(k, _)| k).collect()
}

/// Questions about fields that the record does not have, answered with "the
/// catalogue does not say" (never with an invented value).
/// `common` is [`common_kinds`] of the catalogue, computed once per round.
fn missing_fields(r: usize, rec: &Record, common: &[FieldKind], lang_: Lang, rng: &mut Rng) -> Vec<Example> {
    let t = lang(lang_);
    let mut out = Vec::new();
    for &kind in common {
        if rec.fields.iter().any(|f| f.kind == kind) {
            continue;
        }
        let kt = (t.kind)(kind);
        let q = kt.rule_questions[rng.below(kt.rule_questions.len() as u64) as usize];
        let ctx = Ctx { lang: lang_, name: &rec.name, field: None };
        let Some(question) = ctx.render(q) else {
            continue;
        };
        let answer = t.missing_answer.replace("{M}", (t.missing_what)(kind)).replace("{X}", &rec.name);
        out.push(Example {
            record: Some(r),
            intent: "missing".to_string(),
            question: perturb(&question, &rec.name, rng),
            answer,
            facts: Vec::new(),
            prompt: None,
        });
    }
    out
}

/// A name close to a real one that is not in the catalogue: a suffix, a
/// prefix, a digit, one letter changed.
pub fn near_miss(cat: &Catalogue, names: &mut FakeNames, rng: &mut Rng) -> Option<String> {
    if cat.records.is_empty() {
        return None;
    }
    const SUFFIXES: &[&str] = &["-RH", "-PRO", "-MOBILE", "2", "-NG", "-LAB", "-FIN", "-WEB", "S", "-V2", "-PLUS"];
    const PREFIXES: &[&str] = &["NEO-", "E-", "MON-", "SUPER-"];
    for _ in 0..50 {
        let real = &cat.records[rng.below(cat.records.len() as u64) as usize].name;
        let upper = real.to_uppercase();
        let candidate = match rng.below(4) {
            0 | 1 => format!("{upper}{}", SUFFIXES[rng.below(SUFFIXES.len() as u64) as usize]),
            2 => format!("{}{upper}", PREFIXES[rng.below(PREFIXES.len() as u64) as usize]),
            _ => {
                // One letter changed (not the first): SICLE → SICLA.
                let chars: Vec<char> = upper.chars().collect();
                let letters: Vec<usize> = (1..chars.len()).filter(|&i| chars[i].is_ascii_alphabetic()).collect();
                if letters.is_empty() {
                    continue;
                }
                let i = letters[rng.below(letters.len() as u64) as usize];
                let mut c = chars.clone();
                c[i] = (b'A' + rng.below(26) as u8) as char;
                c.into_iter().collect()
            }
        };
        if names.claim(&candidate) {
            return Some(candidate);
        }
    }
    None
}

/// A value → the applications that have it (folded value as the key).
fn groups(cat: &Catalogue, kind: FieldKind, items: bool) -> BTreeMap<String, (String, Vec<&Record>)> {
    let mut g: BTreeMap<String, (String, Vec<&Record>)> = BTreeMap::new();
    for rec in &cat.records {
        for f in rec.fields.iter().filter(|f| f.kind == kind) {
            let values: Vec<String> = if items && !f.items.is_empty() { f.items.clone() } else { vec![reverse_value(kind, &f.value)] };
            for v in values {
                let e = g.entry(fold(&v)).or_insert_with(|| (v.clone(), Vec::new()));
                if !e.1.iter().any(|r| r.name == rec.name) {
                    e.1.push(rec);
                }
            }
        }
    }
    let max = if items { MAX_REVERSE_ITEM_GROUP } else { MAX_REVERSE_GROUP };
    g.retain(|k, (_, recs)| !k.is_empty() && recs.len() <= max);
    g
}

/// The part of a value a person asks by: an owner's name without the service
/// in brackets ("Claire Morvan (bureau...)" → "Claire Morvan").
fn reverse_value(kind: FieldKind, value: &str) -> String {
    let v = crate::data::text::strip_final_period(value.trim());
    match kind {
        FieldKind::Owner => v.split(" (").next().unwrap_or(v).trim().to_string(),
        _ => v.to_string(),
    }
}

/// Reverse questions of round `index`: value → applications, for every kind
/// that identifies applications, every other group (the rest next round).
fn reverse_questions(cat: &Catalogue, lang_: Lang, index: usize, rng: &mut Rng) -> Vec<Example> {
    let t = lang(lang_);
    let mut out = Vec::new();
    let mut group = 0usize;
    for rev in t.reverse {
        for (value, recs) in groups(cat, rev.kind, rev.items).into_values() {
            group += 1;
            if !(group + index).is_multiple_of(QUESTION_EVERY) {
                continue;
            }
            if rev.single && recs.len() != 1 {
                continue;
            }
            let names: Vec<String> = recs.iter().map(|r| r.name.clone()).collect();
            let list = join_list(&names, t.and_word);
            let q = rev.questions[rng.below(rev.questions.len() as u64) as usize];
            let a = rev.answers[rng.below(rev.answers.len() as u64) as usize];
            let (desc, gist) = match rev.kind {
                FieldKind::Description => (crate::data::templates::describe(lang_, &value), crate::data::templates::gist(lang_, &value)),
                _ => (None, None),
            };
            let fill = |s: &str| -> Option<String> {
                if (s.contains("{DESC}") && desc.is_none()) || (s.contains("{GIST}") && gist.is_none()) {
                    return None;
                }
                Some(
                    s.replace("{V}", &value)
                        .replace("{DESC}", desc.as_deref().unwrap_or(""))
                        .replace("{GIST}", gist.as_deref().unwrap_or(""))
                        .replace("{APPS}", &list),
                )
            };
            let (Some(question), Some(answer)) = (fill(q), fill(a)) else {
                continue;
            };
            // The record is the first match: a single-record question's test keywords are its name.
            out.push(Example {
                record: (recs.len() == 1).then(|| cat.records.iter().position(|r| r.name == names[0])).flatten(),
                intent: format!("reverse-{}", rev.kind.intent()),
                // The value is what identifies the answer: noise never misspells it.
                question: perturb(&upper_first(&question), &value, rng),
                answer: upper_first(&answer),
                facts: names,
                prompt: None,
            });
        }
    }
    out
}

fn join_list(items: &[String], and_word: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and_word} {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::catalogue::Field;

    fn cat() -> Catalogue {
        let rec = |name: &str, host: &str, owner: &str, url: Option<&str>| {
            let mut fields = vec![
                Field::new("description", &format!("Application de gestion des dossiers de {name}."), None),
                Field::new("hébergement", host, None),
                Field::new("responsable", owner, None),
                Field::new("technologies", "Java, PostgreSQL", Some(vec!["Java".into(), "PostgreSQL".into()])),
                Field::new("statut", "en production", None),
            ];
            if let Some(u) = url {
                fields.push(Field::new("url", u, None));
            }
            Record { name: name.into(), fields, source: "c.jsonl".into(), line: 1 }
        };
        Catalogue {
            records: vec![
                rec("GIDAF", "OVHcloud, région Gravelines", "Claire Morvan (bureau des finances)", Some("https://gidaf.example")),
                rec("SIRVAL", "DSI, datacenter de Rennes", "Yann Le Goff (mission sécurité)", Some("https://sirval.example")),
                rec("PLUME", "DSI, datacenter de Rennes", "Claire Morvan (bureau des finances)", None),
            ],
            ..Default::default()
        }
    }

    fn dataset(count: usize, seed: u64) -> Vec<Example> {
        let c = cat();
        let mut picker = Picker::default();
        fill(&mut picker, &c, Lang::Fr, "Je ne connais pas cette application.", 0.15, count, &mut Rng::new(seed));
        picker.examples
    }

    #[test]
    fn facts_are_balanced_per_fact_not_per_record() {
        let c = cat();
        let ex = dataset(600, 1);
        let e = exposures(&c, &ex);
        assert_eq!(e.facts, 17);
        // Every fact is seen about as often as every other: the long
        // description does not crowd out the hosting or the owner.
        assert!(e.min >= 10, "{e:?}");
        assert!(e.max <= 2 * e.min + 4, "{e:?}");
        assert_eq!(e.epochs_needed(), Some(TARGET_EXPOSURES.div_ceil(e.min)));
    }

    #[test]
    fn reverse_questions_name_every_matching_application() {
        let ex = dataset(600, 2);
        let by_owner: Vec<&Example> = ex.iter().filter(|e| e.intent == "reverse-owner" && e.question.contains("Claire Morvan")).collect();
        assert!(!by_owner.is_empty());
        for e in by_owner {
            assert!(e.answer.contains("GIDAF") && e.answer.contains("PLUME"), "{e:?}");
            assert_eq!(e.record, None);
        }
        let by_url: Vec<&Example> = ex.iter().filter(|e| e.intent == "reverse-url").collect();
        assert!(by_url.iter().any(|e| e.question.contains("https://sirval.example") && e.answer.contains("SIRVAL") && e.record == Some(1)));
        assert!(ex.iter().any(|e| e.intent == "reverse-description" && e.facts == ["GIDAF"]));
        assert!(ex.iter().any(|e| e.kind() == "paraphrase"));
    }

    #[test]
    fn refusals_cover_unknown_names_near_misses_and_missing_fields() {
        let ex = dataset(600, 3);
        let neg: Vec<&Example> = ex.iter().filter(|e| e.intent == "negative").collect();
        let share = neg.len() as f64 / ex.len() as f64;
        assert!((0.1..0.2).contains(&share), "{share}");
        let real = ["gidaf", "sirval", "plume"];
        let near = neg.iter().filter(|e| real.iter().any(|r| fold(&e.question).contains(r))).count();
        // Half are near misses until a three-record catalogue runs out of them.
        assert!(near * 4 >= neg.len(), "{near} near misses of {}", neg.len());
        for e in &neg {
            assert_eq!(e.answer, "Je ne connais pas cette application.");
            // No negative question is about a real name.
            assert!(
                !real.iter().any(|r| fold(&e.question).split(|c: char| !c.is_alphanumeric() && c != '-').any(|w| w == *r)),
                "{}",
                e.question
            );
        }
        // PLUME has no URL: asked about it, the answer says the catalogue does not say
        // (that the judge reads it as a refusal: tests/generate_training_grounding.rs).
        let missing: Vec<&Example> = ex.iter().filter(|e| e.intent == "missing").collect();
        assert!(!missing.is_empty());
        assert!(missing.iter().all(|e| e.record == Some(2) && e.answer.contains("PLUME")), "{missing:?}");
    }

    #[test]
    fn fiches_hold_every_fact_in_varied_orders() {
        let c = cat();
        let ex = dataset(600, 4);
        let fiches: Vec<&Example> = ex.iter().filter(|e| e.intent == "fiche" && e.record == Some(0)).collect();
        assert!(fiches.len() >= 4);
        for f in &fiches {
            for field in &c.records[0].fields {
                for k in field_facts(field) {
                    assert!(fold(&f.answer).contains(&fold(&k)), "{k} missing in {}", f.answer);
                }
            }
        }
        let firsts: std::collections::HashSet<&str> = fiches.iter().map(|f| f.answer.split(". ").next().unwrap()).collect();
        assert!(firsts.len() > 1, "fiches all start the same way");
    }

    #[test]
    fn same_seed_same_dataset() {
        assert_eq!(dataset(300, 9), dataset(300, 9));
        assert_ne!(dataset(300, 9), dataset(300, 10));
    }
}

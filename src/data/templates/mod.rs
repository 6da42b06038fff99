//! Question and answer templates per kind of field and language, and their
//! rendering. Placeholders: `{X}` the entity's name, `{V}` the value, `{v}` the
//! value with a lowercase first letter, `{L}`/`{Lc}` the field label
//! (lowercase / capitalised), `{LIST}` the items joined naturally ("A, B et C"),
//! `{DATE}`/`{SINCE}` the value with its preposition ("en 2019", "depuis le
//! 3 mars 2019"), `{DESC}` a description with its article ("une application de...").
//! A template whose placeholder cannot be filled for a value is not used for it.

mod en;
mod fr;

use crate::data::catalogue::{Field, FieldKind};
use crate::data::text::{fold, lower_first, strip_final_period, upper_first, words};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Fr,
    En,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Register {
    Neutral,
    Formal,
    Informal,
}

/// A condition on the value for an answer template to read naturally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Req {
    Any,
    /// The value starts with an article ("la DSI", "les agents").
    Article,
    /// The value is a state with a preposition ("en production", "in production").
    StatePrefix,
    /// The value says "none" ("aucune", "none").
    NoneValue,
    /// The value is not a "none".
    SomeValue,
    /// The value is a sentence about the entity ("GIDAF gère les dossiers...").
    StartsWithName,
}

pub struct Question {
    pub text: &'static str,
    pub register: Register,
}

pub struct Answer {
    pub text: &'static str,
    pub req: Req,
}

/// Everything needed to ask about, and answer about, one kind of field.
pub struct KindTemplates {
    /// The rule-based phrasings; the first is the canonical one.
    pub rule_questions: &'static [&'static str],
    /// Extra phrasings used by the augmented method.
    pub more_questions: &'static [Question],
    /// Answer wordings; the first usable one is the canonical answer.
    pub answers: &'static [Answer],
    /// Indirect clauses for multi-fact questions, naming the entity and with a pronoun.
    pub clause_named: &'static str,
    pub clause_pronoun: &'static str,
}

/// Reverse questions of one kind of field: the value is given, the
/// applications that have it are the answer. Placeholders: `{V}` the value
/// (an owner without the service in brackets), `{DESC}` a description with its
/// article, `{GIST}` the description's first clause without its head noun
/// ([`gist`]: "de création des ordres de mission"), `{APPS}` the matching
/// applications ("A, B et C").
pub struct ReverseTemplates {
    pub kind: FieldKind,
    /// Group by each item of a list field (technologies, dependencies) rather than the whole value.
    pub items: bool,
    /// Only ask when exactly one application matches (the wording is singular).
    pub single: bool,
    pub questions: &'static [&'static str],
    pub answers: &'static [&'static str],
}

/// One language's templates and fixed texts.
pub struct LangTemplates {
    pub kind: fn(FieldKind) -> &'static KindTemplates,
    /// Multi-fact question frames with `{C1}` (names the entity) and `{C2}` (pronoun).
    pub multi: &'static [Question],
    pub refusal: &'static str,
    /// System prompt with `{NAME}` for the catalogue's name, and without.
    pub system_named: &'static str,
    pub system_generic: &'static str,
    /// The word joining the last two items of a list ("et", "and").
    pub and_word: &'static str,
    pub fem_nouns: &'static [&'static str],
    pub masc_nouns: &'static [&'static str],
    pub articles: &'static [&'static str],
    pub months: &'static [&'static str],
    pub none_words: &'static [&'static str],
    pub state_prefixes: &'static [&'static str],
    /// Questions asking for a record's whole fiche (`{X}`).
    pub fiche_questions: &'static [&'static str],
    /// The answer about a field the record does not have: `{M}` what is
    /// missing ([`LangTemplates::missing_what`]), `{X}` the name.
    pub missing_answer: &'static str,
    pub missing_what: fn(FieldKind) -> &'static str,
    pub reverse: &'static [ReverseTemplates],
}

pub fn lang(l: Lang) -> &'static LangTemplates {
    match l {
        Lang::Fr => &fr::FR,
        Lang::En => &en::EN,
    }
}

/// The default system prompt, adapted to the catalogue's name when known.
pub fn system_prompt(l: Lang, catalogue_name: Option<&str>) -> String {
    let t = lang(l);
    match catalogue_name {
        Some(n) if !n.trim().is_empty() => t.system_named.replace("{NAME}", n.trim()),
        _ => t.system_generic.to_string(),
    }
}

/// What a template is filled with.
pub struct Ctx<'a> {
    pub lang: Lang,
    pub name: &'a str,
    pub field: Option<&'a Field>,
}

impl Ctx<'_> {
    fn value(&self) -> &str {
        self.field.map_or("", |f| strip_final_period(&f.value))
    }

    fn first_word(&self) -> String {
        words(self.value()).into_iter().next().unwrap_or_default()
    }

    pub fn satisfies(&self, req: Req) -> bool {
        let t = lang(self.lang);
        let folded = fold(self.value());
        let is_none = t.none_words.contains(&folded.trim_matches(|c: char| !c.is_alphanumeric() && c != '/' && c != '-'));
        match req {
            Req::Any => true,
            Req::Article => t.articles.contains(&self.first_word().as_str()),
            Req::StatePrefix => t.state_prefixes.iter().any(|p| folded.starts_with(p)),
            Req::NoneValue => is_none,
            Req::SomeValue => !is_none,
            Req::StartsWithName => {
                let (v, n) = (words(self.value()), words(self.name));
                !n.is_empty() && v.len() > n.len() && v[..n.len()] == n[..]
            }
        }
    }

    fn list(&self) -> String {
        let items: Vec<&str> = match self.field {
            Some(f) if !f.items.is_empty() => f.items.iter().map(|i| strip_final_period(i)).collect(),
            _ => vec![self.value()],
        };
        match items.as_slice() {
            [] => String::new(),
            [one] => one.to_string(),
            [init @ .., last] => format!("{} {} {}", init.join(", "), lang(self.lang).and_word, last),
        }
    }

    /// True for a year ("2019") or a month and year ("mars 2019").
    fn is_coarse_date(&self) -> bool {
        let v = self.value().trim();
        let year_only = v.len() == 4 && v.chars().all(|c| c.is_ascii_digit());
        year_only || lang(self.lang).months.contains(&self.first_word().as_str())
    }

    fn date(&self, since: bool) -> String {
        let v = self.value();
        match (self.lang, since, self.is_coarse_date()) {
            (Lang::Fr, false, true) => format!("en {v}"),
            (Lang::Fr, false, false) => format!("le {v}"),
            (Lang::Fr, true, true) => format!("depuis {v}"),
            (Lang::Fr, true, false) => format!("depuis le {v}"),
            (Lang::En, false, true) => format!("in {v}"),
            (Lang::En, false, false) => format!("on {v}"),
            (Lang::En, true, _) => format!("since {v}"),
        }
    }

    fn desc(&self) -> Option<String> {
        describe(self.lang, self.value())
    }

    /// Fills `template`; `None` when a placeholder has no natural value here.
    pub fn render(&self, template: &str) -> Option<String> {
        let mut out = String::with_capacity(template.len() + 64);
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..].find('}')? + open;
            let key = &rest[open + 1..close];
            let label = self.field.map_or(String::new(), |f| f.label.clone());
            let piece = match key {
                "X" => self.name.to_string(),
                "V" => self.value().to_string(),
                "v" => lower_first(self.value()),
                "L" => lower_first(&label),
                "Lc" => upper_first(&label),
                "LIST" => self.list(),
                "DATE" => self.date(false),
                "SINCE" => self.date(true),
                "DESC" => self.desc()?,
                _ => return None,
            };
            out.push_str(&piece);
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        Some(out)
    }
}

/// "Application de gestion..." → "une application de gestion..."; `None`
/// when the value does not start with a known noun or an article.
pub fn describe(l: Lang, value: &str) -> Option<String> {
    let t = lang(l);
    let value = strip_final_period(value);
    let first = words(value).into_iter().next().unwrap_or_default();
    let v = lower_first(value);
    if t.articles.contains(&first.as_str()) {
        return Some(v);
    }
    let fem = t.fem_nouns.contains(&first.as_str());
    if !fem && !t.masc_nouns.contains(&first.as_str()) {
        return None;
    }
    let article = match l {
        Lang::Fr if fem => "une",
        Lang::Fr => "un",
        Lang::En if first.starts_with(['a', 'e', 'i', 'o', 'u']) => "an",
        Lang::En => "a",
    };
    Some(format!("{article} {v}"))
}

/// What a person remembers of a description and asks by: its first clause
/// after the head noun, with its preposition ("Portail de création des
/// ordres de mission et de réservation des trains pour les déplacements" →
/// "de création des ordres de mission et de réservation des trains"), so
/// that "Quel est l'outil {GIST} ?" reads naturally. French only (`None`
/// otherwise, or when the description does not start "<noun> de ...").
pub fn gist(l: Lang, value: &str) -> Option<String> {
    if l != Lang::Fr {
        return None;
    }
    let t = lang(l);
    let value = strip_final_period(value.trim());
    let (head, rest) = value.split_once(' ')?;
    let head = words(head).into_iter().next()?;
    if !t.fem_nouns.contains(&head.as_str()) && !t.masc_nouns.contains(&head.as_str()) {
        return None;
    }
    if !["de ", "d'", "d’", "des ", "du "].iter().any(|p| rest.starts_with(p)) {
        return None;
    }
    // The first clause: up to a comma, a bracket or a purpose ("pour", "afin").
    let mut end = rest.len();
    for cut in [",", " (", " pour ", " afin ", " qui ", ";", " : "] {
        if let Some(i) = rest.find(cut) {
            end = end.min(i);
        }
    }
    let clause: Vec<&str> = rest[..end].split_whitespace().take(12).collect();
    (clause.len() >= 3).then(|| clause.join(" "))
}

/// The answer wordings usable for this field, in template order.
pub fn usable_answers(t: &KindTemplates, ctx: &Ctx) -> Vec<String> {
    t.answers.iter().filter(|a| ctx.satisfies(a.req)).filter_map(|a| ctx.render(a.text)).collect()
}

/// Every word that any template of either language may put in a question or an
/// answer (placeholders excluded): text that is not a fact. The grounding check
/// accepts these words in LLM answers, and the tests use them to prove that
/// rule-based answers contain nothing but template words and record facts.
pub fn template_vocabulary() -> &'static std::collections::HashSet<String> {
    static VOCAB: std::sync::OnceLock<std::collections::HashSet<String>> = std::sync::OnceLock::new();
    VOCAB.get_or_init(|| {
        let mut v = std::collections::HashSet::new();
        for l in [Lang::Fr, Lang::En] {
            let t = lang(l);
            let mut add = |s: &str| {
                let no_placeholders: String = strip_placeholders(s);
                v.extend(words(&no_placeholders));
            };
            for k in ALL_KINDS {
                let kt = (t.kind)(*k);
                kt.rule_questions.iter().for_each(|q| add(q));
                kt.more_questions.iter().for_each(|q| add(q.text));
                kt.answers.iter().for_each(|a| add(a.text));
                add(kt.clause_named);
                add(kt.clause_pronoun);
            }
            t.multi.iter().for_each(|q| add(q.text));
            t.fiche_questions.iter().for_each(|q| add(q));
            add(t.missing_answer);
            for k in ALL_KINDS {
                add((t.missing_what)(*k));
            }
            for r in t.reverse {
                r.questions.iter().chain(r.answers).for_each(|q| add(q));
            }
            add(t.and_word);
            // Articles and prepositions added by {DESC}, {GIST}, {DATE} and {SINCE}.
            for w in ["un", "une", "a", "an", "le", "en", "depuis", "in", "on", "since", "de", "d", "des", "du"] {
                v.insert(w.to_string());
            }
        }
        v
    })
}

fn strip_placeholders(s: &str) -> String {
    let mut out = String::new();
    let mut depth = 0;
    for c in s.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

pub const ALL_KINDS: &[FieldKind] = &[
    FieldKind::FullName,
    FieldKind::Description,
    FieldKind::Hosting,
    FieldKind::Owner,
    FieldKind::Users,
    FieldKind::Technologies,
    FieldKind::Status,
    FieldKind::ServiceDate,
    FieldKind::Dependencies,
    FieldKind::Url,
    FieldKind::Version,
    FieldKind::Organisation,
    FieldKind::Other,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn field(k: &str, v: &str) -> Field {
        Field::new(k, v, None)
    }

    #[test]
    fn every_template_renders_with_a_plain_value() {
        for l in [Lang::Fr, Lang::En] {
            for k in ALL_KINDS {
                let t = (lang(l).kind)(*k);
                assert!(!t.rule_questions.is_empty() && !t.answers.is_empty(), "{l:?} {k:?}");
                let f = field("champ", "valeur");
                let ctx = Ctx { lang: l, name: "GIDAF", field: Some(&f) };
                for q in t.rule_questions.iter().copied().chain(t.more_questions.iter().map(|q| q.text)) {
                    let r = ctx.render(q).unwrap_or_else(|| panic!("{l:?} {k:?} {q}"));
                    assert!(r.contains("GIDAF"), "a question must name the entity: {r}");
                }
                assert!(!usable_answers(t, &ctx).is_empty(), "{l:?} {k:?}: no answer usable for a plain value");
            }
        }
    }

    #[test]
    fn french_forms() {
        let f = field("description", "Application de gestion des dossiers.");
        let ctx = Ctx { lang: Lang::Fr, name: "GIDAF", field: Some(&f) };
        assert_eq!(ctx.render("{X} est {DESC}.").unwrap(), "GIDAF est une application de gestion des dossiers.");
        let f = field("technologies", "Java, PostgreSQL, Angular");
        let ctx = Ctx { lang: Lang::Fr, name: "GIDAF", field: Some(&f) };
        assert_eq!(ctx.render("{LIST}").unwrap(), "Java, PostgreSQL et Angular");
        let f = field("date_mise_en_service", "2019");
        let ctx = Ctx { lang: Lang::Fr, name: "GIDAF", field: Some(&f) };
        assert_eq!(ctx.render("{DATE} / {SINCE}").unwrap(), "en 2019 / depuis 2019");
        let f = field("date_mise_en_service", "15 mars 2019");
        let ctx = Ctx { lang: Lang::Fr, name: "GIDAF", field: Some(&f) };
        assert_eq!(ctx.render("{DATE}").unwrap(), "le 15 mars 2019");
        let f = field("statut", "En production");
        assert!(Ctx { lang: Lang::Fr, name: "G", field: Some(&f) }.satisfies(Req::StatePrefix));
        let f = field("dependances", "Aucune");
        assert!(Ctx { lang: Lang::Fr, name: "G", field: Some(&f) }.satisfies(Req::NoneValue));
        assert_eq!(system_prompt(Lang::Fr, Some("MYGUSI")), "Tu es un assistant qui répond aux questions sur les applications MYGUSI.");
    }

    #[test]
    fn gist_is_the_first_clause_with_its_preposition() {
        let g = |v: &str| gist(Lang::Fr, v);
        assert_eq!(
            g("Portail de création des ordres de mission et de réservation des trains pour les déplacements professionnels.").as_deref(),
            Some("de création des ordres de mission et de réservation des trains")
        );
        assert_eq!(g("Application d'instruction des aides, payées par la Région.").as_deref(), Some("d'instruction des aides"));
        assert_eq!(g("Outil de suivi (version 2) des chantiers"), None);
        assert_eq!(g("Gère les congés des agents."), None, "no head noun");
        assert_eq!(gist(Lang::En, "Portal for mission orders"), None);
    }
}

//! Recommendations drawn from the measured numbers and the original tool's
//! criteria ("Comparaison RAG vs Fine-Tuning" in FINETUNING_WORKFLOW.md):
//! answer quality, latency, tokens consumed, traceability (sources), data
//! freshness (re-index vs re-train), GPU need, and the hybrid approach.
//! Every sentence quotes the numbers it rests on; a criterion whose numbers
//! are missing says so instead of guessing.

use crate::eval::compare::metrics::{Group, Status, Unit};
use crate::eval::compare::{Comparison, Lang, SystemInfo};
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recommendation {
    /// quality, latency, tokens, traceability, data_freshness, gpu, hybrid, overall.
    pub criterion: String,
    /// The label of the system this criterion favours, if any.
    pub favours: Option<String>,
    pub text: String,
}

fn rec(criterion: &str, favours: Option<&str>, text: String) -> Recommendation {
    Recommendation { criterion: criterion.to_string(), favours: favours.map(str::to_string), text }
}

/// A system that retrieves records for its prompt.
fn retrieves(s: &SystemInfo) -> bool {
    s.retrieval_top_k.is_some() || s.label == "rag" || s.label == "hybrid"
}

/// A system that needed a training run.
fn trained(s: &SystemInfo) -> bool {
    s.adapter.is_some() || s.label == "finetuned" || s.label == "hybrid"
}

struct Ctx<'a> {
    c: &'a Comparison,
    lang: Lang,
}

impl Ctx<'_> {
    fn t<'b>(&self, fr: &'b str, en: &'b str) -> &'b str {
        self.lang.pick(fr, en)
    }
    fn name(&self, label: &str) -> String {
        self.c.name_of(label)
    }
    fn value(&self, key: &str, label: &str) -> Option<f64> {
        self.c.metric(key)?.values.iter().find(|v| v.system == label)?.value
    }
    /// "RAG 0.820, Fine-tuné 0.410" for a metric, missing values as "—".
    fn values_line(&self, key: &str) -> String {
        let Some(m) = self.c.metric(key) else { return String::new() };
        m.values.iter().map(|v| format!("{} {}", self.name(&v.system), v.display)).collect::<Vec<_>>().join(", ")
    }
    /// Sole wins per system among the quality metrics, and how many were decided.
    fn quality_wins(&self) -> (Vec<(String, usize)>, usize) {
        let quality: Vec<_> = self.c.metrics.iter().filter(|m| m.group == Group::Quality && m.status != Status::NotCompared).collect();
        let wins = self
            .c
            .systems
            .iter()
            .map(|s| (s.label.clone(), quality.iter().filter(|m| m.status == Status::Winner && m.winners == [s.label.clone()]).count()))
            .collect();
        (wins, quality.len())
    }
    /// The system with strictly most quality wins.
    fn quality_leader(&self) -> Option<String> {
        let (wins, _) = self.quality_wins();
        let best = wins.iter().map(|(_, w)| *w).max()?;
        let top: Vec<&(String, usize)> = wins.iter().filter(|(_, w)| *w == best).collect();
        (best > 0 && top.len() == 1).then(|| top[0].0.clone())
    }
    /// Best and worst systems of a decided metric, with their values.
    fn extremes(&self, key: &str) -> Option<((String, f64), (String, f64))> {
        let m = self.c.metric(key)?;
        if m.status != Status::Winner {
            return None;
        }
        let best_label = m.winners.first()?.clone();
        let best = m.values.iter().find(|v| v.system == best_label)?.value?;
        let lower_better = matches!(m.direction, crate::eval::compare::metrics::Direction::LowerIsBetter);
        let worst =
            m.values.iter().filter_map(|v| v.value.map(|x| (v.system.clone(), x))).fold(
                None::<(String, f64)>,
                |acc, (l, x)| match acc {
                    Some((_, y)) if (lower_better && x <= y) || (!lower_better && x >= y) => acc,
                    _ => Some((l, x)),
                },
            )?;
        Some(((best_label, best), worst))
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (a > 0.0 && b > 0.0).then(|| if a > b { a / b } else { b / a })
}

pub fn recommend(c: &Comparison) -> Vec<Recommendation> {
    let x = Ctx { c, lang: c.lang };
    let mut out = vec![quality(&x)];
    out.extend(echoes(&x));
    out.extend([latency(&x), tokens(&x), traceability(&x), freshness(&x), gpu(&x)]);
    if c.systems.iter().any(|s| s.label == "hybrid") {
        out.push(hybrid(&x));
    }
    out.push(overall(&x));
    out
}

fn quality(x: &Ctx) -> Recommendation {
    let (wins, decided) = x.quality_wins();
    if decided == 0 {
        return rec(
            "quality",
            None,
            x.t(
                "Non comparable — les fichiers n'ont aucune métrique de qualité mesurée en commun.",
                "Not comparable — the files share no measured quality metric.",
            )
            .to_string(),
        );
    }
    let detail_key =
        if x.c.metric("mean_keyword_recall").is_some_and(|m| m.status != Status::NotCompared) { "mean_keyword_recall" } else { "mean_f1" };
    let detail_name = x.c.metric(detail_key).map(|m| m.name.to_lowercase()).unwrap_or_default();
    let tally = wins.iter().map(|(l, w)| format!("{} {w}", x.name(l))).collect::<Vec<_>>().join(", ");
    match x.quality_leader() {
        Some(leader) => {
            let w = wins.iter().find(|(l, _)| *l == leader).map_or(0, |(_, w)| *w);
            let text = match x.lang {
                Lang::Fr => format!(
                    "{} gagne {w} des {decided} métriques de qualité départagées (victoires : {tally}) ; {detail_name} : {}.",
                    x.name(&leader),
                    x.values_line(detail_key)
                ),
                Lang::En => format!(
                    "{} wins {w} of the {decided} decided quality metrics (wins: {tally}); {detail_name}: {}.",
                    x.name(&leader),
                    x.values_line(detail_key)
                ),
            };
            rec("quality", Some(&leader), text)
        }
        None => {
            let text = match x.lang {
                Lang::Fr => format!("Aucun système ne se détache (victoires : {tally}) ; {detail_name} : {}.", x.values_line(detail_key)),
                Lang::En => format!("No system stands out (wins: {tally}); {detail_name}: {}.", x.values_line(detail_key)),
            };
            rec("quality", None, text)
        }
    }
}

/// Systems whose answers mostly repeat their prompt: their quality figures
/// measure nothing, and the report says so rather than ranking them.
fn echoes(x: &Ctx) -> Vec<Recommendation> {
    x.c.systems
        .iter()
        .filter(|s| s.echoes.is_some_and(|e| s.questions > 0 && e * 4 > s.questions))
        .map(|s| {
            let e = s.echoes.unwrap_or(0);
            let text = match x.lang {
                Lang::Fr => format!(
                    "{} : {e} réponses sur {} répètent le prompt (consigne, contexte ou fiches) au lieu de répondre : ce modèle ne lit pas le contexte qu'on lui donne (un modèle de base, non entraîné aux instructions, le fait rarement) ; ses scores ne sont pas comparables aux autres. Préférez l'hybride (un adaptateur entraîné à lire les fiches) ou un modèle instruct plus grand.",
                    x.name(&s.label),
                    s.questions
                ),
                Lang::En => format!(
                    "{}: {e} of {} answers repeat the prompt (instruction, context or records) instead of answering: this model does not read the context it is given (a base model, not instruction-tuned, rarely does); its scores are not comparable with the others. Prefer the hybrid (an adapter trained to read the records) or a larger instruct model.",
                    x.name(&s.label),
                    s.questions
                ),
            };
            rec("reading", None, text)
        })
        .collect()
}

fn latency(x: &Ctx) -> Recommendation {
    match x.extremes("latency_mean_ms") {
        Some(((best, b), (worst, w))) => {
            let r = ratio(b, w).map_or(String::new(), |r| format!(" ({r:.1}×)"));
            let text = match x.lang {
                Lang::Fr => format!(
                    "{} répond en {} en moyenne contre {} pour {}{r} ; p95 : {}.",
                    x.name(&best),
                    Unit::Milliseconds.format(Some(b)),
                    Unit::Milliseconds.format(Some(w)),
                    x.name(&worst),
                    x.values_line("latency_p95_ms")
                ),
                Lang::En => format!(
                    "{} answers in {} on average against {} for {}{r}; p95: {}.",
                    x.name(&best),
                    Unit::Milliseconds.format(Some(b)),
                    Unit::Milliseconds.format(Some(w)),
                    x.name(&worst),
                    x.values_line("latency_p95_ms")
                ),
            };
            rec("latency", Some(&best), text)
        }
        None => rec(
            "latency",
            None,
            format!("{} {}.", x.t("Pas de gagnant mesurable —", "No measurable winner —"), x.values_line("latency_mean_ms")),
        ),
    }
}

fn tokens(x: &Ctx) -> Recommendation {
    let prompt = x.values_line("prompt_tokens_per_question");
    match x.extremes("total_tokens_per_question") {
        Some(((best, b), (worst, w))) => {
            let r = ratio(b, w).map_or(String::new(), |r| format!(" ({r:.1}×)"));
            let text = match x.lang {
                Lang::Fr => format!("{} consomme {b:.0} tokens par question contre {w:.0} pour {}{r}. Tokens de prompt par question (le contexte injecté par la recherche en fait partie) : {prompt}.", x.name(&best), x.name(&worst)),
                Lang::En => format!("{} uses {b:.0} tokens per question against {w:.0} for {}{r}. Prompt tokens per question (retrieved context included): {prompt}.", x.name(&best), x.name(&worst)),
            };
            rec("tokens", Some(&best), text)
        }
        None => rec(
            "tokens",
            None,
            format!(
                "{} {}.",
                x.t("Pas de gagnant mesurable — tokens par question :", "No measurable winner — tokens per question:"),
                x.values_line("total_tokens_per_question")
            ),
        ),
    }
}

fn traceability(x: &Ctx) -> Recommendation {
    let sourced: Vec<(String, f64)> =
        x.c.systems.iter().filter_map(|s| x.value("sourced_rate", &s.label).map(|v| (s.label.clone(), v))).collect();
    let without: Vec<String> =
        x.c.systems.iter().filter(|s| x.value("sourced_rate", &s.label).is_none_or(|v| v == 0.0)).map(|s| x.name(&s.label)).collect();
    // On a tie the first system in command-line order (rag, finetuned, hybrid) is named.
    let best = sourced
        .iter()
        .filter(|(_, v)| *v > 0.0)
        .fold(None::<&(String, f64)>, |acc, x| match acc {
            Some(a) if a.1 >= x.1 => Some(a),
            _ => Some(x),
        })
        .cloned();
    match best {
        Some((label, _)) => {
            let with = sourced
                .iter()
                .filter(|(_, v)| *v > 0.0)
                .map(|(l, v)| format!("{} {}", x.name(l), Unit::Rate.format(Some(*v))))
                .collect::<Vec<_>>()
                .join(", ");
            let text = match (x.lang, without.is_empty()) {
                (Lang::Fr, false) => format!("Réponses accompagnées de leurs sources (identifiants des enregistrements) — {with} ; {} n'en donne aucune (boîte noire).", without.join(", ")),
                (Lang::Fr, true) => format!("Réponses accompagnées de leurs sources (identifiants des enregistrements) — {with}."),
                (Lang::En, false) => format!("Answers come with their sources (record ids) — {with}; {} gives none (black box).", without.join(", ")),
                (Lang::En, true) => format!("Answers come with their sources (record ids) — {with}."),
            };
            rec("traceability", Some(&label), text)
        }
        None => rec(
            "traceability",
            None,
            x.t("Aucun des systèmes comparés n'a enregistré de sources.", "None of the compared systems recorded sources.").to_string(),
        ),
    }
}

fn freshness(x: &Ctx) -> Recommendation {
    let retrieving: Vec<&SystemInfo> = x.c.systems.iter().filter(|s| retrieves(s)).collect();
    let training: Vec<&SystemInfo> = x.c.systems.iter().filter(|s| trained(s)).collect();
    let Some(first) = retrieving.iter().find(|s| !trained(s)).or(retrieving.first()) else {
        return rec(
            "data_freshness",
            None,
            x.t(
                "Aucun système comparé ne s'appuie sur une recherche ; toute mise à jour des données demande un ré-entraînement.",
                "No compared system retrieves; every data update needs re-training.",
            )
            .to_string(),
        );
    };
    let docs = first.retrieval_documents.map_or(String::new(), |n| match x.lang {
        Lang::Fr => format!(" ({n} documents indexés ici)"),
        Lang::En => format!(" ({n} documents indexed here)"),
    });
    let names = retrieving.iter().map(|s| x.name(&s.label)).collect::<Vec<_>>().join(x.t(" ou ", " or "));
    let trained_names = training.iter().map(|s| x.name(&s.label)).collect::<Vec<_>>().join(", ");
    let text = match x.lang {
        Lang::Fr => {
            let (who, verb) = match training.len() {
                0 => ("un modèle fine-tuné".to_string(), "doit être ré-entraîné"),
                1 => (trained_names, "doit être ré-entraîné"),
                _ => (trained_names, "doivent être ré-entraînés"),
            };
            format!("Une mise à jour du catalogue ne demande qu'une ré-indexation en mémoire{docs} ; {who} {verb} pour en tenir compte. Si les données changent souvent, préférez {names}.")
        }
        Lang::En => format!(
            "A catalogue update only needs an in-memory re-index{docs}; {} must be re-trained to see it. If the data changes often, prefer {names}.",
            if trained_names.is_empty() { "a fine-tuned model".to_string() } else { trained_names }
        ),
    };
    rec("data_freshness", Some(&first.label), text)
}

fn gpu(x: &Ctx) -> Recommendation {
    let devices =
        x.c.systems.iter().map(|s| format!("{} {}", x.name(&s.label), s.device.as_deref().unwrap_or("—"))).collect::<Vec<_>>().join(", ");
    let untrained = x.c.systems.iter().find(|s| !trained(s));
    let text = match x.lang {
        Lang::Fr => format!("Le RAG n'a pas d'entraînement ; le fine-tuning (et l'hybride) demandent un entraînement LoRA, pour lequel un GPU est recommandé. Appareils de ces évaluations : {devices}."),
        Lang::En => format!("RAG has no training step; fine-tuning (and hybrid) need a LoRA training run, for which a GPU is recommended. Devices of these evaluations: {devices}."),
    };
    rec("gpu", untrained.map(|s| s.label.as_str()), text)
}

fn hybrid(x: &Ctx) -> Recommendation {
    let (wins, decided) = x.quality_wins();
    let w = wins.iter().find(|(l, _)| l == "hybrid").map_or(0, |(_, w)| *w);
    let leader = x.quality_leader();
    let is_leader = leader.as_deref() == Some("hybrid");
    let sourced = Unit::Rate.format(x.value("sourced_rate", "hybrid"));
    let text = match (x.lang, is_leader) {
        (Lang::Fr, true) => format!("Meilleure qualité mesurée ({w} des {decided} métriques de qualité départagées) tout en gardant les sources ({sourced} des réponses) — la recherche apporte les faits, le modèle adapté la formulation."),
        (Lang::Fr, false) => format!("{w} des {decided} métriques de qualité départagées ; sources pour {sourced} des réponses. Il ne dépasse pas ici {} sur la qualité.", leader.as_deref().map_or_else(|| "les autres systèmes".to_string(), |l| x.name(l))),
        (Lang::En, true) => format!("Best measured quality ({w} of the {decided} decided quality metrics) while keeping sources ({sourced} of answers) — retrieval brings the facts, the adapted model the wording."),
        (Lang::En, false) => format!("{w} of the {decided} decided quality metrics; sources for {sourced} of answers. It does not beat {} on quality here.", leader.as_deref().map_or_else(|| "the other systems".to_string(), |l| x.name(l))),
    };
    rec("hybrid", is_leader.then_some("hybrid"), text)
}

fn overall(x: &Ctx) -> Recommendation {
    let leader = x.quality_leader();
    let faster = x.extremes("latency_mean_ms").map(|((b, _), _)| b);
    let cheaper = x.extremes("total_tokens_per_question").map(|((b, _), _)| b);
    let also = |label: &str| -> String {
        let mut parts = Vec::new();
        if faster.as_deref() == Some(label) {
            parts.push(x.t("plus rapide", "faster"));
        }
        if cheaper.as_deref() == Some(label) {
            parts.push(x.t("moins de tokens", "fewer tokens"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" ({})", parts.join(", "))
        }
    };
    let Some(leader) = leader else {
        let text = match x.lang {
            Lang::Fr => "Pas de gagnant net sur la qualité mesurée. Choisissez selon vos contraintes : données qui changent souvent ou sources exigées → RAG ; données stables et réponses plus naturelles → fine-tuning ; les deux → hybride.".to_string(),
            Lang::En => "No clear winner on measured quality. Choose by your constraints: data that changes often or sources required → RAG; stable data and more natural answers → fine-tuning; both → hybrid.".to_string(),
        };
        return rec("overall", None, text);
    };
    let Some(sys) = x.c.systems.iter().find(|s| s.label == leader) else { return rec("overall", None, String::new()) };
    let name = x.name(&leader);
    let extra = also(&leader);
    let text = match (x.lang, retrieves(sys), trained(sys)) {
        (Lang::Fr, true, true) => format!("{name}{extra}, meilleure qualité mesurée avec sources tracées — le meilleur des deux mondes, au prix d'un entraînement et d'un index à tenir à jour."),
        (Lang::Fr, true, false) => format!("{name}{extra} : meilleure qualité mesurée, sources tracées, mise à jour par simple ré-indexation et pas d'entraînement. Le fine-tuning ne se justifierait que pour la latence ou les tokens s'il y gagne nettement."),
        (Lang::Fr, false, _) => format!("{name}{extra} si vos données sont stables — meilleure qualité mesurée. Gardez le RAG (ou l'hybride) si les données changent souvent ou si les sources doivent être citées."),
        (Lang::En, true, true) => format!("{name}{extra}, best measured quality with traced sources — the best of both worlds, at the cost of a training run and an index to keep up to date."),
        (Lang::En, true, false) => format!("{name}{extra}: best measured quality, traced sources, updates by re-indexing, no training. Fine-tuning would only pay off for latency or tokens if it wins those clearly."),
        (Lang::En, false, _) => format!("{name}{extra} if your data is stable — best measured quality. Keep RAG (or hybrid) if the data changes often or sources must be cited."),
    };
    rec("overall", Some(&leader), text)
}

//! The Markdown report.

use crate::eval::compare::metrics::{Direction, Status};
use crate::eval::compare::questions::Verdict;
use crate::eval::compare::{Comparison, Lang};

/// Text from a results file (a question, an answer, a name) as Markdown
/// that renders it literally, on one line (fit for a table cell, a heading or
/// a list item): line breaks become spaces, `&`, `<` and `>` become entities
/// (no HTML tag, comment or autolink can open), and the characters that
/// would start emphasis, code, a link or strike-through, or end a table cell
/// (`\ ` * _ [ ] | ~ #`), are backslash-escaped.
pub fn md_cell(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for ch in s.chars() {
        match ch {
            '\r' => {}
            '\n' => out.push(' '),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    out
}

/// Text from a results file as an inline code span on one line: the fence
/// is one backtick longer than the longest run of backticks inside, and HTML
/// is literal inside code already. In a table (`in_table`) a `|` would end the
/// cell, and GFM's `\|` inside code is undone by a `\` before it: text with a
/// `|` is given as escaped text ([`md_cell`]) instead.
pub fn md_code(s: &str, in_table: bool) -> String {
    if in_table && s.contains('|') {
        return md_cell(s);
    }
    let text: String = s.chars().filter(|&c| c != '\r').map(|c| if c == '\n' { ' ' } else { c }).collect();
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    // A space on each side when the text starts or ends with a backtick or a
    // space (CommonMark strips one space from each side of a code span).
    let pad = if text.starts_with(['`', ' ']) || text.ends_with(['`', ' ']) { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

pub fn direction_text(d: Direction, lang: Lang) -> &'static str {
    match d {
        Direction::HigherIsBetter => lang.pick("↑ plus haut = mieux", "↑ higher is better"),
        Direction::LowerIsBetter => lang.pick("↓ plus bas = mieux", "↓ lower is better"),
        Direction::Neutral => lang.pick("information", "information"),
    }
}

pub fn verdict_text(v: Verdict, lang: Lang) -> &'static str {
    match v {
        Verdict::Correct => lang.pick("juste", "right"),
        Verdict::Wrong => lang.pick("faux", "wrong"),
        Verdict::Unknown => lang.pick("non jugé", "not judged"),
    }
}

/// "RAG", "égalité : RAG, Hybride" or "—".
pub fn winner_text(c: &Comparison, winners: &[String], status: Status) -> String {
    let names = winners.iter().map(|w| c.name_of(w)).collect::<Vec<_>>().join(", ");
    match status {
        Status::Winner => names,
        Status::Tie => format!("{} {names}", c.lang.pick("égalité :", "tie:")),
        Status::NotCompared => "—".to_string(),
    }
}

pub fn criterion_name(key: &str, lang: Lang) -> &'static str {
    match key {
        "quality" => lang.pick("Qualité", "Quality"),
        "latency" => lang.pick("Latence", "Latency"),
        "tokens" => lang.pick("Tokens consommés", "Tokens consumed"),
        "traceability" => lang.pick("Traçabilité", "Traceability"),
        "data_freshness" => lang.pick("Fraîcheur des données", "Data freshness"),
        "gpu" => lang.pick("Besoin de GPU", "GPU need"),
        "hybrid" => lang.pick("Hybride", "Hybrid"),
        "reading" => lang.pick("Lecture du contexte", "Reading the context"),
        "overall" => lang.pick("Recommandation", "Recommendation"),
        _ => "",
    }
}

/// The correctness rule in words.
pub fn rule_text(c: &Comparison) -> String {
    let r = &c.correctness_rule;
    let facts = if r.keyword_threshold >= 1.0 {
        c.lang.pick("tous les faits clés", "all the key facts").to_string()
    } else {
        match c.lang {
            Lang::Fr => format!("au moins {:.0} % des faits clés", r.keyword_threshold * 100.0),
            Lang::En => format!("at least {:.0} % of the key facts", r.keyword_threshold * 100.0),
        }
    };
    match c.lang {
        Lang::Fr => format!(
            "le verdict du fichier de résultats quand il en a un (tous les faits clés et aucune répétition du prompt ; un refus pour une application inconnue) ; sinon une réponse est juste si elle correspond exactement à la réponse attendue (après normalisation), sinon si elle contient {facts}, sinon (sans faits clés) si son F1 atteint {:.2} ; une erreur ou une réponse vide est fausse",
            r.f1_threshold
        ),
        Lang::En => format!(
            "the results file's verdict when it has one (every key fact and no repetition of the prompt; a refusal for an unknown application); otherwise an answer is right when it matches the expected answer exactly (after normalisation), else when it contains {facts}, else (no key facts) when its F1 reaches {:.2}; an error or an empty answer is wrong",
            r.f1_threshold
        ),
    }
}

/// The original tool's criteria table (FINETUNING_WORKFLOW.md), for reference.
pub fn seed_criteria(lang: Lang) -> Vec<[&'static str; 3]> {
    match lang {
        Lang::Fr => vec![
            ["Mise en place", "Rapide (minutes)", "Lente (heures)"],
            ["Mise à jour des données", "Instantanée (ré-indexation)", "Ré-entraînement nécessaire"],
            ["Précision", "Dépend de la recherche", "Dépend du jeu de données"],
            ["Tokens consommés", "Élevés (contexte + réponse)", "Bas (réponse seule)"],
            ["Transparence", "Sources tracées", "Boîte noire"],
            ["GPU requis", "Non", "Oui (pour l'entraînement)"],
        ],
        Lang::En => vec![
            ["Set-up", "Fast (minutes)", "Slow (hours)"],
            ["Data updates", "Instant (re-index)", "Re-training needed"],
            ["Accuracy", "Depends on retrieval", "Depends on the dataset"],
            ["Tokens consumed", "High (context + answer)", "Low (answer only)"],
            ["Transparency", "Traced sources", "Black box"],
            ["GPU required", "No", "Yes (for training)"],
        ],
    }
}

/// Renders the whole report.
pub fn render(c: &Comparison) -> String {
    let l = c.lang;
    let mut md = String::new();
    md.push_str(&format!("# {}\n\n", l.pick("Comparaison RAG / fine-tuning", "RAG / fine-tuning comparison")));
    md.push_str(&format!("{} {}.\n\n", l.pick("Généré le", "Generated on"), c.generated_at));

    md.push_str(&format!("## {}\n\n", l.pick("Systèmes comparés", "Compared systems")));
    md.push_str(&format!(
        "| | {} | {} | {} | {} | {} | {} |\n|---|---|---|---|---|---|---|\n",
        l.pick("Fichier", "File"),
        l.pick("Système", "System"),
        l.pick("Modèle", "Model"),
        l.pick("Adaptateur", "Adapter"),
        l.pick("Appareil", "Device"),
        l.pick("Questions", "Questions")
    ));
    for s in &c.systems {
        let dash = |v: &Option<String>| v.as_deref().map_or("—".to_string(), md_cell);
        md.push_str(&format!(
            "| **{}** | {} | {} | {} | {} | {} | {} |\n",
            md_cell(&s.display_name),
            md_code(&s.file, true),
            md_cell(&s.system),
            dash(&s.model),
            dash(&s.adapter),
            dash(&s.device),
            s.questions
        ));
    }

    md.push_str(&format!("\n## {}\n\n", l.pick("Métriques", "Metrics")));
    md.push_str(&format!("| {} | {} |", l.pick("Métrique", "Metric"), l.pick("Sens", "Direction")));
    for s in &c.systems {
        md.push_str(&format!(" {} |", md_cell(&s.display_name)));
    }
    md.push_str(&format!(" {} |\n|---|---|", l.pick("Gagnant", "Winner")));
    md.push_str(&"---|".repeat(c.systems.len()));
    md.push_str("---|\n");
    for m in &c.metrics {
        md.push_str(&format!("| {} | {} |", md_cell(&m.name), direction_text(m.direction, l)));
        for v in &m.values {
            if m.winners.contains(&v.system) {
                md.push_str(&format!(" **{}** |", v.display));
            } else {
                md.push_str(&format!(" {} |", v.display));
            }
        }
        md.push_str(&format!(" {} |\n", md_cell(&winner_text(c, &m.winners, m.status))));
    }
    md.push_str(&format!(
        "\n{}\n",
        l.pick(
            "« — » : non mesuré dans ce fichier de résultats (jamais compté comme zéro).",
            "\"—\": not measured in that results file (never counted as zero)."
        )
    ));

    if !c.per_kind.is_empty() {
        md.push_str(&format!("\n## {}\n\n", l.pick("Réponses justes par type de question", "Right answers per kind of question")));
        md.push_str(&format!("| {} |", l.pick("Type", "Kind")));
        for s in &c.systems {
            md.push_str(&format!(" {} |", md_cell(&s.display_name)));
        }
        md.push_str(&format!("\n|---|{}\n", "---|".repeat(c.systems.len())));
        for k in &c.per_kind {
            md.push_str(&format!("| {} |", md_cell(&k.kind)));
            for v in &k.values {
                md.push_str(&format!(" {} |", v.display()));
            }
            md.push('\n');
        }
        md.push_str(&format!(
            "\n{}\n",
            l.pick(
                "Part des réponses justes, intervalle de confiance à 95 % (Wilson) entre crochets ; (n écho) : réponses qui répètent le prompt, toujours fausses.",
                "Share of right answers, 95 % confidence interval (Wilson) in brackets; (n echo): answers that repeat the prompt, always wrong."
            )
        ));
    }

    md.push_str(&format!("\n## {}\n\n", l.pick("Recommandations", "Recommendations")));
    for r in &c.recommendations {
        md.push_str(&format!("- **{}** — {}\n", criterion_name(&r.criterion, l), md_cell(&r.text)));
    }

    md.push_str(&format!("\n## {}\n\n", l.pick("Questions où les systèmes divergent", "Questions where the systems disagree")));
    md.push_str(&format!("{} : {}.\n\n", l.pick("Règle", "Rule"), rule_text(c)));
    md.push_str(&match l {
        Lang::Fr => format!("{} questions comparées, {} divergences.\n", c.questions_compared, c.question_differences.len()),
        Lang::En => format!("{} questions compared, {} disagreements.\n", c.questions_compared, c.question_differences.len()),
    });
    for d in &c.question_differences {
        md.push_str(&format!("\n### {} — {}\n\n", md_cell(&d.id), md_cell(&d.question)));
        if let Some(e) = &d.expected {
            md.push_str(&format!("{} : {}\n\n", l.pick("Attendu", "Expected"), md_cell(e)));
        }
        md.push_str(&format!(
            "| {} | {} | {} | F1 | {} |\n|---|---|---|---|---|\n",
            l.pick("Système", "System"),
            l.pick("Verdict", "Verdict"),
            l.pick("Faits clés", "Key facts"),
            l.pick("Réponse", "Answer")
        ));
        for o in &d.outcomes {
            let answer = match &o.error {
                Some(e) => format!("{} {}", l.pick("erreur :", "error:"), e),
                None => o.answer.clone(),
            };
            md.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                md_cell(&c.name_of(&o.system)),
                verdict_text(o.verdict, l),
                o.keyword_recall.map_or("—".to_string(), |v| format!("{v:.2}")),
                o.f1.map_or("—".to_string(), |v| format!("{v:.2}")),
                md_cell(&answer)
            ));
        }
    }
    if !c.unmatched_questions.is_empty() {
        md.push_str(&format!("\n## {}\n\n", l.pick("Questions absentes d'un des fichiers", "Questions missing from a file")));
        for u in &c.unmatched_questions {
            md.push_str(&format!("- {} {} — {}\n", md_cell(&c.name_of(&u.system)), md_code(&u.id, false), md_cell(&u.question)));
        }
    }

    md.push_str(&format!("\n## {}\n\n", l.pick("Critères du guide d'origine", "The original guide's criteria")));
    md.push_str(&format!("| {} | RAG | Fine-tuning |\n|---|---|---|\n", l.pick("Critère", "Criterion")));
    for [a, b, cc] in seed_criteria(l) {
        md.push_str(&format!("| {a} | {b} | {cc} |\n"));
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Finding 9 of the hardening review: text from a results file renders
    /// literally, whatever HTML or Markdown it holds.
    #[test]
    fn cells_render_markup_as_text() {
        assert_eq!(md_cell("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(md_cell("<img src=x onerror=alert(1)>"), "&lt;img src=x onerror=alert(1)&gt;");
        assert_eq!(md_cell("a &lt; b & c"), "a &amp;lt; b &amp; c");
        assert_eq!(
            md_cell("**gras** _it_ `code` [l](u) ~~s~~ a|b \\ #"),
            "\\*\\*gras\\*\\* \\_it\\_ \\`code\\` \\[l\\](u) \\~\\~s\\~\\~ a\\|b \\\\ \\#"
        );
        assert_eq!(md_cell("deux\r\nlignes\n"), "deux lignes ");
        assert_eq!(md_cell("Qui héberge GIDAF ? L'équipe « DSI »."), "Qui héberge GIDAF ? L'équipe « DSI ».");
    }

    #[test]
    fn code_spans_hold_any_text() {
        assert_eq!(md_code("results_rag.json", true), "`results_rag.json`");
        assert_eq!(md_code("a`b", false), "``a`b``");
        assert_eq!(md_code("`x``", false), "``` `x`` ```");
        assert_eq!(md_code("<b>", false), "`<b>`");
        assert_eq!(md_code("l1\nl2", false), "`l1 l2`");
        // A pipe cannot be put in a code span inside a table cell reliably.
        assert_eq!(md_code("a|b.json", true), "a\\|b.json");
        assert_eq!(md_code("a|b", false), "`a|b`");
    }
}

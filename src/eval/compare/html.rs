//! The HTML report: one self-contained page (inline CSS, inline SVG charts,
//! no script, no external resource). A Content-Security-Policy forbids any
//! outside load, so a mistake would show as a console error, not a silent fetch.

use crate::eval::compare::charts::report_charts;
use crate::eval::compare::markdown::{criterion_name, direction_text, rule_text, seed_criteria, verdict_text, winner_text};
use crate::eval::compare::questions::Verdict;
use crate::eval::compare::{Comparison, Lang};
use crate::Result;

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1d2433;line-height:1.45}
h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:2px solid #e3e7ef;padding-bottom:.3rem}
.meta{color:#5b6478}
table{border-collapse:collapse;width:100%;margin:.8rem 0;font-size:.93rem}
th,td{border:1px solid #d8dde8;padding:.35rem .55rem;text-align:left;vertical-align:top}
th{background:#f3f5f9}
td.num{text-align:right;white-space:nowrap}
td.best{background:#e6f4ea;font-weight:600}
td.missing{color:#8a92a3}
.charts{display:flex;flex-direction:column;gap:1rem;align-items:center}
figure{margin:0;width:100%;max-width:900px;border:1px solid #e3e7ef;border-radius:6px;padding:.5rem;box-sizing:border-box}
figure svg{width:100%;height:auto;display:block}
ul.recs li{margin:.45rem 0}
.right{color:#1e7d32;font-weight:600}.wrong{color:#b3261e;font-weight:600}
.q{margin:1.2rem 0}
";

/// Renders the page.
pub fn render(c: &Comparison) -> Result<String> {
    let l = c.lang;
    let title = l.pick("Comparaison RAG / fine-tuning", "RAG / fine-tuning comparison");
    let mut h = String::new();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{}</style>\n</head>\n<body>\n",
        l.code(),
        esc(title),
        STYLE
    ));
    h.push_str(&format!(
        "<h1>{}</h1>\n<p class=\"meta\">{} {}</p>\n",
        esc(title),
        l.pick("Généré le", "Generated on"),
        esc(&c.generated_at)
    ));

    // Systems.
    h.push_str(&format!(
        "<h2 id=\"systems\">{}</h2>\n<table>\n<tr><th></th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        l.pick("Systèmes comparés", "Compared systems"),
        l.pick("Fichier", "File"),
        l.pick("Système", "System"),
        l.pick("Modèle", "Model"),
        l.pick("Adaptateur", "Adapter"),
        l.pick("Appareil", "Device"),
        "Questions"
    ));
    for s in &c.systems {
        let o = |v: &Option<String>| v.as_deref().map_or("—".to_string(), esc);
        h.push_str(&format!(
            "<tr><th>{}</th><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n",
            esc(&s.display_name),
            esc(&s.file),
            esc(&s.system),
            o(&s.model),
            o(&s.adapter),
            o(&s.device),
            s.questions
        ));
    }
    h.push_str("</table>\n");

    // Charts.
    h.push_str(&format!("<h2 id=\"charts\">{}</h2>\n<div class=\"charts\">\n", l.pick("Graphiques", "Charts")));
    for (caption, svg) in report_charts(c)? {
        // The XML declaration plotters may emit is not valid inside HTML.
        let svg = svg.trim_start_matches(|ch| ch != '<').trim();
        let svg = if svg.starts_with("<?xml") { svg.split_once("?>").map_or(svg, |(_, rest)| rest.trim_start()) } else { svg };
        // The title is drawn inside the chart; the label is for screen readers.
        h.push_str(&format!("<figure role=\"img\" aria-label=\"{}\">\n{}\n</figure>\n", esc(&caption), svg));
    }
    h.push_str(&format!(
        "</div>\n<p class=\"meta\">{}</p>\n",
        l.pick("n/m : non mesuré dans ce fichier de résultats.", "n/m: not measured in that results file.")
    ));

    // Metrics table.
    h.push_str(&format!(
        "<h2 id=\"metrics\">{}</h2>\n<table>\n<tr><th>{}</th><th>{}</th>",
        l.pick("Métriques", "Metrics"),
        l.pick("Métrique", "Metric"),
        l.pick("Sens", "Direction")
    ));
    for s in &c.systems {
        h.push_str(&format!("<th>{}</th>", esc(&s.display_name)));
    }
    h.push_str(&format!("<th>{}</th></tr>\n", l.pick("Gagnant", "Winner")));
    for m in &c.metrics {
        h.push_str(&format!("<tr><td>{}</td><td>{}</td>", esc(&m.name), direction_text(m.direction, l)));
        for v in &m.values {
            let class = if v.value.is_none() {
                "num missing"
            } else if m.winners.contains(&v.system) {
                "num best"
            } else {
                "num"
            };
            h.push_str(&format!("<td class=\"{class}\">{}</td>", esc(&v.display)));
        }
        h.push_str(&format!("<td>{}</td></tr>\n", esc(&winner_text(c, &m.winners, m.status))));
    }
    h.push_str(&format!(
        "</table>\n<p class=\"meta\">{}</p>\n",
        l.pick("« — » : non mesuré (jamais compté comme zéro).", "\"—\": not measured (never counted as zero).")
    ));

    if !c.per_kind.is_empty() {
        h.push_str(&format!(
            "<h2 id=\"kinds\">{}</h2>\n<table>\n<tr><th>{}</th>",
            l.pick("Réponses justes par type de question", "Right answers per kind of question"),
            l.pick("Type", "Kind")
        ));
        for s in &c.systems {
            h.push_str(&format!("<th>{}</th>", esc(&s.display_name)));
        }
        h.push_str("</tr>\n");
        for k in &c.per_kind {
            h.push_str(&format!("<tr><td>{}</td>", esc(&k.kind)));
            for v in &k.values {
                h.push_str(&format!("<td class=\"num\">{}</td>", esc(&v.display())));
            }
            h.push_str("</tr>\n");
        }
        h.push_str(&format!(
            "</table>\n<p class=\"meta\">{}</p>\n",
            l.pick(
                "Intervalle de confiance à 95 % (Wilson) entre crochets ; les échos (réponses qui répètent le prompt) sont comptés faux.",
                "95 % confidence interval (Wilson) in brackets; echoes (answers that repeat the prompt) count as wrong."
            )
        ));
    }

    // Recommendations.
    h.push_str(&format!("<h2 id=\"recommendations\">{}</h2>\n<ul class=\"recs\">\n", l.pick("Recommandations", "Recommendations")));
    for r in &c.recommendations {
        h.push_str(&format!("<li><strong>{}</strong> — {}</li>\n", esc(criterion_name(&r.criterion, l)), esc(&r.text)));
    }
    h.push_str("</ul>\n");

    // Per-question differences.
    h.push_str(&format!(
        "<h2 id=\"differences\">{}</h2>\n<p>{} : {}.</p>\n",
        l.pick("Questions où les systèmes divergent", "Questions where the systems disagree"),
        l.pick("Règle", "Rule"),
        esc(&rule_text(c))
    ));
    h.push_str(&match l {
        Lang::Fr => format!("<p>{} questions comparées, {} divergences.</p>\n", c.questions_compared, c.question_differences.len()),
        Lang::En => format!("<p>{} questions compared, {} disagreements.</p>\n", c.questions_compared, c.question_differences.len()),
    });
    for d in &c.question_differences {
        h.push_str(&format!("<div class=\"q\"><h3>{} — {}</h3>\n", esc(&d.id), esc(&d.question)));
        if let Some(e) = &d.expected {
            h.push_str(&format!("<p>{} : {}</p>\n", l.pick("Attendu", "Expected"), esc(e)));
        }
        h.push_str(&format!(
            "<table><tr><th>{}</th><th>{}</th><th>{}</th><th>F1</th><th>{}</th></tr>\n",
            l.pick("Système", "System"),
            "Verdict",
            l.pick("Faits clés", "Key facts"),
            l.pick("Réponse", "Answer")
        ));
        for o in &d.outcomes {
            let class = match o.verdict {
                Verdict::Correct => "right",
                Verdict::Wrong => "wrong",
                Verdict::Unknown => "",
            };
            let answer = match &o.error {
                Some(e) => format!("{} {}", l.pick("erreur :", "error:"), e),
                None => o.answer.clone(),
            };
            h.push_str(&format!(
                "<tr><td>{}</td><td class=\"{class}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>\n",
                esc(&c.name_of(&o.system)),
                verdict_text(o.verdict, l),
                o.keyword_recall.map_or("—".to_string(), |v| format!("{v:.2}")),
                o.f1.map_or("—".to_string(), |v| format!("{v:.2}")),
                esc(&answer)
            ));
        }
        h.push_str("</table></div>\n");
    }
    if !c.unmatched_questions.is_empty() {
        h.push_str(&format!("<h2>{}</h2>\n<ul>\n", l.pick("Questions absentes d'un des fichiers", "Questions missing from a file")));
        for u in &c.unmatched_questions {
            h.push_str(&format!("<li>{} <code>{}</code> — {}</li>\n", esc(&c.name_of(&u.system)), esc(&u.id), esc(&u.question)));
        }
        h.push_str("</ul>\n");
    }

    // The seed's criteria.
    h.push_str(&format!(
        "<h2>{}</h2>\n<table><tr><th>{}</th><th>RAG</th><th>Fine-tuning</th></tr>\n",
        l.pick("Critères du guide d'origine", "The original guide's criteria"),
        l.pick("Critère", "Criterion")
    ));
    for [a, b, cc] in seed_criteria(l) {
        h.push_str(&format!("<tr><td>{}</td><td>{}</td><td>{}</td></tr>\n", esc(a), esc(b), esc(cc)));
    }
    h.push_str("</table>\n</body>\n</html>\n");
    Ok(h)
}

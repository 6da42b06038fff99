//! The prompt that asks an LLM for question/answer pairs about one record:
//! a system message with the rules, two worked examples (invented records and
//! the JSON expected for them: small models follow examples better than
//! instructions), then the record itself.

use crate::data::catalogue::Record;
use crate::data::templates::Lang;
use crate::formats::chat::ChatMessage;

/// Worked examples: invented records and the JSON expected for them. Two of
/// them, because with one a small base model tends to copy its questions; with
/// two it follows the pattern "this record's name, this record's facts". Their
/// facts are in no catalogue, so an answer that copies them is dropped by the
/// grounding check.
type Example = (&'static str, &'static [(&'static str, &'static str)], &'static str);

const EXAMPLES_FR: [Example; 2] = [
    (
        "ZORBEX",
        &[
            ("description", "Application de suivi des congés des agents"),
            ("hébergement", "Centre serveur de Nantes"),
            ("statut", "en production"),
        ],
        r#"[{"question": "À quoi sert ZORBEX ?", "reponse": "ZORBEX est une application de suivi des congés des agents."}, {"question": "Où est hébergé ZORBEX ?", "reponse": "ZORBEX est hébergé au centre serveur de Nantes."}]"#,
    ),
    (
        "PLUVIO",
        &[("responsable", "Jean Dupont (service juridique)"), ("technologies", "Python, SQLite"), ("date de mise en service", "2015")],
        r#"[{"question": "Qui est responsable de PLUVIO ?", "reponse": "Le responsable de PLUVIO est Jean Dupont (service juridique)."}, {"question": "Quelles technologies utilise PLUVIO ?", "reponse": "PLUVIO utilise Python et SQLite."}]"#,
    ),
];
const EXAMPLES_EN: [Example; 2] = [
    (
        "ZORBEX",
        &[("description", "Application to track staff leave"), ("hosting", "Nantes data centre"), ("status", "in production")],
        r#"[{"question": "What is ZORBEX used for?", "answer": "ZORBEX is an application to track staff leave."}, {"question": "Where is ZORBEX hosted?", "answer": "ZORBEX is hosted in the Nantes data centre."}]"#,
    ),
    (
        "PLUVIO",
        &[("owner", "Jean Dupont (legal department)"), ("technologies", "Python, SQLite"), ("go-live date", "2015")],
        r#"[{"question": "Who is responsible for PLUVIO?", "answer": "Jean Dupont (legal department) is responsible for PLUVIO."}, {"question": "What technologies does PLUVIO use?", "answer": "PLUVIO uses Python and SQLite."}]"#,
    ),
];

fn sheet(name: &str, fields: impl Iterator<Item = (String, String)>, lang: Lang) -> String {
    let mut s = match lang {
        Lang::Fr => format!("Fiche de l'application {name} :\n"),
        Lang::En => format!("Record of the application {name}:\n"),
    };
    for (k, v) in fields {
        s.push_str(&format!("- {k} : {v}\n"));
    }
    s
}

fn request(name: &str, n: usize, lang: Lang) -> String {
    match lang {
        Lang::Fr => format!(
            "Écris {n} questions différentes qu'un utilisateur pourrait poser sur {name}, chacune avec sa réponse en une phrase complète. \
Chaque question contient le nom {name}. Les réponses n'utilisent que les faits de la fiche. \
Réponds uniquement avec un tableau JSON [{{\"question\": \"...\", \"reponse\": \"...\"}}]."
        ),
        Lang::En => format!(
            "Write {n} different questions a user could ask about {name}, each with its answer in one full sentence. \
Each question contains the name {name}. The answers use only the facts of the record. \
Reply only with a JSON array [{{\"question\": \"...\", \"answer\": \"...\"}}]."
        ),
    }
}

/// The messages asking for `n` pairs about `rec`.
pub fn messages(rec: &Record, n: usize, lang: Lang) -> Vec<ChatMessage> {
    let system = match lang {
        Lang::Fr => "Tu rédiges des questions-réponses en français pour entraîner un assistant. Tu n'utilises que les faits de la fiche fournie, sans rien inventer, et tu réponds uniquement en JSON.",
        Lang::En => "You write question-answer pairs in English to train an assistant. You use only the facts of the given record, invent nothing, and reply only with JSON.",
    };
    let examples = match lang {
        Lang::Fr => &EXAMPLES_FR,
        Lang::En => &EXAMPLES_EN,
    };
    let mut out = vec![ChatMessage::system(system)];
    for (name, fields, reply) in examples {
        let ex_sheet = sheet(name, fields.iter().map(|(k, v)| (k.to_string(), v.to_string())), lang);
        out.push(ChatMessage::user(format!("{ex_sheet}\n{}", request(name, 2, lang))));
        out.push(ChatMessage::assistant(*reply));
    }
    let rec_sheet = sheet(&rec.name, rec.fields.iter().map(|f| (f.label.clone(), f.value.clone())), lang);
    out.push(ChatMessage::user(format!("{rec_sheet}\n{}", request(&rec.name, n, lang))));
    out
}

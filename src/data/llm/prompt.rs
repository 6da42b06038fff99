//! The prompt that asks an LLM for question/answer pairs about one record:
//! a system message with the rules, one worked example (an invented record
//! and the JSON expected for it: small models follow an example better than
//! instructions), then the record itself.

use crate::data::catalogue::Record;
use crate::data::templates::Lang;
use crate::formats::chat::ChatMessage;

/// The worked example's record. Its facts are not in any catalogue: an answer
/// copying them is dropped by the grounding check.
const EXAMPLE_FR: (&str, &[(&str, &str)], &str) = (
    "ZORBEX",
    &[("description", "Application de suivi des congés des agents"), ("hébergement", "Centre serveur de Nantes"), ("statut", "en production")],
    r#"[{"question": "À quoi sert ZORBEX ?", "reponse": "ZORBEX est une application de suivi des congés des agents."}, {"question": "Où est hébergé ZORBEX ?", "reponse": "ZORBEX est hébergé au centre serveur de Nantes."}]"#,
);
const EXAMPLE_EN: (&str, &[(&str, &str)], &str) = (
    "ZORBEX",
    &[("description", "Application to track staff leave"), ("hosting", "Nantes data centre"), ("status", "in production")],
    r#"[{"question": "What is ZORBEX used for?", "answer": "ZORBEX is an application to track staff leave."}, {"question": "Where is ZORBEX hosted?", "answer": "ZORBEX is hosted in the Nantes data centre."}]"#,
);

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
    let (ex_name, ex_fields, ex_reply) = match lang {
        Lang::Fr => EXAMPLE_FR,
        Lang::En => EXAMPLE_EN,
    };
    let ex_sheet = sheet(ex_name, ex_fields.iter().map(|(k, v)| (k.to_string(), v.to_string())), lang);
    let rec_sheet = sheet(&rec.name, rec.fields.iter().map(|f| (f.label.clone(), f.value.clone())), lang);
    vec![
        ChatMessage::system(system),
        ChatMessage::user(format!("{ex_sheet}\n{}", request(ex_name, 2, lang))),
        ChatMessage::assistant(ex_reply),
        ChatMessage::user(format!("{rec_sheet}\n{}", request(&rec.name, n, lang))),
    ]
}

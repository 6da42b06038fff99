//! French templates (the default language).

use super::{Answer, KindTemplates, LangTemplates, Question, Register::*, Req::*, ReverseTemplates};
use crate::data::catalogue::FieldKind;

const fn q(text: &'static str, register: super::Register) -> Question {
    Question { text, register }
}
const fn a(text: &'static str, req: super::Req) -> Answer {
    Answer { text, req }
}

pub static FR: LangTemplates = LangTemplates {
    kind,
    multi: &[
        q("Peux-tu me dire {C1} et {C2} ?", Neutral),
        q("Je voudrais savoir {C1} et {C2}.", Neutral),
        q("Pourriez-vous m'indiquer {C1} et {C2} ?", Formal),
        q("Dis-moi {C1} et {C2}.", Informal),
    ],
    refusal: "Je ne connais pas cette application.",
    system_named: "Tu es un assistant qui répond aux questions sur les applications {NAME}.",
    system_generic: "Tu es un assistant qui répond aux questions sur les applications de l'organisation.",
    and_word: "et",
    fem_nouns: &[
        "application",
        "plateforme",
        "plate",
        "base",
        "solution",
        "interface",
        "api",
        "messagerie",
        "suite",
        "chaine",
        "brique",
        "passerelle",
        "console",
        "gestion",
    ],
    masc_nouns: &[
        "outil",
        "logiciel",
        "portail",
        "service",
        "systeme",
        "site",
        "progiciel",
        "module",
        "referentiel",
        "entrepot",
        "moteur",
        "gestionnaire",
        "tableau",
        "annuaire",
        "espace",
        "intranet",
        "extranet",
        "guichet",
        "dispositif",
        "composant",
        "connecteur",
        "serveur",
        "assistant",
        "socle",
        "infocentre",
        "datawarehouse",
        "workflow",
        "bus",
    ],
    articles: &["le", "la", "les", "l", "un", "une", "des", "du"],
    months: &["janvier", "fevrier", "mars", "avril", "mai", "juin", "juillet", "aout", "septembre", "octobre", "novembre", "decembre"],
    none_words: &["aucune", "aucun", "neant", "sans", "non", "none", "n/a", "-"],
    state_prefixes: &["en "],
    fiche_questions: &[
        "Donne-moi la fiche de {X}.",
        "Que sais-tu de {X} ?",
        "Dis-moi tout sur {X}.",
        "Quelles informations as-tu sur {X} ?",
        "Fais-moi la fiche complète de {X}.",
        "Résume tout ce que tu sais de {X}.",
        "Je veux tout savoir sur {X}.",
        "Quelles sont les caractéristiques de {X} ?",
        "Fiche de {X} ?",
        "Qu'est-ce que le catalogue dit de {X} ?",
        "Décris {X} en détail.",
        "Présente l'application {X} dans son ensemble.",
        "Quelles sont toutes les informations du catalogue sur {X} ?",
        "J'aimerais une vue d'ensemble de {X}.",
        "Fais le point sur {X}.",
        "Tout sur {X}, s'il te plaît.",
        "Peux-tu me faire un résumé complet de {X} ?",
        "Que faut-il savoir sur {X} ?",
        "Rappelle-moi tout ce qui concerne {X}.",
        "Pourriez-vous me présenter l'application {X} en détail ?",
    ],
    missing_answer: "Le catalogue n'indique pas {M} pour {X}.",
    missing_what,
    reverse: &[
        ReverseTemplates {
            kind: FieldKind::FullName,
            items: false,
            single: true,
            questions: &["Quel est le sigle de « {V} » ?", "Quelle application s'appelle « {V} » ?", "« {V} », c'est quelle application ?"],
            answers: &["C'est {APPS}.", "« {V} » est le nom complet de {APPS}.", "Il s'agit de {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Description,
            items: false,
            single: true,
            questions: &[
                "Quelle application est {DESC} ?",
                "Comment s'appelle {DESC} ?",
                "Je cherche {DESC}. Laquelle est-ce ?",
                "Quel est le nom de {DESC} ?",
                "Quelle application correspond à cette description : « {V} » ?",
                "Quel est l'outil {GIST} ?",
                "Je cherche l'application {GIST}.",
                "Comment s'appelle le logiciel {GIST} ?",
                "C'est quoi, l'appli {GIST} ?",
                "On utilise quelle application {GIST} ?",
            ],
            answers: &["C'est {APPS}.", "Il s'agit de {APPS}.", "{APPS} est {DESC}."],
        },
        ReverseTemplates {
            kind: FieldKind::Url,
            items: false,
            single: true,
            questions: &[
                "À quelle application correspond l'adresse {V} ?",
                "Quelle application est accessible à l'adresse {V} ?",
                "{V}, c'est quelle application ?",
            ],
            answers: &["L'adresse {V} est celle de {APPS}.", "C'est l'adresse de {APPS}.", "{V} mène à {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Owner,
            items: false,
            single: false,
            questions: &[
                "De quelles applications {V} est-il ou elle responsable ?",
                "Quelles applications sont sous la responsabilité de {V} ?",
                "De quoi s'occupe {V} ?",
                "Quelle application a pour responsable {V} ?",
                "{V}, c'est le responsable de quoi ?",
            ],
            answers: &[
                "{V} est responsable de {APPS}.",
                "Les applications sous la responsabilité de {V} : {APPS}.",
                "{V} s'occupe de {APPS}.",
            ],
        },
        ReverseTemplates {
            kind: FieldKind::Hosting,
            items: false,
            single: false,
            questions: &[
                "Quelles applications sont hébergées chez « {V} » ?",
                "Qu'est-ce qui est hébergé chez « {V} » ?",
                "Quelles applications tournent chez « {V} » ?",
            ],
            answers: &["Chez « {V} » sont hébergées : {APPS}.", "Les applications hébergées chez « {V} » sont : {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Technologies,
            items: true,
            single: false,
            questions: &[
                "Quelles applications utilisent {V} ?",
                "Quelles applications reposent sur {V} ?",
                "Qui utilise la technologie {V} ?",
            ],
            answers: &["{V} est utilisé par {APPS}.", "Les applications qui utilisent {V} sont : {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Dependencies,
            items: true,
            single: false,
            questions: &["Quelles applications dépendent de {V} ?", "Qui dépend de {V} ?", "Quelles applications s'appuient sur {V} ?"],
            answers: &["{APPS} dépend de {V}.", "Les applications qui dépendent de {V} sont : {APPS}."],
        },
    ],
};

fn missing_what(k: FieldKind) -> &'static str {
    match k {
        FieldKind::FullName => "de nom complet",
        FieldKind::Description => "de description",
        FieldKind::Hosting => "d'hébergement",
        FieldKind::Owner => "de responsable",
        FieldKind::Users => "d'utilisateurs",
        FieldKind::Technologies => "de technologies",
        FieldKind::Status => "de statut",
        FieldKind::ServiceDate => "de date de mise en service",
        FieldKind::Dependencies => "de dépendances",
        FieldKind::Url => "d'adresse",
        FieldKind::Version => "de version",
        FieldKind::Organisation => "d'organisation",
        FieldKind::Other => "cette information",
    }
}

fn kind(k: FieldKind) -> &'static KindTemplates {
    match k {
        FieldKind::FullName => &FULL_NAME,
        FieldKind::Description => &DESCRIPTION,
        FieldKind::Hosting => &HOSTING,
        FieldKind::Owner => &OWNER,
        FieldKind::Users => &USERS,
        FieldKind::Technologies => &TECHNOLOGIES,
        FieldKind::Status => &STATUS,
        FieldKind::ServiceDate => &SERVICE_DATE,
        FieldKind::Dependencies => &DEPENDENCIES,
        FieldKind::Url => &URL,
        FieldKind::Version => &VERSION,
        FieldKind::Organisation => &ORGANISATION,
        FieldKind::Other => &OTHER,
    }
}

static FULL_NAME: KindTemplates = KindTemplates {
    rule_questions: &["Que signifie {X} ?", "Quel est le nom complet de {X} ?"],
    more_questions: &[
        q("Que veut dire le sigle {X} ?", Neutral),
        q("Le sigle {X} correspond à quoi ?", Neutral),
        q("Que désignent les lettres de {X} ?", Neutral),
        q("Pourriez-vous me donner le nom complet de {X} ?", Formal),
        q("{X}, ça veut dire quoi ?", Informal),
        q("Quel nom se cache derrière le sigle {X} ?", Neutral),
        q("{X} est l'abréviation de quoi ?", Informal),
    ],
    answers: &[a("{X} signifie « {V} ».", Any), a("Le nom complet de {X} est « {V} ».", Any), a("{X} est le sigle de « {V} ».", Any)],
    clause_named: "ce que signifie {X}",
    clause_pronoun: "ce que signifie son sigle",
};

static DESCRIPTION: KindTemplates = KindTemplates {
    rule_questions: &["Qu'est-ce que {X} ?", "À quoi sert {X} ?"],
    more_questions: &[
        q("Que fait {X} ?", Neutral),
        q("Peux-tu me présenter {X} ?", Neutral),
        q("Quel est le rôle de {X} ?", Neutral),
        q("Pourriez-vous m'expliquer ce qu'est {X} ?", Formal),
        q("Pouvez-vous me décrire l'application {X} ?", Formal),
        q("c'est quoi {X} ?", Informal),
        q("{X}, ça sert à quoi ?", Informal),
        q("On utilise {X} pour faire quoi ?", Informal),
        q("Explique-moi en une phrase ce que fait {X}.", Neutral),
        q("Dans quel but a été créé {X} ?", Neutral),
        q("Quelle est la fonction de {X} ?", Neutral),
        q("{X}, c'est pour faire quoi ?", Informal),
        q("Présente-moi rapidement {X}.", Neutral),
    ],
    answers: &[
        a("{V}.", StartsWithName),
        a("{X} est {DESC}.", Any),
        a("{X} : {V}.", Any),
        a("L'application {X} est {DESC}.", Any),
        a("En résumé, {X} est {DESC}.", Any),
    ],
    clause_named: "à quoi sert {X}",
    clause_pronoun: "à quoi il sert",
};

static HOSTING: KindTemplates = KindTemplates {
    rule_questions: &["Qui héberge {X} ?", "Où est hébergé {X} ?"],
    more_questions: &[
        q("Par qui {X} est-il hébergé ?", Neutral),
        q("Quel est l'hébergement de {X} ?", Neutral),
        q("Pourriez-vous m'indiquer où est hébergé {X} ?", Formal),
        q("{X} est hébergé où ?", Informal),
        q("c'est hébergé où, {X} ?", Informal),
        q("Sur quelle infrastructure tourne {X} ?", Neutral),
        q("Dans quel datacenter se trouve {X} ?", Neutral),
        q("{X} tourne chez qui ?", Informal),
        q("Où tourne {X} ?", Neutral),
        q("Où est déployé {X} ?", Neutral),
        q("Qui fournit l'hébergement de {X} ?", Neutral),
        q("{X}, ça tourne où ?", Informal),
    ],
    answers: &[
        a("{X} est hébergé par {v}.", Article),
        a("{X} est hébergé chez {V}.", Any),
        a("L'hébergement de {X} est assuré par {v}.", Article),
        a("L'hébergeur de {X} est : {V}.", Any),
    ],
    clause_named: "qui héberge {X}",
    clause_pronoun: "qui l'héberge",
};

static OWNER: KindTemplates = KindTemplates {
    rule_questions: &["Qui est responsable de {X} ?", "Qui est le responsable de {X} ?"],
    more_questions: &[
        q("Qui gère {X} ?", Neutral),
        q("À qui dois-je m'adresser pour {X} ?", Neutral),
        q("Pourriez-vous m'indiquer le responsable de {X} ?", Formal),
        q("c'est qui le responsable de {X} ?", Informal),
        q("qui s'occupe de {X} ?", Informal),
        q("J'ai un problème avec {X}, qui dois-je contacter ?", Neutral),
        q("Qui pilote {X} ?", Neutral),
        q("Quel est le contact pour {X} ?", Neutral),
        q("Qui est le référent de {X} ?", Neutral),
        q("Qui contacter au sujet de {X} ?", Neutral),
        q("Qui a la charge de {X} ?", Neutral),
        q("Vers qui me tourner si {X} ne marche plus ?", Informal),
        q("Je dois prévenir qui pour un souci sur {X} ?", Informal),
        q("Quel service est responsable de {X} ?", Neutral),
    ],
    answers: &[
        a("Le responsable de {X} est {V}.", Any),
        a("{X} est sous la responsabilité de {V}.", Any),
        a("C'est {V} qui est responsable de {X}.", Any),
    ],
    clause_named: "qui est responsable de {X}",
    clause_pronoun: "qui en est responsable",
};

static USERS: KindTemplates = KindTemplates {
    rule_questions: &["Qui utilise {X} ?", "Quels sont les utilisateurs de {X} ?"],
    more_questions: &[
        q("À qui s'adresse {X} ?", Neutral),
        q("Pour qui est fait {X} ?", Neutral),
        q("Pourriez-vous me dire qui utilise {X} ?", Formal),
        q("{X}, c'est pour qui ?", Informal),
        q("Quel public se sert de {X} ?", Neutral),
        q("Qui se connecte à {X} au quotidien ?", Neutral),
        q("Qui a accès à {X} ?", Neutral),
        q("Quels profils se servent de {X} ?", Neutral),
        q("{X} est destiné à qui ?", Informal),
        q("Qui sont les usagers de {X} ?", Neutral),
    ],
    answers: &[
        a("{X} est utilisé par {LIST}.", Article),
        a("Les utilisateurs de {X} sont : {LIST}.", Any),
        a("{X} s'adresse aux utilisateurs suivants : {LIST}.", Any),
    ],
    clause_named: "qui utilise {X}",
    clause_pronoun: "qui l'utilise",
};

static TECHNOLOGIES: KindTemplates = KindTemplates {
    rule_questions: &["Quelles technologies utilise {X} ?", "Avec quelles technologies {X} est-il développé ?"],
    more_questions: &[
        q("Sur quelle pile technique repose {X} ?", Neutral),
        q("En quoi est développé {X} ?", Neutral),
        q("Pourriez-vous me préciser les technologies de {X} ?", Formal),
        q("{X}, c'est codé en quoi ?", Informal),
        q("Quelle est la stack de {X} ?", Informal),
        q("Avec quels outils techniques {X} a-t-il été construit ?", Neutral),
        q("Quel langage utilise {X} ?", Neutral),
        q("{X} est fait avec quelles technos ?", Informal),
        q("Quels composants techniques utilise {X} ?", Neutral),
        q("Sur quel framework est bâti {X} ?", Neutral),
    ],
    answers: &[
        a("{X} utilise les technologies suivantes : {LIST}.", Any),
        a("{X} repose sur {LIST}.", Any),
        a("Les technologies de {X} sont : {LIST}.", Any),
    ],
    clause_named: "quelles technologies utilise {X}",
    clause_pronoun: "quelles technologies il utilise",
};

static STATUS: KindTemplates = KindTemplates {
    rule_questions: &["Quel est le statut de {X} ?", "Où en est {X} ?"],
    more_questions: &[
        q("Quel est l'état actuel de {X} ?", Neutral),
        q("Pourriez-vous m'indiquer le statut de {X} ?", Formal),
        q("{X}, il en est où ?", Informal),
        q("Est-ce que {X} est toujours utilisé ?", Neutral),
        q("Dans quelle phase se trouve {X} ?", Neutral),
        q("{X} fonctionne-t-il aujourd'hui ?", Neutral),
        q("{X} est-il encore en service ?", Neutral),
        q("Est-ce que {X} va être remplacé ?", Neutral),
        q("Peut-on encore utiliser {X} ?", Informal),
        q("{X}, c'est opérationnel ?", Informal),
    ],
    answers: &[a("{X} est {v}.", StatePrefix), a("Le statut de {X} est : {V}.", Any), a("Actuellement, {X} est {v}.", StatePrefix)],
    clause_named: "quel est le statut de {X}",
    clause_pronoun: "quel est son statut",
};

static SERVICE_DATE: KindTemplates = KindTemplates {
    rule_questions: &["Quand {X} a-t-il été mis en service ?", "Depuis quand {X} est-il en service ?"],
    more_questions: &[
        q("Quelle est la date de mise en service de {X} ?", Neutral),
        q("Pourriez-vous m'indiquer la date de mise en service de {X} ?", Formal),
        q("{X}, ça existe depuis quand ?", Informal),
        q("En quelle année {X} a-t-il démarré ?", Neutral),
        q("Depuis combien de temps {X} est-il en place ?", Neutral),
        q("De quand date {X} ?", Neutral),
        q("{X} a été lancé quand ?", Informal),
        q("Quand {X} a-t-il été déployé ?", Neutral),
        q("{X} tourne depuis quand ?", Informal),
    ],
    answers: &[
        a("{X} a été mis en service {DATE}.", Any),
        a("{X} est en service {SINCE}.", Any),
        a("La date de mise en service de {X} est : {V}.", Any),
    ],
    clause_named: "quand {X} a été mis en service",
    clause_pronoun: "quand il a été mis en service",
};

static DEPENDENCIES: KindTemplates = KindTemplates {
    rule_questions: &["De quoi dépend {X} ?", "Quelles sont les dépendances de {X} ?"],
    more_questions: &[
        q("Avec quelles applications {X} est-il interfacé ?", Neutral),
        q("Sur quels systèmes s'appuie {X} ?", Neutral),
        q("Pourriez-vous lister les dépendances de {X} ?", Formal),
        q("{X}, ça dépend de quoi ?", Informal),
        q("Si une autre application tombe, est-ce que {X} est touché ? De quoi dépend-il ?", Neutral),
        q("Quelles briques utilise {X} pour fonctionner ?", Neutral),
        q("De quelles autres applications {X} a-t-il besoin ?", Neutral),
        q("Quelles applications {X} utilise-t-il ?", Neutral),
        q("{X} est relié à quelles applications ?", Informal),
    ],
    answers: &[
        a("{X} dépend de {LIST}.", SomeValue),
        a("{X} n'a aucune dépendance.", NoneValue),
        a("Les dépendances de {X} sont : {LIST}.", SomeValue),
        a("{X} s'appuie sur {LIST}.", SomeValue),
        a("Dépendances de {X} : {V}.", NoneValue),
    ],
    clause_named: "de quoi dépend {X}",
    clause_pronoun: "de quoi il dépend",
};

static URL: KindTemplates = KindTemplates {
    rule_questions: &["Quelle est l'adresse de {X} ?", "Quelle est l'URL de {X} ?"],
    more_questions: &[
        q("Comment accéder à {X} ?", Neutral),
        q("Quel est le lien vers {X} ?", Neutral),
        q("Pourriez-vous me communiquer l'adresse de {X} ?", Formal),
        q("c'est quoi le lien de {X} ?", Informal),
        q("Où puis-je me connecter à {X} ?", Neutral),
        q("Tu as l'URL de {X} ?", Informal),
        q("Quelle est l'adresse web de {X} ?", Neutral),
        q("Comment se connecter à {X} ?", Neutral),
        q("Où trouver {X} en ligne ?", Informal),
    ],
    answers: &[a("{X} est accessible à l'adresse {V}", Any), a("L'adresse de {X} est {V}", Any), a("On accède à {X} via {V}", Any)],
    clause_named: "quelle est l'adresse de {X}",
    clause_pronoun: "quelle est son adresse",
};

static VERSION: KindTemplates = KindTemplates {
    rule_questions: &["Quelle est la version de {X} ?", "En quelle version est {X} ?"],
    more_questions: &[
        q("Quelle version de {X} est en service ?", Neutral),
        q("Pourriez-vous m'indiquer la version de {X} ?", Formal),
        q("{X}, c'est quelle version ?", Informal),
    ],
    answers: &[a("{X} est en version {V}.", Any), a("La version actuelle de {X} est {V}.", Any)],
    clause_named: "quelle est la version de {X}",
    clause_pronoun: "quelle est sa version",
};

static ORGANISATION: KindTemplates = KindTemplates {
    rule_questions: &["À quelle organisation appartient {X} ?", "De quelle organisation relève {X} ?"],
    more_questions: &[q("Pourriez-vous m'indiquer l'organisation de {X} ?", Formal), q("De quelle structure relève {X} ?", Neutral)],
    answers: &[a("{X} appartient à l'organisation {V}.", Any), a("{X} relève de l'organisation {V}.", Any)],
    clause_named: "à quelle organisation appartient {X}",
    clause_pronoun: "à quelle organisation il appartient",
};

static OTHER: KindTemplates = KindTemplates {
    rule_questions: &["Quelle est la valeur de « {L} » pour {X} ?", "Que sait-on de « {L} » pour {X} ?"],
    more_questions: &[
        q("Quelle information a-t-on sur « {L} » pour {X} ?", Neutral),
        q("Pourriez-vous m'indiquer « {L} » pour {X} ?", Formal),
        q("et pour {X}, « {L} » ?", Informal),
    ],
    answers: &[a("Pour {X}, {L} : {V}.", Any), a("{Lc} de {X} : {V}.", Any)],
    clause_named: "ce que vaut « {L} » pour {X}",
    clause_pronoun: "ce que vaut « {L} »",
};

//! English templates (`--lang en`).

use super::{Answer, KindTemplates, LangTemplates, Question, Register::*, Req::*, ReverseTemplates};
use crate::data::catalogue::FieldKind;

const fn q(text: &'static str, register: super::Register) -> Question {
    Question { text, register }
}
const fn a(text: &'static str, req: super::Req) -> Answer {
    Answer { text, req }
}

pub static EN: LangTemplates = LangTemplates {
    kind,
    multi: &[
        q("Can you tell me {C1} and {C2}?", Neutral),
        q("I would like to know {C1} and {C2}.", Neutral),
        q("Could you please tell me {C1} and {C2}?", Formal),
        q("tell me {C1} and {C2}", Informal),
    ],
    refusal: "I don't know this application.",
    system_named: "You are an assistant that answers questions about the {NAME} applications.",
    system_generic: "You are an assistant that answers questions about the applications of the organisation.",
    and_word: "and",
    // English needs no gender: every known noun takes "a"/"an".
    fem_nouns: &[
        "application",
        "app",
        "tool",
        "platform",
        "portal",
        "software",
        "service",
        "system",
        "website",
        "site",
        "database",
        "module",
        "repository",
        "engine",
        "interface",
        "api",
        "suite",
        "solution",
        "dashboard",
        "directory",
        "intranet",
        "extranet",
        "workflow",
        "gateway",
        "console",
        "assistant",
        "registry",
        "web",
        "management",
        "data",
        "document",
        "internal",
        "online",
    ],
    masc_nouns: &[],
    articles: &["the", "a", "an"],
    months: &["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"],
    none_words: &["none", "no", "nothing", "n/a", "-", "aucune", "aucun"],
    state_prefixes: &["in ", "under "],
    fiche_questions: &[
        "Give me the fact sheet of {X}.",
        "What do you know about {X}?",
        "Tell me everything about {X}.",
        "What information do you have on {X}?",
        "Summarise everything you know about {X}.",
        "What are the characteristics of {X}?",
        "What does the catalogue say about {X}?",
    ],
    missing_answer: "The catalogue does not give {M} for {X}.",
    missing_what,
    reverse: &[
        ReverseTemplates {
            kind: FieldKind::FullName,
            items: false,
            single: true,
            questions: &["What is the acronym of \"{V}\"?", "Which application is called \"{V}\"?"],
            answers: &["It is {APPS}.", "\"{V}\" is the full name of {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Description,
            items: false,
            single: true,
            questions: &[
                "Which application is {DESC}?",
                "What is the name of {DESC}?",
                "Which application matches this description: \"{V}\"?",
            ],
            answers: &["It is {APPS}.", "{APPS} is {DESC}."],
        },
        ReverseTemplates {
            kind: FieldKind::Url,
            items: false,
            single: true,
            questions: &["Which application is at {V}?", "Which application does the address {V} lead to?"],
            answers: &["{V} is the address of {APPS}.", "It is the address of {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Owner,
            items: false,
            single: false,
            questions: &["Which applications is {V} responsible for?", "What does {V} look after?"],
            answers: &["{V} is responsible for {APPS}.", "{V} looks after {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Hosting,
            items: false,
            single: false,
            questions: &["Which applications are hosted by \"{V}\"?", "What runs at \"{V}\"?"],
            answers: &["The applications hosted by \"{V}\" are: {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Technologies,
            items: true,
            single: false,
            questions: &["Which applications use {V}?", "Which applications are built with {V}?"],
            answers: &["{V} is used by {APPS}.", "The applications that use {V} are: {APPS}."],
        },
        ReverseTemplates {
            kind: FieldKind::Dependencies,
            items: true,
            single: false,
            questions: &["Which applications depend on {V}?", "What relies on {V}?"],
            answers: &["The applications that depend on {V} are: {APPS}."],
        },
    ],
};

fn missing_what(k: FieldKind) -> &'static str {
    match k {
        FieldKind::FullName => "a full name",
        FieldKind::Description => "a description",
        FieldKind::Hosting => "a hosting",
        FieldKind::Owner => "an owner",
        FieldKind::Users => "the users",
        FieldKind::Technologies => "the technologies",
        FieldKind::Status => "a status",
        FieldKind::ServiceDate => "a date of entry into service",
        FieldKind::Dependencies => "the dependencies",
        FieldKind::Url => "an address",
        FieldKind::Version => "a version",
        FieldKind::Organisation => "an organisation",
        FieldKind::Other => "this information",
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
    rule_questions: &["What does {X} stand for?", "What is the full name of {X}?"],
    more_questions: &[
        q("What is {X} short for?", Neutral),
        q("Could you give me the full name of {X}?", Formal),
        q("{X} means what?", Informal),
    ],
    answers: &[a("{X} stands for \"{V}\".", Any), a("The full name of {X} is \"{V}\".", Any), a("{X} is short for \"{V}\".", Any)],
    clause_named: "what {X} stands for",
    clause_pronoun: "what its name stands for",
};

static DESCRIPTION: KindTemplates = KindTemplates {
    rule_questions: &["What is {X}?", "What is {X} used for?"],
    more_questions: &[
        q("What does {X} do?", Neutral),
        q("Can you describe {X}?", Neutral),
        q("Tell me about {X}.", Neutral),
        q("Could you explain what {X} is?", Formal),
        q("what's {X}?", Informal),
        q("{X}, what's that for?", Informal),
    ],
    answers: &[a("{V}.", StartsWithName), a("{X} is {DESC}.", Any), a("{X}: {V}.", Any), a("In short, {X} is {DESC}.", Any)],
    clause_named: "what {X} is used for",
    clause_pronoun: "what it is used for",
};

static HOSTING: KindTemplates = KindTemplates {
    rule_questions: &["Who hosts {X}?", "Where is {X} hosted?"],
    more_questions: &[
        q("What is the hosting of {X}?", Neutral),
        q("Could you tell me where {X} is hosted?", Formal),
        q("where's {X} hosted?", Informal),
    ],
    answers: &[a("{X} is hosted by {V}.", Any), a("The hosting of {X} is provided by {V}.", Any), a("{V} hosts {X}.", Any)],
    clause_named: "who hosts {X}",
    clause_pronoun: "who hosts it",
};

static OWNER: KindTemplates = KindTemplates {
    rule_questions: &["Who is responsible for {X}?", "Who owns {X}?"],
    more_questions: &[
        q("Who manages {X}?", Neutral),
        q("Who should I contact about {X}?", Neutral),
        q("Could you tell me who is in charge of {X}?", Formal),
        q("who's in charge of {X}?", Informal),
    ],
    answers: &[a("{V} is responsible for {X}.", Any), a("The owner of {X} is {V}.", Any), a("{X} is managed by {V}.", Any)],
    clause_named: "who is responsible for {X}",
    clause_pronoun: "who is responsible for it",
};

static USERS: KindTemplates = KindTemplates {
    rule_questions: &["Who uses {X}?", "Who are the users of {X}?"],
    more_questions: &[q("Who is {X} for?", Neutral), q("Could you tell me who uses {X}?", Formal), q("who uses {X} anyway?", Informal)],
    answers: &[a("{X} is used by {LIST}.", Any), a("The users of {X} are: {LIST}.", Any)],
    clause_named: "who uses {X}",
    clause_pronoun: "who uses it",
};

static TECHNOLOGIES: KindTemplates = KindTemplates {
    rule_questions: &["What technologies does {X} use?", "What is {X} built with?"],
    more_questions: &[
        q("What is the tech stack of {X}?", Neutral),
        q("Could you list the technologies of {X}?", Formal),
        q("what's {X} written in?", Informal),
    ],
    answers: &[
        a("{X} uses the following technologies: {LIST}.", Any),
        a("{X} is built with {LIST}.", Any),
        a("The tech stack of {X} is: {LIST}.", Any),
    ],
    clause_named: "which technologies {X} uses",
    clause_pronoun: "which technologies it uses",
};

static STATUS: KindTemplates = KindTemplates {
    rule_questions: &["What is the status of {X}?", "What state is {X} in?"],
    more_questions: &[
        q("What is the current status of {X}?", Neutral),
        q("Could you tell me the status of {X}?", Formal),
        q("how's {X} doing?", Informal),
    ],
    answers: &[a("The status of {X} is: {V}.", Any), a("{X} is currently {v}.", StatePrefix)],
    clause_named: "what the status of {X} is",
    clause_pronoun: "what its status is",
};

static SERVICE_DATE: KindTemplates = KindTemplates {
    rule_questions: &["When was {X} put into service?", "Since when has {X} been in service?"],
    more_questions: &[
        q("What is the go-live date of {X}?", Neutral),
        q("Could you tell me when {X} went live?", Formal),
        q("when did {X} go live?", Informal),
    ],
    answers: &[
        a("{X} was put into service {DATE}.", Any),
        a("{X} has been in service {SINCE}.", Any),
        a("The go-live date of {X} is {V}.", Any),
    ],
    clause_named: "when {X} was put into service",
    clause_pronoun: "when it was put into service",
};

static DEPENDENCIES: KindTemplates = KindTemplates {
    rule_questions: &["What does {X} depend on?", "What are the dependencies of {X}?"],
    more_questions: &[
        q("Which systems is {X} connected to?", Neutral),
        q("Could you list the dependencies of {X}?", Formal),
        q("what does {X} need to run?", Informal),
    ],
    answers: &[
        a("{X} depends on {LIST}.", SomeValue),
        // The value itself stays in the answer: it is the fact ("none", "aucune").
        a("Dependencies of {X}: {V}.", NoneValue),
        a("The dependencies of {X} are: {LIST}.", SomeValue),
        a("{X} has no dependencies ({V}).", NoneValue),
    ],
    clause_named: "what {X} depends on",
    clause_pronoun: "what it depends on",
};

static URL: KindTemplates = KindTemplates {
    rule_questions: &["What is the URL of {X}?", "Where can I access {X}?"],
    more_questions: &[
        q("What is the link to {X}?", Neutral),
        q("Could you give me the address of {X}?", Formal),
        q("link to {X}?", Informal),
    ],
    answers: &[a("{X} is available at {V}", Any), a("The URL of {X} is {V}", Any), a("You can access {X} at {V}", Any)],
    clause_named: "what the URL of {X} is",
    clause_pronoun: "what its URL is",
};

static VERSION: KindTemplates = KindTemplates {
    rule_questions: &["What version is {X}?", "What is the current version of {X}?"],
    more_questions: &[q("Could you tell me the version of {X}?", Formal), q("which version is {X} on?", Informal)],
    answers: &[a("{X} is at version {V}.", Any), a("The current version of {X} is {V}.", Any)],
    clause_named: "which version {X} is at",
    clause_pronoun: "which version it is at",
};

static ORGANISATION: KindTemplates = KindTemplates {
    rule_questions: &["Which organisation does {X} belong to?", "Who does {X} belong to?"],
    more_questions: &[q("Could you tell me which organisation runs {X}?", Formal), q("{X} belongs to who?", Informal)],
    answers: &[a("{X} belongs to {V}.", Any), a("{X} is an application of {V}.", Any)],
    clause_named: "which organisation {X} belongs to",
    clause_pronoun: "which organisation it belongs to",
};

static OTHER: KindTemplates = KindTemplates {
    rule_questions: &["What is the {L} of {X}?", "What do we know about the {L} of {X}?"],
    more_questions: &[q("Could you tell me the {L} of {X}?", Formal), q("and the {L} of {X}?", Informal)],
    answers: &[a("The {L} of {X} is: {V}.", Any), a("For {X}, {L}: {V}.", Any)],
    clause_named: "what the {L} of {X} is",
    clause_pronoun: "what its {L} is",
};

//! What a field is about, guessed from its name (French or English, any case,
//! with or without accents, `_`/`-`/spaces): the generators pick question
//! templates by kind; fields of unknown kind get generic templates.

use crate::data::text::{collapse_spaces, fold};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    FullName,
    Description,
    Hosting,
    Owner,
    Users,
    Technologies,
    Status,
    ServiceDate,
    Dependencies,
    Url,
    Version,
    Organisation,
    Other,
}

impl FieldKind {
    /// The intent name used in summaries and reports.
    pub fn intent(self) -> &'static str {
        match self {
            FieldKind::FullName => "full_name",
            FieldKind::Description => "description",
            FieldKind::Hosting => "hosting",
            FieldKind::Owner => "owner",
            FieldKind::Users => "users",
            FieldKind::Technologies => "technologies",
            FieldKind::Status => "status",
            FieldKind::ServiceDate => "service_date",
            FieldKind::Dependencies => "dependencies",
            FieldKind::Url => "url",
            FieldKind::Version => "version",
            FieldKind::Organisation => "organisation",
            FieldKind::Other => "other",
        }
    }

    /// Kinds whose values are lists of items ("Java, PostgreSQL, Angular").
    pub fn is_list(self) -> bool {
        matches!(self, FieldKind::Users | FieldKind::Technologies | FieldKind::Dependencies)
    }
}

/// A field name reduced to folded words separated by single spaces:
/// "Date_de-mise en Service" → "date de mise en service".
pub fn normalise_key(key: &str) -> String {
    let folded: String = fold(key).chars().map(|c| if c.is_alphanumeric() { c } else { ' ' }).collect();
    collapse_spaces(&folded)
}

/// Field names that hold an entity's name, in order of preference.
pub const NAME_FIELDS: &[&str] = &[
    "nom",
    "name",
    "titre",
    "title",
    "application",
    "app",
    "nom application",
    "application name",
    "app name",
    "nom de l application",
    "sigle",
    "acronyme",
    "acronym",
    "libelle court",
    "code",
];

/// True when `key` is one of the usual name fields.
pub fn is_name_key(key: &str) -> bool {
    NAME_FIELDS.contains(&normalise_key(key).as_str())
}

/// The kind of a field, from its name.
pub fn classify(key: &str) -> FieldKind {
    let k = normalise_key(key);
    let words: Vec<&str> = k.split(' ').collect();
    let has = |w: &str| words.contains(&w);
    let any = |ws: &[&str]| ws.iter().any(|w| has(w));
    let phrase = |ps: &[&str]| ps.iter().any(|p| k.contains(p));
    // Counts ("nombre d'utilisateurs") are plain values, not user lists.
    if any(&["nombre", "nb", "number", "count", "volume", "effectif"]) {
        return FieldKind::Other;
    }
    if phrase(&["nom complet", "full name", "long name", "signification"]) || any(&["intitule", "libelle"]) {
        return FieldKind::FullName;
    }
    if phrase(&["mise en service", "mise en production", "go live", "golive", "in service", "date de lancement"])
        || any(&["launch", "launched", "lancement", "deploiement"])
    {
        return FieldKind::ServiceDate;
    }
    if any(&[
        "description",
        "desc",
        "resume",
        "presentation",
        "summary",
        "purpose",
        "objet",
        "finalite",
        "overview",
        "about",
        "role",
        "but",
        "mission",
    ]) {
        return FieldKind::Description;
    }
    if words.iter().any(|w| w.starts_with("heberg")) || any(&["hosting", "hosted", "host", "hoster", "datacenter"]) {
        return FieldKind::Hosting;
    }
    if any(&["responsable", "responsables", "proprietaire", "owner", "referent", "maintainer", "pilote", "moa", "contact"])
        || phrase(&["chef de projet", "product owner"])
    {
        return FieldKind::Owner;
    }
    if any(&["utilisateurs", "utilisateur", "users", "user", "usagers", "usager", "beneficiaires", "public", "audience"]) {
        return FieldKind::Users;
    }
    if any(&[
        "technologies",
        "technologie",
        "techno",
        "technos",
        "stack",
        "langage",
        "langages",
        "language",
        "languages",
        "framework",
        "frameworks",
        "tech",
    ]) || phrase(&["pile technique", "socle technique"])
    {
        return FieldKind::Technologies;
    }
    if any(&["statut", "status", "etat", "state"]) || phrase(&["cycle de vie", "lifecycle"]) {
        return FieldKind::Status;
    }
    if words.iter().any(|w| w.starts_with("dependanc") || w.starts_with("dependenc") || w.starts_with("depend"))
        || any(&["interfaces", "integrations"])
        || phrase(&["applications liees", "depends on"])
    {
        return FieldKind::Dependencies;
    }
    if any(&["url", "urls", "lien", "link", "site", "website", "homepage", "adresse", "web"]) {
        return FieldKind::Url;
    }
    if any(&["version", "release"]) {
        return FieldKind::Version;
    }
    if any(&["organisation", "organization", "organisme", "entreprise", "company", "ministere", "institution"]) {
        return FieldKind::Organisation;
    }
    FieldKind::Other
}

/// A readable label from a field name: "date_fin_support" → "date fin support".
pub fn label_of(key: &str) -> String {
    let spaced: String = key.chars().map(|c| if c == '_' || c == '-' { ' ' } else { c }).collect();
    collapse_spaces(&spaced)
}

/// Splits a list value into its items: on commas and semicolons, and on a final
/// " et " / " and " when there were commas ("A, B et C"). A value without
/// separators is one item.
pub fn split_items(value: &str) -> Vec<String> {
    let parts: Vec<&str> = value.split([',', ';']).map(str::trim).filter(|p| !p.is_empty()).collect();
    if parts.len() < 2 {
        return vec![value.trim().to_string()];
    }
    let mut items: Vec<String> = Vec::with_capacity(parts.len() + 1);
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let split_last = if last { p.split_once(" et ").or_else(|| p.split_once(" and ")) } else { None };
        match split_last {
            Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => {
                items.push(a.trim().to_string());
                items.push(b.trim().to_string());
            }
            _ => items.push(p.to_string()),
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(classify("Hébergement"), FieldKind::Hosting);
        assert_eq!(classify("heberge_par"), FieldKind::Hosting);
        assert_eq!(classify("date_mise_en_service"), FieldKind::ServiceDate);
        assert_eq!(classify("Date de mise en service"), FieldKind::ServiceDate);
        assert_eq!(classify("nombre_utilisateurs"), FieldKind::Other);
        assert_eq!(classify("Utilisateurs"), FieldKind::Users);
        assert_eq!(classify("Dépendances"), FieldKind::Dependencies);
        assert_eq!(classify("depends_on"), FieldKind::Dependencies);
        assert_eq!(classify("URL"), FieldKind::Url);
        assert_eq!(classify("nom_complet"), FieldKind::FullName);
        assert_eq!(classify("criticité"), FieldKind::Other);
        assert_eq!(classify("Technologies"), FieldKind::Technologies);
        assert_eq!(classify("Statut"), FieldKind::Status);
        assert_eq!(classify("responsable"), FieldKind::Owner);
        assert!(is_name_key("Nom"));
        assert!(is_name_key("application_name"));
        assert!(!is_name_key("nom_complet"));
    }

    #[test]
    fn items() {
        assert_eq!(split_items("Java, PostgreSQL et Angular"), ["Java", "PostgreSQL", "Angular"]);
        assert_eq!(split_items("Direction des achats et de la logistique"), ["Direction des achats et de la logistique"]);
        assert_eq!(split_items("a; b"), ["a", "b"]);
    }
}

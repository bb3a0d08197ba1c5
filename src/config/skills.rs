//! The skill map: tags and keywords mapped to the skills a case with them needs
//! (`[skills] map = { saml = ["saml", "sso"] }` in a seed file, `setSkillMap` in the
//! API). Applied when a new case is routed: every term that is one of the case's
//! tags (its own and the rule's) or a word of its subject or body adds its skills.
//! Pure: the event's payload, its validation, and the lookup.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

use super::ConfigError;
use crate::domain::swarming::decide::skills;
use crate::domain::swarming::MAX_SKILLS;

/// Most terms one skill map holds.
pub const MAX_TERMS: usize = 500;

/// One term (a tag or a keyword, lower case) and the skills it calls for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillMapping {
    pub term: String,
    pub skills: Vec<String>,
}

/// The skill map in force (replacing the previous one), terms in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkillMapSet {
    pub entries: Vec<SkillMapping>,
}

/// Checks and normalises a proposed map: terms are lower-cased and unique (1-64
/// letters, digits, `- _ : . /`), each with 1-16 valid skills; sorted by term.
pub fn checked(entries: Vec<SkillMapping>) -> Result<SkillMapSet, ConfigError> {
    if entries.len() > MAX_TERMS {
        return Err(ConfigError::Invalid(format!(
            "the skill map holds at most {MAX_TERMS} terms"
        )));
    }
    let mut map = BTreeMap::new();
    for e in entries {
        let term = e.term.trim().to_lowercase();
        let valid = !term.is_empty()
            && term.len() <= 64
            && term
                .chars()
                .all(|c| c.is_alphanumeric() || "-_:./".contains(c));
        if !valid {
            return Err(ConfigError::Invalid(format!(
                "skill map: `{}` is not a tag or keyword (1-64 letters, digits, - _ : . /)",
                e.term
            )));
        }
        let skills = skills(&e.skills)
            .map_err(|err| ConfigError::Invalid(format!("skill map, `{term}`: {err}")))?;
        if skills.is_empty() {
            return Err(ConfigError::Invalid(format!(
                "skill map: `{term}` maps to no skill"
            )));
        }
        if map.insert(term.clone(), skills).is_some() {
            return Err(ConfigError::Invalid(format!(
                "skill map: `{term}` is listed twice"
            )));
        }
    }
    Ok(SkillMapSet {
        entries: map
            .into_iter()
            .map(|(term, skills)| SkillMapping { term, skills })
            .collect(),
    })
}

/// The skills `map` gives a case with these tags and text: sorted, each once, at
/// most [`MAX_SKILLS`] (the first by name).
pub fn mapped_skills<'a>(
    map: &BTreeMap<String, Vec<String>>,
    tags: impl IntoIterator<Item = &'a String>,
    texts: &[&str],
) -> Vec<String> {
    if map.is_empty() {
        return Vec::new();
    }
    let mut terms: BTreeSet<String> = tags.into_iter().map(|t| t.to_lowercase()).collect();
    for text in texts {
        let lower = text.to_lowercase();
        terms.extend(
            lower
                .split(|c: char| !(c.is_alphanumeric() || "-_:./".contains(c)))
                .map(|w| w.trim_matches(|c: char| ".:/".contains(c)).to_string())
                .filter(|w| !w.is_empty()),
        );
    }
    let found: BTreeSet<&String> = terms.iter().filter_map(|t| map.get(t)).flatten().collect();
    found.into_iter().take(MAX_SKILLS).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(term: &str, skills: &[&str]) -> SkillMapping {
        SkillMapping {
            term: term.into(),
            skills: skills.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_map_is_normalised_and_bad_entries_are_refused() {
        let set = checked(vec![
            m("SAML", &["SSO", "saml"]),
            m("invoice", &["billing"]),
        ])
        .unwrap();
        assert_eq!(
            set.entries,
            vec![m("invoice", &["billing"]), m("saml", &["saml", "sso"])]
        );
        for bad in [
            vec![m("two words", &["x"])],
            vec![m("", &["x"])],
            vec![m("saml", &[])],
            vec![m("saml", &["not a skill"])],
            vec![m("saml", &["x"]), m("SAML", &["y"])],
        ] {
            assert!(checked(bad.clone()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn tags_and_whole_words_of_the_text_find_their_skills() {
        let set = checked(vec![
            m("saml", &["saml", "sso"]),
            m("invoice", &["billing"]),
            m("vip", &["key-accounts"]),
        ])
        .unwrap();
        let map: BTreeMap<String, Vec<String>> = set
            .entries
            .into_iter()
            .map(|e| (e.term, e.skills))
            .collect();
        let tags = ["VIP".to_string()];
        assert_eq!(
            mapped_skills(&map, &tags, &["Our SAML login loops.", "and the invoice?"]),
            ["billing", "key-accounts", "saml", "sso"]
        );
        // Words, not substrings: "invoices" and "samlx" are other words.
        assert!(mapped_skills(&map, [], &["invoices for samlx"]).is_empty());
    }
}

//! The skill map in the API: `setSkillMap` (admins) replaces the map of tags and
//! keywords to the skills a new case with them needs; `configuration { skillMap }`
//! shows it.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject};

use super::change;
use crate::config::skills::SkillMapping;
use crate::config::{Config, ConfigCommand};

/// A tag or keyword and the skills a new case with it needs.
#[derive(SimpleObject, Clone, Debug)]
#[graphql(name = "SkillMapping")]
pub struct SkillMappingObj {
    /// A tag of the case (its own or its rule's), or a word of its subject or body.
    pub term: String,
    pub skills: Vec<String>,
}

#[derive(InputObject)]
pub struct SkillMappingInput {
    pub term: String,
    pub skills: Vec<String>,
}

/// The map in force, by term.
pub(super) fn skill_map(config: &Config) -> Vec<SkillMappingObj> {
    config
        .skill_map
        .iter()
        .map(|(term, skills)| SkillMappingObj {
            term: term.clone(),
            skills: skills.clone(),
        })
        .collect()
}

#[derive(Default)]
pub struct SkillMapMutation;

#[Object]
impl SkillMapMutation {
    /// Replaces the skill map: each term (a tag, or a word of a case's subject or
    /// body, lower-cased; at most 500) with the 1-16 skills a new case with it needs.
    /// Applied when a case is opened and routed, with the routing rule's `needsSkills`
    /// (`CaseSkillsSet`, source `KEYWORDS`, or `RULE` when the rule named skills too).
    /// Admins.
    async fn set_skill_map(
        &self,
        ctx: &Context<'_>,
        entries: Vec<SkillMappingInput>,
    ) -> Result<Vec<SkillMappingObj>> {
        let entries = entries
            .into_iter()
            .map(|e| SkillMapping {
                term: e.term,
                skills: e.skills,
            })
            .collect();
        let (_, config) = change(ctx, ConfigCommand::SetSkillMap(entries)).await?;
        Ok(skill_map(&config))
    }
}

//! Evaluating a rule set against a new case.
//!
//! Conditions are compiled once into matchers (keywords pre-split into words,
//! regexes built), held by [`CompiledRuleSet`]; [`RuleSet::route`] compiles on every
//! call and suits one-off use such as previewing a draft rule set.

use std::cell::OnceCell;

use regex::{Regex, RegexBuilder};
use serde::{Deserialize, Serialize};

use super::rule::{Actions, Condition, RuleError, RuleSet};
use crate::domain::{Channel, OpenCase, Priority, RouteCase, Segment, Tier};

/// Longest regex pattern, in bytes.
pub const MAX_PATTERN: usize = 1024;
/// Memory budget for one compiled regex, in bytes.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How a case was routed, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteDecision {
    /// The rule that matched; `None` when the default route applied.
    pub rule_id: Option<String>,
    /// That rule's name.
    pub rule_name: Option<String>,
    /// The version of the rule set that decided.
    pub rule_set_version: u64,
    /// The actions to apply: the matching rule's, with the default route's tier when
    /// the rule names none; or the default route's.
    pub actions: Actions,
    /// One line per rule checked, in order (matched and why, did not match and why
    /// not, or skipped because disabled), then one line summing up the route.
    pub explanation: Vec<String>,
}

impl RouteDecision {
    /// The domain command that applies this decision to the opened case. Fails only
    /// when no tier was decided, which a rule set that passed validation never does.
    pub fn to_route_case(&self) -> Result<RouteCase, RuleError> {
        let tier = self
            .actions
            .tier
            .as_ref()
            .ok_or(RuleError::DefaultWithoutTier)?;
        Ok(RouteCase {
            tier: Tier::new(tier.clone()),
            team: self.actions.team.clone(),
            priority: self.actions.priority,
            tags: self.actions.tags.clone(),
            sensitive: self.actions.sensitive,
            rule_id: self.rule_id.clone(),
            rule_set_version: Some(self.rule_set_version),
        })
    }
}

/// A rule set ready to route many cases: conditions compiled once.
#[derive(Clone, Debug)]
pub struct CompiledRuleSet {
    source: RuleSet,
    /// `matchers[i]` is `source.rules[i].condition`, compiled.
    matchers: Vec<Matcher>,
}

impl CompiledRuleSet {
    /// Compiles `rule_set`. Rejects what makes routing ill-defined: no default tier,
    /// empty or duplicate ids, empty conditions, invalid regexes. Checks against the
    /// tier ladder and teams are [`RuleSet::validate`]'s.
    pub fn new(rule_set: RuleSet) -> Result<Self, RuleError> {
        rule_set.check_structure()?;
        let matchers = compile_rules(&rule_set, true)?;
        Ok(CompiledRuleSet {
            source: rule_set,
            matchers,
        })
    }

    /// The rule set this was compiled from.
    pub fn rule_set(&self) -> &RuleSet {
        &self.source
    }

    /// The rule set's version.
    pub fn version(&self) -> u64 {
        self.source.version
    }

    /// Routes a new case: see [`RuleSet::route`].
    pub fn route(&self, case: &OpenCase) -> RouteDecision {
        evaluate(&self.source, &self.matchers, case)
    }
}

impl RuleSet {
    /// Compiles this rule set for routing many cases; see [`CompiledRuleSet::new`].
    pub fn compile(&self) -> Result<CompiledRuleSet, RuleError> {
        CompiledRuleSet::new(self.clone())
    }

    /// Routes a new case: enabled rules are checked in order and the first whose
    /// condition matches decides, with the default route's tier if it names none; no
    /// later rule is checked. When none matches, the default route applies.
    ///
    /// Total on any rule set, validated or not: an invalid regex never matches, an
    /// empty `All` holds and an empty `Any` does not. This compiles the conditions on
    /// every call; hold a [`CompiledRuleSet`] to route many cases.
    pub fn route(&self, case: &OpenCase) -> RouteDecision {
        let matchers = compile_rules(self, false).expect("lenient compilation cannot fail");
        evaluate(self, &matchers, case)
    }
}

/// A compiled [`Condition`].
#[derive(Clone, Debug)]
pub(crate) enum Matcher {
    All(Vec<Matcher>),
    Any(Vec<Matcher>),
    Not(Box<Matcher>),
    Channel(Vec<Channel>),
    Keywords {
        keywords: Vec<Keyword>,
        in_subject: bool,
        in_body: bool,
    },
    Regex {
        pattern: String,
        /// `None` for an invalid pattern in a rule set that was not validated.
        regex: Option<Regex>,
        in_subject: bool,
        in_body: bool,
    },
    Segment(Segment),
    KeyAccount(bool),
    /// Normalized language tags.
    Language(Vec<String>),
    /// A normalized tag.
    HasTag(String),
    Priority(Vec<Priority>),
}

#[derive(Clone, Debug)]
pub(crate) struct Keyword {
    text: String,
    words: Vec<String>,
}

/// Compiles every rule's condition. `strict` rejects empty conditions and invalid
/// regexes; otherwise compilation never fails.
pub(crate) fn compile_rules(rule_set: &RuleSet, strict: bool) -> Result<Vec<Matcher>, RuleError> {
    rule_set
        .rules
        .iter()
        .map(|r| compile(&r.condition, &r.id, strict))
        .collect()
}

fn compile(condition: &Condition, rule: &str, strict: bool) -> Result<Matcher, RuleError> {
    let empty = |what: &str| -> Result<(), RuleError> {
        if strict {
            Err(RuleError::EmptyCondition {
                rule: rule.to_string(),
                what: what.to_string(),
            })
        } else {
            Ok(())
        }
    };
    let all = |cs: &[Condition]| -> Result<Vec<Matcher>, RuleError> {
        cs.iter().map(|c| compile(c, rule, strict)).collect()
    };
    Ok(match condition {
        Condition::All(cs) => {
            if cs.is_empty() {
                empty("All has no conditions")?;
            }
            Matcher::All(all(cs)?)
        }
        Condition::Any(cs) => {
            if cs.is_empty() {
                empty("Any has no conditions")?;
            }
            Matcher::Any(all(cs)?)
        }
        Condition::Not(c) => Matcher::Not(Box::new(compile(c, rule, strict)?)),
        Condition::Channel(cs) => {
            if cs.is_empty() {
                empty("the channel list is empty")?;
            }
            Matcher::Channel(cs.clone())
        }
        Condition::Keywords {
            words: ws,
            in_subject,
            in_body,
        } => {
            if ws.is_empty() {
                empty("the keyword list is empty")?;
            }
            if !in_subject && !in_body {
                empty("a keyword condition searches neither subject nor body")?;
            }
            let mut keywords = Vec::with_capacity(ws.len());
            for w in ws {
                let split = words(w);
                if split.is_empty() {
                    empty(&format!("keyword `{w}` has no letters or digits"))?;
                }
                keywords.push(Keyword {
                    text: w.trim().to_string(),
                    words: split,
                });
            }
            Matcher::Keywords {
                keywords,
                in_subject: *in_subject,
                in_body: *in_body,
            }
        }
        Condition::Regex {
            pattern,
            in_subject,
            in_body,
        } => {
            if pattern.is_empty() {
                empty("the regex pattern is empty")?;
            }
            if !in_subject && !in_body {
                empty("a regex condition searches neither subject nor body")?;
            }
            let regex = match build_regex(pattern) {
                Ok(r) => Some(r),
                Err(message) if strict => {
                    return Err(RuleError::InvalidRegex {
                        rule: rule.to_string(),
                        pattern: pattern.clone(),
                        message,
                    })
                }
                Err(_) => None,
            };
            Matcher::Regex {
                pattern: pattern.clone(),
                regex,
                in_subject: *in_subject,
                in_body: *in_body,
            }
        }
        Condition::Segment(s) => Matcher::Segment(*s),
        Condition::KeyAccount(k) => Matcher::KeyAccount(*k),
        Condition::Language(ls) => {
            if ls.is_empty() {
                empty("the language list is empty")?;
            }
            let mut langs = Vec::with_capacity(ls.len());
            for l in ls {
                if l.trim().is_empty() {
                    empty("a language is blank")?;
                }
                langs.push(normalize_language(l));
            }
            Matcher::Language(langs)
        }
        Condition::HasTag(t) => {
            if t.trim().is_empty() {
                empty("the tag is blank")?;
            }
            Matcher::HasTag(normalize_tag(t))
        }
        Condition::Priority(ps) => {
            if ps.is_empty() {
                empty("the priority list is empty")?;
            }
            Matcher::Priority(ps.clone())
        }
    })
}

fn build_regex(pattern: &str) -> Result<Regex, String> {
    if pattern.len() > MAX_PATTERN {
        return Err(format!("the pattern is longer than {MAX_PATTERN} bytes"));
    }
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string())
}

/// Splits text into lower-cased words: maximal runs of Unicode letters and digits.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Whether `phrase` occurs as consecutive words of `text`.
fn contains_phrase(text: &[String], phrase: &[String]) -> bool {
    !phrase.is_empty() && text.windows(phrase.len()).any(|w| w == phrase)
}

/// Lower-cased, trimmed, `_` read as `-`; blank means `en`, as the domain assumes.
fn normalize_language(language: &str) -> String {
    let l = language.trim().to_lowercase().replace('_', "-");
    if l.is_empty() {
        "en".into()
    } else {
        l
    }
}

fn normalize_tag(tag: &str) -> String {
    tag.trim().to_lowercase()
}

/// The new case, with derived text computed at most once per routing.
struct CaseView<'a> {
    case: &'a OpenCase,
    subject_words: OnceCell<Vec<String>>,
    body_words: OnceCell<Vec<String>>,
    language: String,
    tags: Vec<String>,
}

impl<'a> CaseView<'a> {
    fn new(case: &'a OpenCase) -> Self {
        CaseView {
            case,
            subject_words: OnceCell::new(),
            body_words: OnceCell::new(),
            language: normalize_language(&case.language),
            tags: case.tags.iter().map(|t| normalize_tag(t)).collect(),
        }
    }

    fn subject_words(&self) -> &[String] {
        self.subject_words.get_or_init(|| words(&self.case.subject))
    }

    fn body_words(&self) -> &[String] {
        self.body_words.get_or_init(|| words(&self.case.body))
    }
}

fn evaluate(rule_set: &RuleSet, matchers: &[Matcher], case: &OpenCase) -> RouteDecision {
    let view = CaseView::new(case);
    let mut explanation = Vec::new();
    for (rule, matcher) in rule_set.rules.iter().zip(matchers) {
        let label = format!("rule {} '{}'", rule.id, rule.name);
        if !rule.enabled {
            explanation.push(format!("{label} skipped: disabled"));
            continue;
        }
        let (matched, reason) = eval(matcher, &view);
        if !matched {
            explanation.push(format!("{label} did not match: {reason}"));
            continue;
        }
        explanation.push(format!("{label} matched: {reason}"));
        let mut actions = rule.actions.clone();
        let inherited = actions.tier.is_none();
        if inherited {
            actions.tier = rule_set.default.tier.clone();
        }
        explanation.push(format!(
            "routed by rule {}: {}",
            rule.id,
            describe(&actions, inherited)
        ));
        return RouteDecision {
            rule_id: Some(rule.id.clone()),
            rule_name: Some(rule.name.clone()),
            rule_set_version: rule_set.version,
            actions,
            explanation,
        };
    }
    explanation.push(format!(
        "no rule matched; default route: {}",
        describe(&rule_set.default, false)
    ));
    RouteDecision {
        rule_id: None,
        rule_name: None,
        rule_set_version: rule_set.version,
        actions: rule_set.default.clone(),
        explanation,
    }
}

/// Actions as text, e.g. `tier L2, team billing, priority HIGH, tags [sensitive],
/// sensitive (private channel)`.
fn describe(actions: &Actions, tier_inherited: bool) -> String {
    let mut parts = Vec::new();
    match &actions.tier {
        Some(t) if tier_inherited => parts.push(format!("tier {t} (the default route's)")),
        Some(t) => parts.push(format!("tier {t}")),
        None => parts.push("no tier".to_string()),
    }
    if let Some(team) = &actions.team {
        parts.push(format!("team {team}"));
    }
    if let Some(p) = actions.priority {
        parts.push(format!("priority {}", p.as_str()));
    }
    if !actions.tags.is_empty() {
        parts.push(format!("tags [{}]", actions.tags.join(", ")));
    }
    if actions.sensitive {
        parts.push("sensitive (private channel)".to_string());
    }
    if actions.start_swarm {
        parts.push("start swarm".to_string());
    }
    if actions.auto_assign {
        parts.push("auto-assign".to_string());
    }
    if !actions.needs_skills.is_empty() {
        parts.push(format!(
            "needs skills [{}]",
            actions.needs_skills.join(", ")
        ));
    }
    parts.join(", ")
}

fn list<T>(items: &[T], show: impl Fn(&T) -> String) -> String {
    let shown: Vec<String> = items.iter().map(show).collect();
    format!("[{}]", shown.join(", "))
}

fn fields(in_subject: bool, in_body: bool) -> &'static str {
    match (in_subject, in_body) {
        (true, true) => "subject or body",
        (true, false) => "subject",
        (false, true) => "body",
        (false, false) => "neither subject nor body",
    }
}

/// Whether the matcher holds for the case, and a short reason why or why not.
fn eval(matcher: &Matcher, view: &CaseView<'_>) -> (bool, String) {
    let case = view.case;
    match matcher {
        Matcher::All(ms) => {
            let mut reasons = Vec::with_capacity(ms.len());
            for m in ms {
                let (ok, reason) = eval(m, view);
                if !ok {
                    return (false, reason);
                }
                reasons.push(reason);
            }
            if reasons.is_empty() {
                return (true, "no conditions (always true)".into());
            }
            (true, reasons.join("; "))
        }
        Matcher::Any(ms) => {
            let mut reasons = Vec::with_capacity(ms.len());
            for m in ms {
                let (ok, reason) = eval(m, view);
                if ok {
                    return (true, reason);
                }
                reasons.push(reason);
            }
            (
                false,
                format!("no alternative matched ({})", reasons.join("; ")),
            )
        }
        Matcher::Not(m) => match eval(m, view) {
            (true, reason) => (false, format!("excluded: {reason}")),
            (false, reason) => (true, reason),
        },
        Matcher::Channel(cs) => {
            let ok = cs.contains(&case.channel);
            let shown = list(cs, |c| c.as_str().to_string());
            let verb = if ok { "in" } else { "not in" };
            (
                ok,
                format!("channel {} {verb} {shown}", case.channel.as_str()),
            )
        }
        Matcher::Keywords {
            keywords,
            in_subject,
            in_body,
        } => {
            for k in keywords {
                if *in_subject && contains_phrase(view.subject_words(), &k.words) {
                    return (true, format!("keyword '{}' in subject", k.text));
                }
                if *in_body && contains_phrase(view.body_words(), &k.words) {
                    return (true, format!("keyword '{}' in body", k.text));
                }
            }
            let shown = list(keywords, |k| format!("'{}'", k.text));
            (
                false,
                format!("no keyword of {shown} in {}", fields(*in_subject, *in_body)),
            )
        }
        Matcher::Regex {
            pattern,
            regex,
            in_subject,
            in_body,
        } => {
            let Some(regex) = regex else {
                return (false, format!("regex /{pattern}/ is invalid"));
            };
            if *in_subject && regex.is_match(&case.subject) {
                return (true, format!("regex /{pattern}/ matches subject"));
            }
            if *in_body && regex.is_match(&case.body) {
                return (true, format!("regex /{pattern}/ matches body"));
            }
            (
                false,
                format!(
                    "regex /{pattern}/ does not match {}",
                    fields(*in_subject, *in_body)
                ),
            )
        }
        Matcher::Segment(s) => {
            let actual = case.customer.segment;
            if actual == *s {
                (true, format!("segment {}", s.as_str()))
            } else {
                (
                    false,
                    format!("segment {}, not {}", actual.as_str(), s.as_str()),
                )
            }
        }
        Matcher::KeyAccount(wanted) => {
            let actual = case.customer.key_account;
            let fact = if actual {
                "customer is a key account"
            } else {
                "customer is not a key account"
            };
            (actual == *wanted, fact.to_string())
        }
        Matcher::Language(ls) => {
            let lang = &view.language;
            let ok = ls.iter().any(|l| {
                lang == l || (lang.starts_with(l.as_str()) && lang[l.len()..].starts_with('-'))
            });
            let verb = if ok { "in" } else { "not in" };
            (
                ok,
                format!("language {lang} {verb} {}", list(ls, |l| l.clone())),
            )
        }
        Matcher::HasTag(t) => {
            if view.tags.contains(t) {
                (true, format!("tag '{t}' present"))
            } else {
                (false, format!("no tag '{t}'"))
            }
        }
        Matcher::Priority(ps) => {
            let ok = ps.contains(&case.priority);
            let verb = if ok { "in" } else { "not in" };
            (
                ok,
                format!(
                    "priority {} {verb} {}",
                    case.priority.as_str(),
                    list(ps, |p| p.as_str().to_string())
                ),
            )
        }
    }
}

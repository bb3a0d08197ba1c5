//! The text index narrows `cases(filter: {text})` without changing an answer: pages
//! with the index equal the scan's for texts found and not, in any case, of any
//! length, for callers of every role, with cases opened after the index was built
//! (candidates as they are, then written to it in a batch); and a forgotten customer's
//! subjects and bodies leave the index with their key.

use std::sync::Arc;

use super::history_tests::{history, projections_of, Rng};
use super::listing_tests::{callers, compare_pages};
use super::text::{self, vault_erasures, PENDING};
use super::*;
use crate::app::Recordable;
use crate::shred::Vault;
use crate::store::RecordedEvent;

const WORDS: [&str; 12] = [
    "Invoice",
    "export",
    "FAILS",
    "login",
    "Straße",
    "École",
    "café",
    "İstanbul",
    "timeout",
    "SSO",
    "naïve",
    "VPN",
];

/// `log` with each case's subject and body made of words drawn by `seed` (mixed case,
/// accents, characters whose lower case is longer), each sealed by `vault` if given.
fn varied(log: Vec<RecordedEvent>, seed: u64, vault: Option<&Vault>) -> Vec<RecordedEvent> {
    let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
    log.into_iter()
        .map(|r| {
            let Ok(mut event) = CaseEvent::from_record(&r) else {
                return r;
            };
            let CaseEvent::Opened(o) = &mut event else {
                return r;
            };
            let mut words = |n: u64| {
                (0..n)
                    .map(|_| format!("{}{}", rng.pick(&WORDS), rng.below(40)))
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            o.subject = words(3);
            o.body = words(8);
            if let Some(vault) = vault {
                let customer = o.customer.id.clone();
                crate::shred::personal::seal_case_event(vault, &customer, &mut event)
                    .expect("sealed");
            }
            RecordedEvent::stored(
                r.position,
                r.id,
                r.stream.clone(),
                r.version,
                r.metadata.clone(),
                event.record(),
            )
        })
        .collect()
}

/// Builds `p`'s text index as a search would (gathered, run, installed).
fn build_index(p: &Projections, vault: Option<&Vault>) {
    let erasures = vault_erasures(vault).expect("a vault that tells");
    let build = p.begin_text_index(erasures).expect("nothing built yet");
    let built = build.run(vault).expect("built");
    p.text().finish(built, vault_erasures(vault));
    assert!(p.text().stats().is_some(), "installed");
}

/// Texts to look for: pieces of the subjects and bodies (cut anywhere, in other
/// cases), and texts no case holds or too short for a trigram.
fn texts(p: &Projections, vault: Option<&Vault>, seed: u64) -> Vec<String> {
    let mut rng = Rng(seed | 1);
    let mut out: Vec<String> = ["café1", "ÉCOLE", "fails", "s 1", "xyzzy", "ss", "é", "  "]
        .map(String::from)
        .to_vec();
    let mut fields: Vec<String> = p
        .cases
        .values()
        .flat_map(|v| [v.case.subject.clone(), v.case.body.clone()])
        .map(|s| vault.map_or(s.clone(), |v| v.open(&s).into_owned()))
        .collect();
    fields.sort();
    for _ in 0..30 {
        let chars: Vec<char> = rng.pick(&fields).chars().collect();
        let from = rng.below(chars.len() as u64) as usize;
        let len = 1 + rng.below(12) as usize;
        let piece: String = chars[from..(from + len).min(chars.len())].iter().collect();
        out.push(match rng.below(3) {
            0 => piece.to_uppercase(),
            1 => piece.to_lowercase(),
            _ => piece,
        });
    }
    out
}

fn filter(text: &str, vault: Option<&Arc<Vault>>) -> CaseFilter {
    CaseFilter {
        text: Some(text.into()),
        vault: vault.cloned(),
        ..CaseFilter::default()
    }
}

/// Every page of each of `texts` equals the scan's, for every caller; returns how many
/// searches the index narrowed.
fn compare_texts(p: &Projections, texts: &[String]) -> usize {
    let mut narrowed = 0;
    for text in texts {
        let f = filter(text, None);
        let candidates = p.text().candidates(text, None, &p.cases);
        let holding = p.cases_scan(&f, None, usize::MAX, &|_| true).0.len();
        match candidates {
            Some(c) => {
                assert!(text.to_lowercase().chars().count() >= 3, "{text:?}");
                narrowed += usize::from(c.len() < p.cases.len());
            }
            // No trigram, or a common text: every case is a candidate.
            None => assert!(
                text.to_lowercase().chars().count() < 3
                    || holding as u64 * text::COMMON * 2 > p.cases.len() as u64,
                "{text:?} is in {holding} cases of {}",
                p.cases.len()
            ),
        }
        for who in &callers() {
            for first in [9, 50] {
                compare_pages(p, who, &f, first);
            }
        }
    }
    narrowed
}

#[test]
fn text_pages_with_the_index_equal_the_scan() {
    let mut narrowed = 0;
    for seed in 1..=2u64 {
        let log = varied(history(seed, 3_600, false), seed, None);
        // Built an eighth of the way; the cases opened after wait as candidates,
        // and go into the index in one batch once there are enough of them.
        let (early, late) = (log.len() / 8, log.len() * 7 / 8);
        let mut p = projections_of(&log[..early]);
        build_index(&p, None);
        for r in &log[early..late] {
            p.apply(r).unwrap();
        }
        let indexed = p.text().stats().unwrap().cases as usize;
        assert!(
            p.cases.len() - indexed > PENDING,
            "too few cases opened after the build: {}",
            p.cases.len() - indexed
        );
        narrowed += compare_texts(&p, &texts(&p, None, seed));
        assert_eq!(
            p.text().stats().unwrap().cases as usize,
            p.cases.len(),
            "the pending cases were written to the index"
        );
        // Fewer than a batch: they are candidates as they are.
        for r in &log[late..] {
            p.apply(r).unwrap();
        }
        let waiting = p.cases.len() - p.text().stats().unwrap().cases as usize;
        assert!((1..PENDING).contains(&waiting), "{waiting} cases wait");
        narrowed += compare_texts(&p, &texts(&p, None, seed + 100));
        assert_eq!(
            p.text().stats().unwrap().cases as usize + waiting,
            p.cases.len(),
            "written before a batch was due"
        );
        // A text most cases hold: walked, not collected.
        let invoice = p
            .cases_scan(&filter("invoice", None), None, usize::MAX, &|_| true)
            .0
            .len();
        assert!(invoice as u64 * text::COMMON > p.cases.len() as u64);
        assert_eq!(p.text().candidates("invoice", None, &p.cases), None);
        // A text no case holds: only the cases waiting are candidates.
        let none = p.text().candidates("xyzzy", None, &p.cases).unwrap();
        assert_eq!(none.len(), waiting);
    }
    assert!(
        narrowed > 80,
        "the index narrowed too few searches: {narrowed}"
    );
}

#[test]
fn a_forgotten_customers_subjects_and_bodies_leave_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Arc::new(Vault::load(dir.path(), |_: &str| None).unwrap());
    let log = varied(history(5, 900, false), 5, Some(&vault));
    let p = projections_of(&log);
    build_index(&p, Some(&vault));
    let of = |customer: &str| -> BTreeSet<CaseId> {
        p.cases
            .iter()
            .filter(|(_, v)| v.case.customer.as_ref().is_some_and(|c| c.id == customer))
            .map(|(id, _)| *id)
            .collect()
    };
    let forgotten = of("cust-0");
    let (id, view) = p
        .cases
        .iter()
        .find(|(id, _)| forgotten.contains(id))
        .expect("a case of cust-0");
    assert!(crate::shred::seal::is_sealed(&view.case.subject));
    let subject = vault.open(&view.case.subject).into_owned();
    let found = |text: &str| p.text().candidates(text, Some(&vault), &p.cases);
    assert!(found(&subject).expect("the index answers").contains(id));

    vault.forget("cust-0").unwrap();
    assert_eq!(found(&subject), None, "the index is dropped with the key");
    assert!(p.text().stats().is_none());

    // Built again, it holds what the fields open to now.
    build_index(&p, Some(&vault));
    let now = found(&subject).expect("the index answers");
    assert!(
        now.is_disjoint(&forgotten),
        "{subject:?} still finds cust-0's cases"
    );
    // `[erased]` is in every case of cust-0 (about half): common, so every case is
    // a candidate; the pages below equal the scan's all the same.
    assert!(forgotten.len() * 4 > p.cases.len());
    assert_eq!(found(crate::shred::ERASED), None);
    for who in callers() {
        for text in [subject.as_str(), crate::shred::ERASED, "café"] {
            compare_pages(&p, &who, &filter(text, Some(&vault)), 20);
        }
    }
}

#[test]
fn a_build_begun_before_a_key_was_destroyed_is_never_installed() {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::load(dir.path(), |_: &str| None).unwrap();
    let p = projections_of(&varied(history(9, 300, false), 9, Some(&vault)));
    let build = p
        .begin_text_index(vault.erasures().unwrap())
        .expect("nothing built yet");
    assert!(
        p.begin_text_index(vault.erasures().unwrap()).is_none(),
        "one build at a time"
    );
    let built = build.run(Some(&vault)).unwrap();
    vault.forget("cust-1").unwrap();
    p.text().finish(built, vault.erasures());
    assert!(p.text().stats().is_none(), "installed after the erasure");
    // Given up, the next search may begin again.
    let again = p.begin_text_index(vault.erasures().unwrap()).unwrap();
    p.text().abandon(again.number());
    assert!(p.begin_text_index(vault.erasures().unwrap()).is_some());
}

/// Another node's `forgetCustomer` reaches this one as a `CustomerForgotten` in the
/// log: applying it drops the index, whatever the vault here knows yet.
#[test]
fn a_customer_forgotten_in_the_log_drops_the_index() {
    use crate::config::{ConfigEvent, CustomerForgotten, CONFIG_STREAM};
    let log = varied(history(11, 300, false), 11, None);
    let mut p = projections_of(&log);
    build_index(&p, None);
    let last = log.last().unwrap();
    let forgotten = ConfigEvent::CustomerForgotten(
        CustomerForgotten::checked("cust-0", "GDPR Art. 17", true).unwrap(),
    );
    p.apply(&RecordedEvent::stored(
        last.position + 1,
        ulid::Ulid::nil(),
        CONFIG_STREAM.into(),
        1,
        last.metadata.clone(),
        forgotten.record(),
    ))
    .unwrap();
    assert!(p.text().stats().is_none(), "the index outlived the erasure");
    assert!(p.begin_text_index(0).is_some(), "built again when asked");
}

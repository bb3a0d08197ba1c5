//! Domain tests: Open.

use super::*;

#[test]
fn open_starts_a_case_at_version_one_unrouted() {
    let case = given(nothing()).when(open()).then_events([opened()]);
    assert!(case.exists());
    assert_eq!(case.version, 1);
    assert_eq!(case.id, Some(case_id()));
    assert_eq!(case.status, Status::Open);
    assert_eq!(case.tier, None);
    assert_eq!(case.customer, Some(customer()));
    assert_eq!(case.tags, vec!["billing".to_string()]);
    assert_eq!(case.opened_at, at(1));
}

#[test]
fn open_normalises_text_language_and_tags() {
    let command = Command::Open(OpenCase {
        subject: "  Why was I charged twice?\n".into(),
        customer: Customer {
            id: " cust-42 ".into(),
            ..customer()
        },
        language: "EN".into(),
        tags: vec!["Billing".into(), " billing ".into(), "VIP".into()],
        ..open_case()
    });
    let expected = match opened() {
        CaseEvent::Opened(e) => CaseEvent::Opened(CaseOpened {
            tags: vec!["billing".into(), "vip".into()],
            ..e
        }),
        _ => unreachable!(),
    };
    given(nothing()).when(command).then_events([expected]);
}

#[test]
fn open_without_language_defaults_to_english() {
    let command = Command::Open(OpenCase {
        language: "  ".into(),
        ..open_case()
    });
    let case = given(nothing()).when(command).then_events([opened()]);
    assert_eq!(case.language, "en");
}

#[test]
fn open_twice_is_refused() {
    given([opened()])
        .when(open())
        .then_error(DomainError::CaseExists);
}

#[test]
fn open_with_empty_subject_is_invalid() {
    let command = Command::Open(OpenCase {
        subject: " \t ".into(),
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("subject");
}

#[test]
fn open_subject_is_limited_to_max_length() {
    let at_limit = Command::Open(OpenCase {
        subject: "x".repeat(MAX_SUBJECT),
        ..open_case()
    });
    assert!(given(nothing()).when(at_limit).result.is_ok());
    let too_long = Command::Open(OpenCase {
        subject: "x".repeat(MAX_SUBJECT + 1),
        ..open_case()
    });
    given(nothing()).when(too_long).then_invalid("subject");
}

#[test]
fn open_needs_a_customer_id() {
    let command = Command::Open(OpenCase {
        customer: Customer {
            id: "".into(),
            ..customer()
        },
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("customer id");
}

#[test]
fn open_with_a_malformed_tag_is_invalid() {
    let command = Command::Open(OpenCase {
        tags: vec!["two words".into()],
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("two words");
}

#[test]
fn open_with_too_many_tags_is_invalid() {
    let tags = (0..=MAX_TAGS).map(|i| format!("t{i}")).collect();
    let command = Command::Open(OpenCase {
        tags,
        ..open_case()
    });
    given(nothing()).when(command).then_invalid("tags");
}

#[test]
fn every_other_command_needs_an_existing_case() {
    for command in every_command().into_iter().skip(1) {
        let name = command.name();
        let result = given(nothing()).when(command).result;
        assert_eq!(result, Err(DomainError::CaseNotFound), "{name}");
    }
}

//! Which fields are personal, in one place: sealed here before an event reaches the
//! log, and opened here wherever sealed text is read back.
//!
//! Personal, on a case that belongs to a customer (every case does): the customer's
//! name, the case's subject and description (written by the customer, or by staff
//! about them), and the body of every message on the case (the customer's own, and
//! replies and notes that quote or address them). In the customer directory: the
//! customer's name. Not personal, and kept in clear: the customer id (the key the
//! data key is found by, and which ties a B2B customer's cases together; use a
//! pseudonymous id, never an e-mail address), segment, key-account status, tags,
//! tiers, priorities, times, agents' ids, resolutions and captured knowledge (written
//! by staff for reuse, and expected to be free of personal data).

use super::{ShredError, Vault};
use crate::config::ConfigEvent;
use crate::domain::CaseEvent;

/// Seals the personal fields of `event`, an event of a case of `customer`.
pub fn seal_case_event(
    vault: &Vault,
    customer: &str,
    event: &mut CaseEvent,
) -> Result<(), ShredError> {
    match event {
        CaseEvent::Opened(o) => {
            o.subject = vault.seal(customer, &o.subject)?;
            o.body = vault.seal(customer, &o.body)?;
            o.customer.name = vault.seal(customer, &o.customer.name)?;
        }
        CaseEvent::MessagePosted(m) => m.body = vault.seal(customer, &m.body)?,
        _ => {}
    }
    Ok(())
}

/// Seals the personal fields of a configuration event (a directory entry's name).
pub fn seal_config_event(vault: &Vault, event: &mut ConfigEvent) -> Result<(), ShredError> {
    if let ConfigEvent::CustomerSaved(c) = event {
        c.name = vault.seal(&c.id, &c.name)?;
    }
    Ok(())
}

/// Opens the personal fields of a folded case in place.
pub fn open_case(vault: &Vault, case: &mut crate::domain::Case) {
    vault.open_in_place(&mut case.subject);
    vault.open_in_place(&mut case.body);
    if let Some(c) = &mut case.customer {
        vault.open_in_place(&mut c.name);
    }
}

/// Opens the personal fields of a case event in place.
pub fn open_case_event(vault: &Vault, event: &mut CaseEvent) {
    match event {
        CaseEvent::Opened(o) => {
            vault.open_in_place(&mut o.subject);
            vault.open_in_place(&mut o.body);
            vault.open_in_place(&mut o.customer.name);
        }
        CaseEvent::MessagePosted(m) => vault.open_in_place(&mut m.body),
        _ => {}
    }
}

/// Opens every sealed string in a JSON value (an event's payload), in place.
pub fn open_json(vault: &Vault, value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(s) => vault.open_in_place(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| open_json(vault, v)),
        serde_json::Value::Object(fields) => fields.values_mut().for_each(|v| open_json(vault, v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::MessagePosted;
    use crate::domain::{Customer, MessageKind, Segment};
    use crate::shred::ERASED;

    #[test]
    fn a_message_and_a_directory_entry_are_sealed_and_opened() {
        let dir = tempfile::tempdir().unwrap();
        let vault = Vault::load(dir.path(), |_: &str| None).unwrap();
        let mut m = CaseEvent::MessagePosted(MessagePosted {
            kind: MessageKind::PublicReply,
            author: crate::domain::AgentId::new("globex").unwrap(),
            body: "my card ends 4242".into(),
        });
        seal_case_event(&vault, "globex", &mut m).unwrap();
        let mut json = m.to_json();
        assert!(!json.to_string().contains("4242"), "{json}");
        open_json(&vault, &mut json);
        assert_eq!(json["body"], "my card ends 4242");
        let mut saved = ConfigEvent::CustomerSaved(Customer {
            id: "globex".into(),
            name: "Globex Corporation".into(),
            segment: Segment::B2b,
            key_account: true,
        });
        seal_config_event(&vault, &mut saved).unwrap();
        assert!(!saved.to_json().to_string().contains("Globex Corporation"));
        vault.forget("globex").unwrap();
        open_case_event(&vault, &mut m);
        let CaseEvent::MessagePosted(m) = m else {
            unreachable!()
        };
        assert_eq!(m.body, ERASED);
    }
}

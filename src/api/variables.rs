//! Variable coercion before execution (GraphQL's `CoerceVariableValues`): every
//! variable the operation declares must be given a value of its type, or have a
//! default, or be nullable.
//!
//! async-graphql checks a variable only when a field reads it, so a request whose
//! variables do not fit its definitions could start executing and answer with a
//! field error. Checked here, such a request is a request error (`BAD_USER_INPUT`,
//! no `data`; `400` over HTTP when the client accepts
//! `application/graphql-response+json`). Types the schema does not know are left to
//! validation. Values are at most [`MAX_NESTING`](super::limits::MAX_NESTING) deep
//! (checked before), which bounds the recursion here.

use async_graphql::parser::types::{ExecutableDocument, OperationDefinition};
use async_graphql::registry::{MetaType, MetaTypeName, Registry};
use async_graphql::{Positioned, ServerError, Value, Variables};

use super::error::{coded, BAD_USER_INPUT};

/// The operation a request executes: the named one, or the only one.
pub(super) fn operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    let mut ops = doc.operations.iter();
    match name {
        Some(name) => ops
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, op)| op),
        None => {
            let (_, op) = ops.next()?;
            ops.next().is_none().then_some(op)
        }
    }
}

/// Refuses `variables` that do not fit the variable definitions of the operation
/// `operation_name` selects (none selected: left to async-graphql, which refuses it).
pub fn check(
    registry: &Registry,
    doc: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> Result<(), ServerError> {
    let Some(op) = operation(doc, operation_name) else {
        return Ok(());
    };
    for def in &op.node.variable_definitions {
        let name = def.node.name.node.as_str();
        let ty = def.node.var_type.node.to_string();
        let refuse = |why: String| -> ServerError {
            coded(
                BAD_USER_INPUT,
                format!("variable `${name}` of type `{ty}`: {why}"),
            )
            .into_server_error(def.pos)
        };
        match variables.get(name) {
            None if def.node.default_value.is_some() => {}
            None if !def.node.var_type.node.nullable => {
                return Err(refuse("no value was given".into()))
            }
            None => {}
            Some(value) => {
                if let Some(why) = invalid(registry, &ty, value) {
                    return Err(refuse(why));
                }
            }
        }
    }
    Ok(())
}

/// Why `value` is not a value of the type named `ty` (`[T!]!` notation).
fn invalid(registry: &Registry, ty: &str, value: &Value) -> Option<String> {
    match MetaTypeName::create(ty) {
        MetaTypeName::NonNull(inner) => match value {
            Value::Null => Some(format!("null where `{inner}!` is required")),
            _ => invalid(registry, inner, value),
        },
        MetaTypeName::List(inner) => match value {
            Value::Null => None,
            Value::List(items) => items.iter().enumerate().find_map(|(i, item)| {
                invalid(registry, inner, item).map(|why| format!("item {i}: {why}"))
            }),
            // A single value stands for a list of one.
            _ => invalid(registry, inner, value),
        },
        MetaTypeName::Named(name) => {
            if matches!(value, Value::Null) {
                return None;
            }
            match registry.types.get(name)? {
                MetaType::Scalar {
                    is_valid: Some(valid),
                    ..
                } => (!valid(value)).then(|| format!("{value} is not a valid `{name}`")),
                MetaType::Enum { enum_values, .. } => match value {
                    Value::String(v) if enum_values.contains_key(v.as_str()) => None,
                    Value::Enum(v) if enum_values.contains_key(v.as_str()) => None,
                    _ => Some(format!("{value} is not a value of `{name}`")),
                },
                MetaType::InputObject {
                    input_fields,
                    oneof,
                    ..
                } => {
                    let Value::Object(fields) = value else {
                        return Some(format!("`{name}` must be an object"));
                    };
                    if let Some(unknown) = fields
                        .keys()
                        .find(|k| !input_fields.contains_key(k.as_str()))
                    {
                        return Some(format!("`{name}` has no field `{unknown}`"));
                    }
                    if *oneof {
                        let given = fields
                            .values()
                            .filter(|v| !matches!(v, Value::Null))
                            .count();
                        if fields.len() != 1 || given != 1 {
                            return Some(format!("`{name}` takes exactly one non-null field"));
                        }
                    }
                    input_fields.values().find_map(|field| {
                        match fields.get(field.name.as_str()) {
                            Some(v) => invalid(registry, &field.ty, v),
                            None if field.default_value.is_none()
                                && matches!(
                                    MetaTypeName::create(&field.ty),
                                    MetaTypeName::NonNull(_)
                                ) =>
                            {
                                Some("is missing".into())
                            }
                            None => None,
                        }
                        .map(|why| format!("field `{}` {why}", field.name))
                    })
                }
                // Scalars that accept anything, and output types (left to validation).
                _ => None,
            }
        }
    }
}

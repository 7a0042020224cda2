//! Who wrote: Telegram users as identities, their display names, and the
//! phone number a user proves by sharing their own contact.

use omni_plugin_sdk::prelude::*;

use crate::update::{Contact, User};

/// The sender as the channel addresses them: their Telegram user id.
///
/// Verified: the request carried the webhook secret token, so the update
/// came from Telegram, and Telegram sets `from` to the account that
/// authenticated to send the message; users cannot choose it.
pub fn sender(user: &User) -> Identity {
    Identity::channel_user(user.id.to_string()).verified()
}

/// `first_name last_name`, else `@username`, else nothing.
pub fn display_name(user: &User) -> Option<String> {
    let parts: Vec<&str> = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect();
    if !parts.is_empty() {
        return Some(parts.join(" "));
    }
    user.username
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| format!("@{name}"))
}

/// The phone claim a shared contact makes about its sender.
///
/// Only a contact whose `user_id` is the sender's own id says anything about
/// the sender, and then it is verified: Telegram fills `user_id` itself, from
/// the account registered with that number (a client cannot set it), so a
/// matching id means the number is the sender's own Telegram login number.
/// This is how "share my phone number" buttons work. A contact card of
/// someone else (another or no `user_id`) claims nothing about the sender.
pub fn contact_claim(contact: &Contact, sender: &User) -> Option<Identity> {
    if contact.user_id != Some(sender.id) {
        return None;
    }
    let digits: String = contact.phone_number.chars().filter(char::is_ascii_digit).collect();
    if digits.is_empty() {
        return None;
    }
    // Telegram gives international numbers, sometimes without the `+`.
    Some(Identity::phone(format!("+{digits}")).verified())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(first: Option<&str>, last: Option<&str>, username: Option<&str>) -> User {
        User {
            id: 42,
            is_bot: false,
            first_name: first.map(str::to_owned),
            last_name: last.map(str::to_owned),
            username: username.map(str::to_owned),
        }
    }

    fn contact(phone: &str, user_id: Option<i64>) -> Contact {
        Contact {
            phone_number: phone.to_owned(),
            first_name: Some("Ann".to_owned()),
            last_name: None,
            user_id,
        }
    }

    #[test]
    fn display_names_prefer_the_full_name() {
        assert_eq!(
            display_name(&user(Some("Ann"), Some("Lee"), Some("ann"))).as_deref(),
            Some("Ann Lee")
        );
        assert_eq!(display_name(&user(Some("Ann"), None, None)).as_deref(), Some("Ann"));
        assert_eq!(
            display_name(&user(Some(" "), None, Some("ann"))).as_deref(),
            Some("@ann")
        );
        assert_eq!(display_name(&user(None, None, None)), None);
    }

    #[test]
    fn only_the_senders_own_contact_proves_a_phone() {
        let sender = user(Some("Ann"), None, None);
        assert_eq!(
            contact_claim(&contact("79001234567", Some(42)), &sender),
            Some(Identity::phone("+79001234567").verified())
        );
        assert_eq!(
            contact_claim(&contact("+1 (415) 555-0100", Some(42)), &sender),
            Some(Identity::phone("+14155550100").verified())
        );
        assert_eq!(contact_claim(&contact("+14155550100", Some(7)), &sender), None);
        assert_eq!(contact_claim(&contact("+14155550100", None), &sender), None);
        assert_eq!(contact_claim(&contact("n/a", Some(42)), &sender), None);
    }
}

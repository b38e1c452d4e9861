//! The clients of the Mercador services' faces: `mercador_publisher_admin`
//! (B's admins: vregions, partners, subscriptions), `mercador_exchange` (a
//! partner: offers and its subscriptions) and `mercador_subscriber` (A's
//! admins: publishers, discovery, bindings). One function per operation of
//! each face; bodies and answers are the services' JSON documents (their
//! OpenAPI documents describe them). Errors of the services (401, 403, 404,
//! 409, 400 with the fields refused) come back as result codes with the
//! service's message.

use std::ffi::c_char;
use std::time::Duration;

use mercador_core::client::{ExchangeClient, NewPublisher, PublisherAdminClient, SubscribeRequest, SubscriberClient};
use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use crate::cloud::mercador_cloud;
use crate::error::{Failure, guard, mercador_result};
use crate::util::{block_on, handle, json_arg, opt_str_arg, out_arg, str_arg, write_json};

/// The service's URL argument: NULL for the home catalog's.
fn url_arg(url: Option<&str>) -> Result<Option<Url>, Failure> {
    url.map(|u| {
        Url::parse(u).map_err(|e| Failure::new(mercador_result::InvalidInput, format!("url {u:?} is not a URL: {e}")))
    })
    .transpose()
}

/// A string field of a JSON request.
fn field(body: &Value, name: &str, required: bool) -> Result<Option<String>, Failure> {
    match body.get(name) {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        None | Some(Value::Null) => {
            Err(Failure::new(mercador_result::InvalidJson, format!("the request has no {name:?} (a string)")))
        }
        Some(_) => Err(Failure::new(mercador_result::InvalidJson, format!("{name:?} must be a string"))),
    }
}

fn required(body: &Value, name: &str) -> Result<String, Failure> {
    field(body, name, true).map(Option::unwrap_or_default)
}

/// A client of the publisher service's admin face (`/v1/admin`), with the
/// cloud's token (an admin of the publisher's Keystone). Safe to share
/// between threads. Release with [`mercador_publisher_admin_free`].
pub struct mercador_publisher_admin {
    client: PublisherAdminClient,
    timeout: Duration,
}

/// Connects to the publisher service with `cloud`'s token: at `url` (the
/// service's root URL) or, when NULL, at the endpoint the cloud's catalog
/// lists (its region and interface). Writes a new handle to `*out`; calls
/// on it block at most the cloud's timeout at the time of this call.
///
/// # Safety
/// `cloud` is NULL or a live handle; `url` is NULL or a NUL-terminated
/// string; `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_new(
    cloud: *const mercador_cloud,
    url: *const c_char,
    out: *mut *mut mercador_publisher_admin,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (cloud, url, out) = unsafe { (handle(cloud, "cloud")?, opt_str_arg(url, "url")?, out_arg(out, "out")?) };
        let url = url_arg(url)?;
        let timeout = cloud.timeout();
        let client = block_on(timeout, PublisherAdminClient::connect(cloud.home().clone(), url.as_ref()))?;
        *out = Box::into_raw(Box::new(mercador_publisher_admin { client, timeout }));
        Ok(())
    })
}

/// Releases the handle. `NULL` does nothing. No call on it may be running
/// or follow.
///
/// # Safety
/// The handle is NULL or made by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_free(handle: *mut mercador_publisher_admin) {
    if handle.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by Box::into_raw in the constructor, not freed yet (the caller's contract).
        drop(unsafe { Box::from_raw(handle) });
    }));
}

/// A client of the publisher service's partner face (`/v1/exchange`), with
/// the cloud's token (a partner's application credential on the
/// publisher's Keystone). Safe to share between threads. Release with
/// [`mercador_exchange_free`].
pub struct mercador_exchange {
    client: ExchangeClient,
    timeout: Duration,
}

/// Connects to the publisher service with `cloud`'s token: at `url` (the
/// service's root URL) or, when NULL, at the endpoint the cloud's catalog
/// lists (its region and interface). Writes a new handle to `*out`; calls
/// on it block at most the cloud's timeout at the time of this call.
///
/// # Safety
/// `cloud` is NULL or a live handle; `url` is NULL or a NUL-terminated
/// string; `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_new(
    cloud: *const mercador_cloud,
    url: *const c_char,
    out: *mut *mut mercador_exchange,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (cloud, url, out) = unsafe { (handle(cloud, "cloud")?, opt_str_arg(url, "url")?, out_arg(out, "out")?) };
        let url = url_arg(url)?;
        let timeout = cloud.timeout();
        let client = block_on(timeout, ExchangeClient::connect(cloud.home().clone(), url.as_ref()))?;
        *out = Box::into_raw(Box::new(mercador_exchange { client, timeout }));
        Ok(())
    })
}

/// Releases the handle. `NULL` does nothing. No call on it may be running
/// or follow.
///
/// # Safety
/// The handle is NULL or made by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_free(handle: *mut mercador_exchange) {
    if handle.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by Box::into_raw in the constructor, not freed yet (the caller's contract).
        drop(unsafe { Box::from_raw(handle) });
    }));
}

/// A client of the subscriber service (`/v1`), with the cloud's token (an
/// admin of the subscriber's Keystone). Safe to share between threads.
/// Release with [`mercador_subscriber_free`].
pub struct mercador_subscriber {
    client: SubscriberClient,
    timeout: Duration,
}

/// Connects to the subscriber service with `cloud`'s token: at `url` (the
/// service's root URL) or, when NULL, at the endpoint the cloud's catalog
/// lists (its region and interface). Writes a new handle to `*out`; calls
/// on it block at most the cloud's timeout at the time of this call.
///
/// # Safety
/// `cloud` is NULL or a live handle; `url` is NULL or a NUL-terminated
/// string; `out` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_new(
    cloud: *const mercador_cloud,
    url: *const c_char,
    out: *mut *mut mercador_subscriber,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (cloud, url, out) = unsafe { (handle(cloud, "cloud")?, opt_str_arg(url, "url")?, out_arg(out, "out")?) };
        let url = url_arg(url)?;
        let timeout = cloud.timeout();
        let client = block_on(timeout, SubscriberClient::connect(cloud.home().clone(), url.as_ref()))?;
        *out = Box::into_raw(Box::new(mercador_subscriber { client, timeout }));
        Ok(())
    })
}

/// Releases the handle. `NULL` does nothing. No call on it may be running
/// or follow.
///
/// # Safety
/// The handle is NULL or made by this library and not yet freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_free(handle: *mut mercador_subscriber) {
    if handle.is_null() {
        return;
    }
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        // SAFETY: made by Box::into_raw in the constructor, not freed yet (the caller's contract).
        drop(unsafe { Box::from_raw(handle) });
    }));
}

/// Every vregion: a JSON array of `VRegion`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_list_vregions(
    admin: *const mercador_publisher_admin,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(admin, "admin")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.list_vregions())?;
        write_json(out, &value)
    })
}

/// One vregion (`VRegion`).
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_get_vregion(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name, out) =
            unsafe { (handle(admin, "admin")?, str_arg(name, "name")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.get_vregion(name))?;
        write_json(out, &value)
    })
}

/// Defines a vregion (state draft) from its spec (`VRegionSpec` JSON); writes the `VRegion`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_create_vregion(
    admin: *const mercador_publisher_admin,
    spec_json: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, spec_json, out) =
            unsafe { (handle(admin, "admin")?, json_arg(spec_json, "spec_json")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.create_vregion(&spec_json))?;
        write_json(out, &value)
    })
}

/// Replaces a vregion's spec (`VRegionSpec` JSON); writes the `VRegion`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_replace_vregion(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
    spec_json: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name, spec_json, out) = unsafe {
            (
                handle(admin, "admin")?,
                str_arg(name, "name")?,
                json_arg(spec_json, "spec_json")?,
                out_arg(out_json, "out_json")?,
            )
        };
        let value = block_on(c.timeout, c.client.replace_vregion(name, &spec_json))?;
        write_json(out, &value)
    })
}

/// Deletes a vregion without subscriptions (its domain disabled, or deleted when `purge`).
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_delete_vregion(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
    purge: bool,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name) = unsafe { (handle(admin, "admin")?, str_arg(name, "name")?) };
        block_on(c.timeout, c.client.delete_vregion(name, purge))?;
        Ok(())
    })
}

/// Publishes a vregion (domain, quotas; offered to its partners); `adopt_domain` adopts an existing domain of its name. Writes the `VRegion`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_publish_vregion(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
    adopt_domain: bool,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name, out) =
            unsafe { (handle(admin, "admin")?, str_arg(name, "name")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.publish_vregion(name, adopt_domain))?;
        write_json(out, &value)
    })
}

/// Withdraws a vregion (no new subscriptions); writes the `VRegion`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_withdraw_vregion(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name, out) =
            unsafe { (handle(admin, "admin")?, str_arg(name, "name")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.withdraw_vregion(name))?;
        write_json(out, &value)
    })
}

/// Every partner: a JSON array of `Partner`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_list_partners(
    admin: *const mercador_publisher_admin,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(admin, "admin")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.list_partners())?;
        write_json(out, &value)
    })
}

/// One partner (`Partner`).
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_get_partner(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name, out) =
            unsafe { (handle(admin, "admin")?, str_arg(name, "name")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.get_partner(name))?;
        write_json(out, &value)
    })
}

/// Onboards a partner (`description` may be NULL); the answer holds its application credential (`application_credential_id`, `application_credential_secret`), this once: free it with [`crate::mercador_string_free`], which zeroes it.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_onboard_partner(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
    description: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name, description, out) = unsafe {
            (
                handle(admin, "admin")?,
                str_arg(name, "name")?,
                opt_str_arg(description, "description")?,
                out_arg(out_json, "out_json")?,
            )
        };
        let value = block_on(c.timeout, c.client.onboard_partner(name, description.unwrap_or("")))?;
        write_json(out, &value)
    })
}

/// Removes a partner without subscriptions.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_remove_partner(
    admin: *const mercador_publisher_admin,
    name: *const c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name) = unsafe { (handle(admin, "admin")?, str_arg(name, "name")?) };
        block_on(c.timeout, c.client.remove_partner(name))?;
        Ok(())
    })
}

/// Subscriptions of every partner, or of `partner` when not NULL: a JSON array of `Subscription`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_list_subscriptions(
    admin: *const mercador_publisher_admin,
    partner: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, partner, out) =
            unsafe { (handle(admin, "admin")?, opt_str_arg(partner, "partner")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.list_subscriptions(partner))?;
        write_json(out, &value)
    })
}

/// One subscription (`Subscription`).
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_get_subscription(
    admin: *const mercador_publisher_admin,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, id, out) = unsafe { (handle(admin, "admin")?, str_arg(id, "id")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.get_subscription(id))?;
        write_json(out, &value)
    })
}

/// Revokes a subscription (the federated users' projects disabled, or deleted when `purge`); writes the `Subscription`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_revoke_subscription(
    admin: *const mercador_publisher_admin,
    id: *const c_char,
    purge: bool,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, id, out) = unsafe { (handle(admin, "admin")?, str_arg(id, "id")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.revoke_subscription(id, purge))?;
        write_json(out, &value)
    })
}

/// Resumes interrupted operations now; writes the report.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_publisher_admin_reconcile(
    admin: *const mercador_publisher_admin,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(admin, "admin")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.reconcile())?;
        write_json(out, &value)
    })
}

/// The vregions offered to the caller: a JSON array of `Offer`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_list_offers(
    exchange: *const mercador_exchange,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(exchange, "exchange")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.list_offers())?;
        write_json(out, &value)
    })
}

/// Subscribes: `request_json` is `{"vregion", "entity_id", "metadata" or "metadata_url", "keystone_url"}` (the subscriber Keystone's SAML identity). Writes the `Access`, which holds the vregion admin's password this once.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_subscribe(
    exchange: *const mercador_exchange,
    request_json: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, request_json, out) = unsafe {
            (handle(exchange, "exchange")?, json_arg(request_json, "request_json")?, out_arg(out_json, "out_json")?)
        };
        let value = block_on(c.timeout, c.client.subscribe(&subscribe_request(&request_json)?))?;
        write_json(out, &value)
    })
}

/// The caller's subscriptions: a JSON array of `Subscription`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_list_subscriptions(
    exchange: *const mercador_exchange,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(exchange, "exchange")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.list_subscriptions())?;
        write_json(out, &value)
    })
}

/// One of the caller's subscriptions (`Subscription`).
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_get_subscription(
    exchange: *const mercador_exchange,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, id, out) =
            unsafe { (handle(exchange, "exchange")?, str_arg(id, "id")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.get_subscription(id))?;
        write_json(out, &value)
    })
}

/// Repairs drift and gives a new admin token: writes the `Access`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_refresh_subscription(
    exchange: *const mercador_exchange,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, id, out) =
            unsafe { (handle(exchange, "exchange")?, str_arg(id, "id")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.refresh_subscription(id))?;
        write_json(out, &value)
    })
}

/// Cancels one of the caller's subscriptions; writes the `Subscription`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_exchange_cancel_subscription(
    exchange: *const mercador_exchange,
    id: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, id, out) =
            unsafe { (handle(exchange, "exchange")?, str_arg(id, "id")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.cancel_subscription(id))?;
        write_json(out, &value)
    })
}

/// Registers a publisher: `publisher_json` is `{"name", "keystone_url", "application_credential_id", "application_credential_secret", "exchange_url" (optional)}` (the secret is sent, never shown again). Writes the `Publisher`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_register_publisher(
    subscriber: *const mercador_subscriber,
    publisher_json: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, publisher_json, out) = unsafe {
            (
                handle(subscriber, "subscriber")?,
                json_arg(publisher_json, "publisher_json")?,
                out_arg(out_json, "out_json")?,
            )
        };
        let value = block_on(c.timeout, c.client.register_publisher(&new_publisher(&publisher_json)?))?;
        write_json(out, &value)
    })
}

/// The registered publishers (never their secrets): a JSON array of `Publisher`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_list_publishers(
    subscriber: *const mercador_subscriber,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(subscriber, "subscriber")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.list_publishers())?;
        write_json(out, &value)
    })
}

/// One registered publisher (`Publisher`).
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_get_publisher(
    subscriber: *const mercador_subscriber,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name, out) =
            unsafe { (handle(subscriber, "subscriber")?, str_arg(name, "name")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.get_publisher(name))?;
        write_json(out, &value)
    })
}

/// Forgets a publisher without live bindings.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_remove_publisher(
    subscriber: *const mercador_subscriber,
    name: *const c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, name) = unsafe { (handle(subscriber, "subscriber")?, str_arg(name, "name")?) };
        block_on(c.timeout, c.client.remove_publisher(name))?;
        Ok(())
    })
}

/// Discovery across the registered publishers: `{"offers": [...], "errors": [...]}`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_discover(
    subscriber: *const mercador_subscriber,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(subscriber, "subscriber")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.discover())?;
        write_json(out, &value)
    })
}

/// Binds vregion `vregion` of publisher `publisher` as region `alias` of the subscriber's cloud; writes the `Binding`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_bind(
    subscriber: *const mercador_subscriber,
    publisher: *const c_char,
    vregion: *const c_char,
    alias: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, publisher, vregion, alias, out) = unsafe {
            (
                handle(subscriber, "subscriber")?,
                str_arg(publisher, "publisher")?,
                str_arg(vregion, "vregion")?,
                str_arg(alias, "alias")?,
                out_arg(out_json, "out_json")?,
            )
        };
        let value = block_on(c.timeout, c.client.bind(publisher, vregion, alias))?;
        write_json(out, &value)
    })
}

/// The bindings of every publisher, or of `publisher` when not NULL (finished ones included): a JSON array of `Binding`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_list_bindings(
    subscriber: *const mercador_subscriber,
    publisher: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, publisher, out) = unsafe {
            (handle(subscriber, "subscriber")?, opt_str_arg(publisher, "publisher")?, out_arg(out_json, "out_json")?)
        };
        let value = block_on(c.timeout, c.client.list_bindings(publisher))?;
        write_json(out, &value)
    })
}

/// One binding (`Binding`).
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_get_binding(
    subscriber: *const mercador_subscriber,
    alias: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, alias, out) =
            unsafe { (handle(subscriber, "subscriber")?, str_arg(alias, "alias")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.get_binding(alias))?;
        write_json(out, &value)
    })
}

/// Refreshes one binding: `{"binding", "repaired", "repaired_by_publisher", "revoked"}`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_refresh_binding(
    subscriber: *const mercador_subscriber,
    alias: *const c_char,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, alias, out) =
            unsafe { (handle(subscriber, "subscriber")?, str_arg(alias, "alias")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.refresh_binding(alias))?;
        write_json(out, &value)
    })
}

/// Refreshes every binding; writes the report.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_refresh_all(
    subscriber: *const mercador_subscriber,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(subscriber, "subscriber")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.refresh_all())?;
        write_json(out, &value)
    })
}

/// Cancels a binding (the publisher first; `force` when it is gone for good); writes the `Binding`.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_cancel_binding(
    subscriber: *const mercador_subscriber,
    alias: *const c_char,
    force: bool,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, alias, out) =
            unsafe { (handle(subscriber, "subscriber")?, str_arg(alias, "alias")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.cancel_binding(alias, force))?;
        write_json(out, &value)
    })
}

/// Resumes what an interruption left half done; writes the report.
///
/// # Safety
/// the handle is NULL or live; the strings are NULL or NUL-terminated; `out_json` is NULL or valid for writing a pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mercador_subscriber_reconcile(
    subscriber: *const mercador_subscriber,
    out_json: *mut *mut c_char,
) -> mercador_result {
    guard(|| {
        // SAFETY: the caller's contract, for each argument.
        let (c, out) = unsafe { (handle(subscriber, "subscriber")?, out_arg(out_json, "out_json")?) };
        let value = block_on(c.timeout, c.client.reconcile())?;
        write_json(out, &value)
    })
}

fn subscribe_request(body: &Value) -> Result<SubscribeRequest, Failure> {
    Ok(SubscribeRequest {
        vregion: required(body, "vregion")?,
        entity_id: required(body, "entity_id")?,
        metadata: field(body, "metadata", false)?,
        metadata_url: field(body, "metadata_url", false)?,
        keystone_url: field(body, "keystone_url", false)?,
    })
}

fn new_publisher(body: &Value) -> Result<NewPublisher, Failure> {
    Ok(NewPublisher {
        name: required(body, "name")?,
        keystone_url: required(body, "keystone_url")?,
        application_credential_id: required(body, "application_credential_id")?,
        application_credential_secret: SecretString::from(required(body, "application_credential_secret")?),
        exchange_url: field(body, "exchange_url", false)?,
    })
}

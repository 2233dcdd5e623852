//! One page of a list and the cursor sequence every list follows: decode the caller's cursor for
//! this list, query from the id it names, and sign the page's last id when more remain.

use uuid::Uuid;

use aws_sdk_dynamodb::operation::query::QueryOutput;

use super::{cursor_key_item, Item, KeyGuard, Store, StoreError};
use crate::cursor::{CursorKey, ListId};

/// One page of a list, newest first; `next_cursor` is `None` on the last page.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A list being read: which list, and where it starts.
pub(crate) struct Pager<'a> {
    list: ListId<'a>,
    /// The last id of the previous page (exclusive start), if the caller sent a cursor.
    pub start: Option<Uuid>,
    /// An item whose existence the page answers too (a list's parent), read beside the first Query.
    parent: Option<Item>,
}

impl Pager<'_> {
    /// The page also answers whether the item at `key` exists (read in the same BatchGetItem as
    /// the caller's key).
    pub fn with_parent(mut self, key: Item) -> Self {
        self.parent = Some(key);
        self
    }
}

impl Store {
    /// Starts reading `list` after `cursor`: `InvalidCursor` unless the cursor is from this list.
    /// Only a cursor needs the deployment's cursor MAC key now; a first page reads it beside its
    /// query (`collect_page`). On a container that has not loaded it yet, it is read beside the
    /// caller's key, and created (by the table's first list ever) only once that key is confirmed.
    pub(crate) async fn pager<'a>(
        &'a self,
        list: ListId<'a>,
        cursor: Option<&str>,
        guard: &KeyGuard,
    ) -> Result<Pager<'a>, StoreError> {
        let Some(cursor) = cursor else {
            return Ok(Pager { list, start: None, parent: None });
        };
        let key = self.cursor_key_for(guard).await?;
        Ok(Pager { list, start: Some(key.decode(list, cursor)?), parent: None })
    }

    /// The cursor MAC key, read beside the caller's key when not loaded yet; created only once the
    /// caller's key is confirmed.
    async fn cursor_key_for(&self, guard: &KeyGuard) -> Result<&CursorKey, StoreError> {
        if self.cursor_key.get().is_none() {
            if guard.verdict().is_none() {
                let (confirmed, ()) = tokio::join!(self.confirm_key(guard), self.warm_up());
                confirmed?;
            }
            // Settled by now: the key may act, so the table's first list may create the MAC key.
            self.confirm_key(guard).await?;
        }
        self.cursor_key().await
    }
}

impl Store {
    /// A Query of the items under `pk` whose sort key starts with `prefix`, newest first (ids are
    /// UUIDv7), strongly consistent, leaving out items whose `expiresAt` has passed (TTL deletes
    /// within days, not at once), from `start`, at most `limit` items evaluated.
    pub(crate) fn unexpired_newest_first(
        &self,
        pk: &str,
        prefix: &str,
        start: Option<Item>,
        limit: i32,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        self.client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .filter_expression("expiresAt > :now")
            .expression_attribute_values(":pk", super::s(pk))
            .expression_attribute_values(":prefix", super::s(prefix))
            .expression_attribute_values(":now", super::n(crate::time::now_millis() / 1000))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
    }

    /// Reads one page of a list: runs `query` (one Query of the list, from an exclusive start key,
    /// at most the given number of items) until it holds `limit + 1` items or the list ends, so
    /// `next_cursor` is `None` exactly on the last page (contract, "Pagination": no extra empty
    /// page), also when a filter (expired items) thins a Query's answer. `decode` gives an item's id
    /// and value; `start_key` the key to resume after an id. The first Query runs beside one
    /// BatchGetItem of the caller's key and the pager's parent (answered: does it exist?).
    pub(crate) async fn collect_page<T, Q, Fut>(
        &self,
        pager: Pager<'_>,
        limit: u32,
        guard: &KeyGuard,
        start_key: impl Fn(Uuid) -> Item,
        query: Q,
        decode: impl Fn(&Item) -> Result<(Uuid, T), StoreError>,
    ) -> Result<(Page<T>, bool), StoreError>
    where
        Q: Fn(Option<Item>, i32) -> Fut,
        Fut: std::future::Future<Output = Result<QueryOutput, StoreError>>,
    {
        let want = limit as usize + 1;
        let mut items: Vec<(Uuid, T)> = Vec::with_capacity(want);
        let mut start = pager.start.map(&start_key);
        // Beside the first Query, one BatchGetItem: the caller's key, the item `also` names (a
        // list's parent, say) and, on a cold container, the cursor MAC key. One round trip, two
        // connections at most.
        let mut extra: Vec<Item> = pager.parent.clone().into_iter().collect();
        let with_parent = !extra.is_empty();
        let cold = self.cursor_key.get().is_none();
        if cold {
            extra.push(cursor_key_item());
        }
        let first = query(start.take(), i32::try_from(want).unwrap_or(i32::MAX));
        let (out, settled) = tokio::join!(first, self.settle_with(guard, extra, None, "BatchGetItem list"));
        let found = settled?;
        if cold {
            if let Some(Some(item)) = found.last() {
                self.keep_cursor_key(item);
            }
        }
        let parent_exists = with_parent && found.first().is_some_and(Option::is_some);
        let mut out = out?;
        loop {
            for item in out.items() {
                if items.len() < want {
                    items.push(decode(item)?);
                }
            }
            match out.last_evaluated_key.take() {
                Some(key) if items.len() < want => {
                    let remaining = i32::try_from(want - items.len()).unwrap_or(i32::MAX);
                    out = query(Some(key), remaining).await?;
                }
                _ => break,
            }
        }
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = match items.last() {
            Some((last, _)) if more => Some(self.cursor_key_for(guard).await?.encode(pager.list, *last)),
            _ => None,
        };
        Ok((Page { items: items.into_iter().map(|(_, value)| value).collect(), next_cursor }, parent_exists))
    }
}

//! One page of a list and the cursor sequence every list follows: decode the caller's cursor for
//! this list, query from the id it names, and sign the page's last id when more remain.

use uuid::Uuid;

use super::{KeyGuard, Store, StoreError};
use crate::cursor::{CursorKey, ListId};

/// One page of a list, newest first; `next_cursor` is `None` on the last page.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// A list being read: where it starts, and how its next cursor is made.
pub(crate) struct Pager<'a> {
    key: &'a CursorKey,
    list: ListId<'a>,
    /// The last id of the previous page (exclusive start), if the caller sent a cursor.
    pub start: Option<Uuid>,
}

impl<'a> Pager<'a> {
    /// The page of `items`; `last` is the id DynamoDB stopped at, when it says more remain.
    pub fn finish<T>(self, items: Vec<T>, last: Option<Uuid>) -> Page<T> {
        Page { items, next_cursor: last.map(|id| self.key.encode(self.list, id)) }
    }
}

impl Store {
    /// Starts reading `list` after `cursor`: `InvalidCursor` unless the cursor is from this list.
    /// On a container that has not loaded the cursor MAC key yet, it is read beside the caller's key,
    /// and created (by the table's first list ever) only once that key is confirmed.
    pub(crate) async fn pager<'a>(
        &'a self,
        list: ListId<'a>,
        cursor: Option<&str>,
        guard: &KeyGuard,
    ) -> Result<Pager<'a>, StoreError> {
        if self.cursor_key.get().is_none() {
            let (confirmed, ()) = tokio::join!(self.confirm_key(guard), self.warm_up());
            confirmed?;
        }
        let key = self.cursor_key().await?;
        let start = cursor.map(|c| key.decode(list, c)).transpose()?;
        Ok(Pager { key, list, start })
    }
}

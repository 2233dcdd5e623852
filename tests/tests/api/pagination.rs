//! Walking the endpoint list through 45 endpoints, and every way a cursor can be wrong.

use integration_tests::serde_json::json;
use integration_tests::{Client, World};

/// Follows `nextCursor` from the first page to the last; returns the ids and the page sizes.
async fn walk(client: &Client, limit: Option<u32>) -> (Vec<String>, Vec<usize>) {
    let mut ids = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = Vec::new();
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        if let Some(c) = &cursor {
            query.push(format!("cursor={c}"));
        }
        let page = client.list(&format!("?{}", query.join("&"))).await;
        page.assert_status(200);
        let items = page.data().as_array().expect("data is an array");
        sizes.push(items.len());
        ids.extend(items.iter().map(|e| e["id"].as_str().unwrap().to_owned()));
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => {
                assert_eq!(page.body["nextCursor"], json!(null), "present and null on the last page");
                return (ids, sizes);
            }
        }
        assert!(sizes.len() <= 46, "the walk ends");
    }
}

#[tokio::test]
async fn pages_through_45_endpoints_newest_first_at_any_limit() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let mut created = Vec::new();
    for i in 0..45 {
        created.push(client.create_ok(&format!("https://hooks.example.com/{i}")).await);
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();

    let (ids, sizes) = walk(&client, None).await;
    assert_eq!(sizes, vec![20, 20, 5], "default limit 20");
    assert_eq!(ids, newest_first);

    let (ids, sizes) = walk(&client, Some(15)).await;
    assert!(sizes == vec![15, 15, 15] || sizes == vec![15, 15, 15, 0], "at worst one empty page: {sizes:?}");
    assert_eq!(ids, newest_first);

    let (ids, sizes) = walk(&client, Some(100)).await;
    assert_eq!((ids, sizes), (newest_first.clone(), vec![45]));

    let (ids, _) = walk(&client, Some(1)).await;
    assert_eq!(ids, newest_first, "one at a time");
}

#[tokio::test]
async fn endpoints_created_or_deleted_mid_walk_never_duplicate_or_skip_the_rest() {
    let world = World::new().await;
    let client = Client::new(&world, "acme").await;
    let mut created = Vec::new();
    for i in 0..6 {
        created.push(client.create_ok(&format!("https://hooks.example.com/{i}")).await);
    }
    let first = client.list("?limit=3").await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_owned();
    client.create_ok("https://hooks.example.com/new").await;
    let second = client.list(&format!("?limit=3&cursor={cursor}")).await;
    let ids: Vec<&str> = second.data().as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    let expected: Vec<&str> = created[..3].iter().rev().map(String::as_str).collect();
    assert_eq!(ids, expected, "the older half, exactly once, newer additions not mixed in");
}

#[tokio::test]
async fn bad_limits_and_cursors_are_400_and_reach_no_other_list() {
    let world = World::new().await;
    let acme = Client::new(&world, "acme").await;
    let globex = Client::new(&world, "globex").await;
    for i in 0..3 {
        acme.create_ok(&format!("https://hooks.example.com/{i}")).await;
        globex.create_ok(&format!("https://hooks.example.com/{i}")).await;
    }
    for limit in ["0", "101", "-1", "abc", "2.5", ""] {
        let answer = acme.list(&format!("?limit={limit}")).await;
        answer.assert_error(400, "invalid_field");
        assert_eq!(answer.error_field(), Some("limit"));
    }
    acme.list("?limit=100&unknown=1").await.assert_status(200);

    let cursor = acme.list("?limit=1").await.body["nextCursor"].as_str().unwrap().to_owned();
    acme.list(&format!("?limit=1&cursor={cursor}")).await.assert_status(200);
    let mut tampered = Vec::new();
    for i in 0..cursor.len() {
        let mut chars: Vec<char> = cursor.chars().collect();
        chars[i] = if chars[i] == 'A' { 'B' } else { 'A' };
        tampered.push(chars.into_iter().collect::<String>());
    }
    tampered.extend(["".into(), "x".into(), "%%%".into(), format!("{cursor}A"), cursor[1..].to_owned()]);
    for bad in tampered {
        let answer = acme.list(&format!("?limit=1&cursor={bad}")).await;
        answer.assert_error(400, "invalid_cursor");
        assert_eq!(answer.error_field(), Some("cursor"));
    }
    // Another app's cursor is refused, never a view into acme's list (or the reverse).
    let theirs = globex.list("?limit=1").await.body["nextCursor"].as_str().unwrap().to_owned();
    acme.list(&format!("?cursor={theirs}")).await.assert_error(400, "invalid_cursor");
}

/// A full last page has no `nextCursor` (the list reads one item past the page to know), so a
/// client never follows a cursor to an empty page.
#[tokio::test]
async fn a_full_last_page_has_no_next_cursor() {
    let world = integration_tests::World::new().await;
    let client = integration_tests::Client::new(&world, "acme").await;
    for i in 0..4 {
        client.create_ok(&format!("https://hooks.example.com/full/{i}")).await;
    }
    let first = client.list("?limit=2").await;
    let cursor = first.body["nextCursor"].as_str().expect("a second page exists").to_owned();
    let last = client.list(&format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(last.data().as_array().unwrap().len(), 2);
    assert_eq!(last.body["nextCursor"], integration_tests::serde_json::Value::Null, "exactly the last page");
    let whole = client.list("?limit=4").await;
    assert_eq!(
        (whole.data().as_array().unwrap().len(), &whole.body["nextCursor"]),
        (4, &integration_tests::serde_json::Value::Null)
    );
}

//! HTTP tests of the alarm routes (contract section 6, reference D.3) on
//! every backend.

use serde_json::{Value, json};

use crate::common::{TestApp, V1, V4, backends};

async fn post_alarm(app: &TestApp, body: Value) {
    app.send_json("POST", &format!("{V4}/alarms"), &body)
        .await
        .assert_ok();
}

/// `message` of every item, in reply order.
fn messages(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {items}"))
        .iter()
        .map(|a| a["message"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn seed(app: &TestApp) {
    for (msg, cluster, ns, source, module, typ, t) in [
        (
            "a1",
            "C1",
            "ns1",
            "10.0.0.1",
            "bcs-health",
            "sms",
            1_700_000_001,
        ),
        (
            "a2",
            "C1",
            "ns2",
            "10.0.0.2",
            "bcs-health",
            "weixin",
            1_700_000_002,
        ),
        (
            "a3",
            "C2",
            "ns1",
            "10.0.0.1",
            "scheduler",
            "sms,mail",
            1_700_000_003,
        ),
        (
            "a4",
            "C3",
            "ns3",
            "10.0.0.3",
            "scheduler",
            "voice",
            1_700_000_004,
        ),
    ] {
        post_alarm(
            app,
            json!({"clusterId": cluster, "namespace": ns, "message": msg, "source": source,
                   "module": module, "type": typ, "receivedTime": t,
                   "data": {"k.e$y": "v.a$l", "n": 1}}),
        )
        .await;
    }
}

#[actix_web::test]
async fn posted_alarms_are_listed_newest_first_with_their_fields() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed(&app).await;
        let r = app.get(&format!("{V1}/alarms")).await;
        r.assert_ok();
        assert_eq!(messages(r.data()), ["a4", "a3", "a2", "a1"], "{b:?}");
        assert_eq!(r.body["total"], 4, "{}", r.raw);
        let a1 = &r.data()[3];
        assert_eq!(a1["clusterId"], "C1");
        assert_eq!(a1["namespace"], "ns1");
        assert_eq!(a1["source"], "10.0.0.1");
        assert_eq!(a1["module"], "bcs-health");
        assert_eq!(a1["type"], "sms");
        assert_eq!(a1["receivedTime"], "2023-11-14T22:13:21.000Z", "{b:?}");
        assert!(a1["createTime"].as_str().is_some_and(|s| s.ends_with('Z')));
        assert_eq!(a1["data"], json!({"k.e$y": "v.a$l", "n": 1}), "{b:?}");
        assert!(a1["_id"].as_str().is_some_and(|s| s.len() == 24));
        assert!(a1.get("_isBcsObjectDeleted").is_none());
        // Absent string fields are empty strings; every POST inserts.
        post_alarm(&app, json!({"message": "bare", "receivedTime": 1})).await;
        post_alarm(&app, json!({"message": "bare", "receivedTime": 1})).await;
        let r = app.get(&format!("{V4}/alarms?source=")).await;
        assert_eq!(r.body["total"], 6, "{}", r.raw);
        let bare = &r.data()[5];
        assert_eq!(
            (bare["clusterId"].as_str(), bare["type"].as_str()),
            (Some(""), Some(""))
        );
    }
}

#[actix_web::test]
async fn every_filter_and_the_full_count() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed(&app).await;
        for (q, want, total) in [
            ("clusterId=C1", vec!["a2", "a1"], 2),
            ("clusterId=C1,C3", vec!["a4", "a2", "a1"], 3),
            ("namespace=ns1", vec!["a3", "a1"], 2),
            ("source=10.0.0.1", vec!["a3", "a1"], 2),
            ("module=scheduler", vec!["a4", "a3"], 2),
            // type is a substring, any of the list.
            ("type=sms", vec!["a3", "a1"], 2),
            ("type=mai,voi", vec!["a4", "a3"], 2),
            ("type=SMS", vec![], 0),
            // Exclusive bounds on receivedTime.
            ("timeBegin=1700000002", vec!["a4", "a3"], 2),
            ("timeEnd=1700000002", vec!["a1"], 1),
            (
                "timeBegin=1700000001&timeEnd=1700000004",
                vec!["a3", "a2"],
                2,
            ),
            ("timeBegin=2023-11-14T22:13:22Z", vec!["a4", "a3"], 2),
            ("clusterId=C1&module=bcs-health&type=weixin", vec!["a2"], 1),
            // Paging: total counts every match.
            ("length=2", vec!["a4", "a3"], 4),
            ("length=2&offset=3", vec!["a1"], 4),
            ("clusterId=C1&length=1&offset=1", vec!["a1"], 2),
            ("unknown=x", vec!["a4", "a3", "a2", "a1"], 4),
        ] {
            let r = app.get(&format!("{V4}/alarms?{q}")).await;
            r.assert_ok();
            assert_eq!(messages(r.data()), want, "{b:?} {q}");
            assert_eq!(r.body["total"], total, "{b:?} {q}: {}", r.raw);
        }
        let r = app
            .get(&format!("{V4}/alarms?field=message&length=1"))
            .await;
        r.assert_ok();
        let item = r.data()[0].as_object().cloned().unwrap_or_default();
        let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["_id", "message"], "{b:?}");
    }
}

#[actix_web::test]
async fn bad_alarms_and_bad_parameters_are_400s() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for (body, needle) in [
            (&b"{"[..], "not valid JSON"),
            (b"[1]", "object"),
            (br#"{"clusterId": 1}"#, "clusterId"),
            (br#"{"receivedTime": "soon"}"#, "receivedTime"),
            (br#"{"receivedTime": 1.5}"#, "receivedTime"),
            (br#"{"receivedTime": 99999999999999}"#, "receivedTime"),
        ] {
            app.send("POST", &format!("{V4}/alarms"), Some(body))
                .await
                .assert_err(400, 1_405_080, needle);
        }
        for (q, name) in [
            ("timeBegin=abc", "timeBegin"),
            ("timeEnd=x", "timeEnd"),
            ("length=-1", "length"),
            ("length=x", "length"),
            ("length=50001", "length"),
            ("offset=x", "offset"),
            ("field=a..b", "field"),
        ] {
            app.get(&format!("{V4}/alarms?{q}"))
                .await
                .assert_err(400, 1_405_090, name);
        }
        // Nothing was stored by the refused requests.
        let r = app.get(&format!("{V4}/alarms")).await;
        assert_eq!(r.body["total"], 0, "{b:?}");
        app.send("DELETE", &format!("{V4}/alarms"), None)
            .await
            .assert_err(405, 1_405_094, "DELETE");
    }
}

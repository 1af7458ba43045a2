//! The retention cleaner with a fixed clock (no sleeping): it removes exactly
//! the events and alarms past their age and the alarms beyond the cap.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use bcs_storage::domain::retention::{Removed, run_once};
use bcs_storage::model::{Database, Document, Namespace, date_millis};

use crate::common::{TestApp, V4, backends};

const DAY: i64 = 86_400;

fn doc(v: Value) -> Document {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

#[actix_web::test]
async fn old_events_and_alarms_go_and_the_alarm_cap_holds() {
    let now_s: i64 = 1_800_000_000;
    let now = DateTime::<Utc>::from_timestamp(now_s, 0).unwrap_or_default();
    for b in backends() {
        let app = TestApp::with_settings(b, |s| s.retention.alarm_max_cap = 3).await;
        // Alarms, by age in days (15 is the limit; exactly 15 days is kept).
        for (msg, age) in [
            ("a20", 20),
            ("a16", 16),
            ("a15", 15),
            ("a14", 14),
            ("a2", 2),
            ("a1", 1),
        ] {
            let body = json!({"message": msg, "receivedTime": now_s - age * DAY});
            app.send_json("POST", &format!("{V4}/alarms"), &body)
                .await
                .assert_ok();
        }
        // Events of two clusters, stored as the event routes store them.
        let store = app.store.store.as_ref();
        for (cluster, name, age) in [
            ("C1", "e20", 20),
            ("C1", "e3", 3),
            ("C2", "e16", 16),
            ("C2", "e14", 14),
        ] {
            let ns = Namespace {
                database: Database::Event,
                collection: format!("event_{cluster}"),
                key_fields: &[],
            };
            let d = doc(
                json!({"_id": bson::oid::ObjectId::new().to_hex(), "clusterId": cluster,
                               "name": name, "eventTime": date_millis((now_s - age * DAY) * 1000)}),
            );
            store.insert(&ns, d).await.expect("insert");
        }
        let settings = app.store.settings.retention.clone();
        let removed = run_once(store, &settings, now).await.expect("run");
        assert_eq!(
            removed,
            Removed {
                events: 2,
                expired_alarms: 2,
                capped_alarms: 1
            },
            "{b:?}"
        );
        let r = app.get(&format!("{V4}/alarms")).await;
        let left: Vec<&str> = r
            .data()
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["message"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(left, ["a1", "a2", "a14"], "{b:?}");
        for (cluster, want) in [("C1", vec!["e3"]), ("C2", vec!["e14"])] {
            let ns = Namespace {
                database: Database::Event,
                collection: format!("event_{cluster}"),
                key_fields: &[],
            };
            let names: Vec<String> = {
                use futures::TryStreamExt;
                let docs: Vec<Document> = store
                    .find(
                        &ns,
                        &bcs_storage::model::Query::new(bcs_storage::model::Filter::all()),
                    )
                    .await
                    .expect("find")
                    .try_collect()
                    .await
                    .expect("read");
                docs.iter()
                    .filter_map(|d| d["name"].as_str().map(str::to_owned))
                    .collect()
            };
            assert_eq!(names, want, "{b:?} {cluster}");
        }
        // A second run at the same instant has nothing left to do.
        let again = run_once(store, &settings, now).await.expect("run");
        assert_eq!(again, Removed::default(), "{b:?}");
    }
}

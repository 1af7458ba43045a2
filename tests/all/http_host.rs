//! Host routes (reference B.7) and cluster configuration routes (B.8), on
//! both backends, including documents the Go service left in MongoDB.

use serde_json::{Value, json};

use bcs_storage::domain::cluster_config;
use bcs_storage::model::{Database, Document};

use crate::common::{Backend, PREFIX_PAIR, TestApp, backends};

const NOT_EXIST: i64 = 1_405_087;
const BAD_BODY: i64 = 1_405_080;
const BAD_PARAM: i64 = 1_405_090;

fn host_url(prefix: &str, ip: &str) -> String {
    format!("{prefix}/host/{ip}")
}

fn cluster_hosts(prefix: &str, c: &str) -> String {
    format!("{prefix}/host/clusters/{c}")
}

/// The IPs of a cluster's hosts, by IP.
async fn ips_of(app: &TestApp, c: &str) -> Vec<String> {
    let r = app.get(&cluster_hosts(PREFIX_PAIR[0], c)).await;
    r.assert_ok();
    let other = app.get(&cluster_hosts(PREFIX_PAIR[1], c)).await;
    assert_eq!(r.body, other.body, "both prefixes");
    r.data()
        .as_array()
        .expect("array")
        .iter()
        .map(|h| h["ip"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// The one host `GET /host/{ip}` answers (an array of one).
async fn host(app: &TestApp, ip: &str) -> Value {
    let r = app.get(&host_url(PREFIX_PAIR[1], ip)).await;
    r.assert_ok();
    let items = r.data().as_array().expect("an array").clone();
    assert_eq!(items.len(), 1, "{}", r.raw);
    items[0].clone()
}

#[actix_web::test]
async fn hosts_are_put_read_and_deleted_by_ip() {
    for b in backends() {
        let app = TestApp::new(b).await;
        for (n, prefix) in PREFIX_PAIR.into_iter().enumerate() {
            let ip = format!("10.0.0.{}", n + 1);
            let body = json!({"ip": ip, "clusterId": "BCS-K8S-1",
                              "data": {"rack": "r1", "labels": {"topology.kubernetes.io/zone": "z1"}}});
            app.put_json(&host_url(prefix, &ip), &body)
                .await
                .assert_ok();
            let h = host(&app, &ip).await;
            assert_eq!(h["ip"], json!(ip), "{b:?}");
            assert_eq!(h["clusterId"], json!("BCS-K8S-1"));
            assert_eq!(h["data"], body["data"], "keys with dots round-trip");
            assert!(h["_id"].as_str().is_some_and(|s| s.len() == 24), "{h}");
            let created = h["createTime"].clone();
            assert_eq!(h["updateTime"], created);
            assert!(h.get("_isBcsObjectDeleted").is_none());
            // A second PUT replaces the data, keeps createTime; the body's ip
            // may be left out, and a trailing slash reaches the same route.
            app.put_json(
                &format!("{}/", host_url(prefix, &ip)),
                &json!({"clusterId": "BCS-K8S-2", "data": null}),
            )
            .await
            .assert_ok();
            let h = host(&app, &ip).await;
            assert_eq!(
                (&h["clusterId"], &h["data"], &h["createTime"]),
                (&json!("BCS-K8S-2"), &Value::Null, &created)
            );
            app.delete(&host_url(prefix, &ip)).await.assert_ok();
            app.get(&host_url(prefix, &ip))
                .await
                .assert_err(404, NOT_EXIST, "does not exist");
            // Deleting again is still a success.
            app.delete(&host_url(prefix, &ip)).await.assert_ok();
        }
    }
}

#[actix_web::test]
async fn bad_host_bodies_are_400s_and_change_nothing() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let u = host_url(PREFIX_PAIR[0], "10.0.0.9");
        app.put_json(&u, &json!({"clusterId": "C1", "data": {"v": 1}}))
            .await
            .assert_ok();
        let before = host(&app, "10.0.0.9").await;
        for (body, needle) in [
            (&b"{"[..], "JSON"),
            (b"[1]", "object"),
            (br#"{"ip": "10.0.0.8"}"#, "differs"),
            (br#"{"clusterID": "C2"}"#, "clusterID"),
            (br#"{"clusterId": 7}"#, "clusterId"),
            (br#"{"data": {"$where": 1}, "ip": 5}"#, "ip"),
        ] {
            app.send("PUT", &u, Some(body))
                .await
                .assert_err(400, BAD_BODY, needle);
        }
        for (body, needle) in [
            (&br#"{"ips": "10.0.0.1"}"#[..], "ips"),
            (br#"{"ips": [1]}"#, "ips"),
            (br#"{"ips": ["10.0.0.1"], "extra": 1}"#, "extra"),
            (br#"{"ips": [""]}"#, "ips"),
        ] {
            let r = app
                .send("PUT", &cluster_hosts(PREFIX_PAIR[1], "C1"), Some(body))
                .await;
            assert_eq!(r.status, 400, "{}", r.raw);
            assert!(r.message().contains(needle), "{}", r.raw);
        }
        assert_eq!(host(&app, "10.0.0.9").await, before, "{b:?}");
        assert_eq!(ips_of(&app, "C1").await, ["10.0.0.9"]);
        app.send("POST", &host_url(PREFIX_PAIR[0], "10.0.0.9"), Some(b"{}"))
            .await
            .assert_err(405, 1_405_094, "POST");
    }
}

#[actix_web::test]
async fn cluster_relations_set_and_add_hosts_and_keep_their_data() {
    for b in backends() {
        let app = TestApp::new(b).await;
        let p = PREFIX_PAIR[1];
        app.put_json(
            &host_url(p, "10.0.0.1"),
            &json!({"ip": "10.0.0.1", "clusterId": "", "data": {"rack": "r1"}}),
        )
        .await
        .assert_ok();
        let created = host(&app, "10.0.0.1").await["createTime"].clone();
        // POST adds: an unknown host is created, a known one keeps its data.
        app.send_json(
            "POST",
            &cluster_hosts(p, "C1"),
            &json!({"ips": ["10.0.0.1", "10.0.0.2", "10.0.0.2"]}),
        )
        .await
        .assert_ok();
        assert_eq!(ips_of(&app, "C1").await, ["10.0.0.1", "10.0.0.2"], "{b:?}");
        let h1 = host(&app, "10.0.0.1").await;
        assert_eq!(
            (&h1["data"], &h1["createTime"]),
            (&json!({"rack": "r1"}), &created)
        );
        assert!(host(&app, "10.0.0.2").await.get("data").is_none());
        // PUT sets exactly: hosts left out belong to no cluster.
        app.send_json(
            "PUT",
            &cluster_hosts(PREFIX_PAIR[0], "C1"),
            &json!({"ips": ["10.0.0.2", "10.0.0.3"]}),
        )
        .await
        .assert_ok();
        assert_eq!(ips_of(&app, "C1").await, ["10.0.0.2", "10.0.0.3"]);
        let h1 = host(&app, "10.0.0.1").await;
        assert_eq!(
            (&h1["clusterId"], &h1["data"]),
            (&json!(""), &json!({"rack": "r1"}))
        );
        // A host named by another cluster moves there.
        app.send_json(
            "POST",
            &cluster_hosts(p, "C2"),
            &json!({"ips": ["10.0.0.3"]}),
        )
        .await
        .assert_ok();
        assert_eq!(ips_of(&app, "C1").await, ["10.0.0.2"]);
        assert_eq!(ips_of(&app, "C2").await, ["10.0.0.3"]);
        // Go's nil slice: PUT empties the cluster, POST changes nothing.
        app.send_json("POST", &cluster_hosts(p, "C2"), &json!({"ips": null}))
            .await
            .assert_ok();
        assert_eq!(ips_of(&app, "C2").await, ["10.0.0.3"]);
        app.send_json("PUT", &cluster_hosts(p, "C1"), &json!({"ips": null}))
            .await
            .assert_ok();
        assert!(ips_of(&app, "C1").await.is_empty());
        // Paging and projection of a cluster's list.
        app.send_json(
            "PUT",
            &cluster_hosts(p, "C3"),
            &json!({"ips": ["10.0.1.3", "10.0.1.1", "10.0.1.2"]}),
        )
        .await
        .assert_ok();
        let r = app
            .get(&format!(
                "{}?offset=1&limit=1&field=ip",
                cluster_hosts(p, "C3")
            ))
            .await;
        r.assert_ok();
        assert_eq!(r.data().as_array().map(Vec::len), Some(1), "{}", r.raw);
        assert_eq!(r.data()[0]["ip"], json!("10.0.1.2"), "{}", r.raw);
        assert!(r.data()[0].get("clusterId").is_none(), "{}", r.raw);
    }
}

/// Operator-provisioned data of the cluster configuration database: a
/// service configuration, two templates (the newer one wins), written
/// through the store as the operator's tooling would (on MongoDB, raw
/// documents as the Go service's operators wrote them).
async fn seed_cluster_config(app: &TestApp) {
    let service = json!({"service": "bcs", "data": {"common": {"region": "sz"},
                                                     "conf": {"scheduler": {"replicas": 3}}}});
    let old = json!({"service": "bcs", "version": "1",
                     "data": r#"{"common": {"zk": "old"}, "conf": null}"#});
    let new = json!({"service": "bcs", "version": "2",
                     "data": r#"{"common": {"zk": "${mesosZkHost}", "quorum": ${mesosQuorum}, "nat": ${needNat}},
                                  "conf": {"dns": {"upstream": "${dnsUpStream}", "cluster": "${clusterIdNumber}"}}}"#});
    match app.store.backend {
        Backend::Mongo => {
            let raw = |v: Value| bson::to_document(&v).expect("bson");
            let coll = |name| app.store.mongo_collection(Database::ClusterConfig, name);
            coll("services")
                .await
                .insert_one(raw(service))
                .await
                .expect("insert");
            coll("clusterTemplate")
                .await
                .insert_many([raw(old), raw(new)])
                .await
                .expect("insert");
        }
        Backend::Sqlite => {
            let s = app.store.store.as_ref();
            let with_id = |v: Value| -> Document {
                let mut d = match v {
                    Value::Object(m) => m,
                    _ => unreachable!(),
                };
                d.insert("_id".into(), json!(bson::oid::ObjectId::new().to_hex()));
                d
            };
            s.upsert(&cluster_config::services(), with_id(service))
                .await
                .expect("seed");
            for t in [old, new] {
                s.upsert(&cluster_config::templates(), with_id(t))
                    .await
                    .expect("seed");
            }
        }
    }
}

#[actix_web::test]
async fn cluster_configs_render_from_the_newest_template() {
    for b in backends() {
        let app = TestApp::new(b).await;
        seed_cluster_config(&app).await;
        let p = PREFIX_PAIR[0];
        let cluster = |c: &str| format!("{p}/cluster_config/clusters/{c}/");
        // Before any cluster is configured: the service, no clusters, no
        // stable version yet.
        let r = app
            .get(&format!("{}?service=bcs", cluster("BCS-MESOS-10001")))
            .await;
        r.assert_ok();
        assert_eq!(
            r.data(),
            &json!({"service": "bcs",
                    "serviceConfig": {"common": {"region": "sz"}, "conf": {"scheduler": {"replicas": 3}}},
                    "clusters": [], "stableVersion": ""}),
            "{b:?}"
        );
        app.get(&format!("{p}/cluster_config/versions/bcs"))
            .await
            .assert_err(404, NOT_EXIST, "stable version");
        app.put_json(
            &format!("{}/cluster_config/versions/bcs", PREFIX_PAIR[1]),
            &json!({"version": "v1.20.3"}),
        )
        .await
        .assert_ok();
        let r = app.get(&format!("{p}/cluster_config/versions/bcs")).await;
        r.assert_ok();
        assert_eq!(r.data(), &json!("v1.20.3"));
        // PUT renders the template with the body (BcsStorageClusterIf as
        // Go marshals it) and answers the DeployConfig.
        let body = json!({"service": "bcs", "zkIp": ["10.0.0.1", "10.0.0.2:2182"],
                          "masterIp": ["10.0.1.1", "10.0.1.2", "10.0.1.3"], "dnsIp": ["10.0.2.1"],
                          "city": "sz", "jfrogUrl": "", "needNat": false});
        let r = app
            .put_json(
                &format!("{}?clusterId=BCS-MESOS-10001", cluster("BCS-MESOS-10001")),
                &body,
            )
            .await;
        r.assert_ok();
        let rendered = json!({"clusterId": "BCS-MESOS-10001", "clusterConfig": {
            "common": {"zk": "10.0.0.1:2181,10.0.0.2:2182", "quorum": 2, "nat": false},
            "conf": {"dns": {"upstream": "10.0.2.1:53", "cluster": "10001"}}}});
        assert_eq!(
            r.data()["clusters"],
            json!([rendered.clone()]),
            "{b:?} {}",
            r.raw
        );
        assert_eq!(r.data()["stableVersion"], json!("v1.20.3"));
        // Without a service anywhere, the Go default "test" is meant.
        app.put_json(
            &cluster("BCS-MESOS-10002"),
            &json!({"zkIp": null, "masterIp": null}),
        )
        .await
        .assert_err(404, NOT_EXIST, "\"test\"");
        // The same body with service only in the query.
        let mut second = body.clone();
        second["service"] = json!("");
        app.put_json(
            &format!("{}?service=bcs", cluster("BCS-MESOS-10002")),
            &second,
        )
        .await
        .assert_ok();
        let r = app.get(&format!("{p}/cluster_config/services/bcs")).await;
        r.assert_ok();
        let ids: Vec<&Value> = r.data()["clusters"]
            .as_array()
            .expect("clusters")
            .iter()
            .map(|c| &c["clusterId"])
            .collect();
        assert_eq!(ids, [&json!("BCS-MESOS-10001"), &json!("BCS-MESOS-10002")]);
        for (q, want) in [
            ("clusterId=BCS-MESOS-10002", vec!["BCS-MESOS-10002"]),
            ("clusterIdNot=BCS-MESOS-10002", vec!["BCS-MESOS-10001"]),
            (
                "clusterId=BCS-MESOS-10001&clusterIdNot=BCS-MESOS-10001",
                vec!["BCS-MESOS-10002"],
            ),
            (
                "clusterId=&clusterIdNot=",
                vec!["BCS-MESOS-10001", "BCS-MESOS-10002"],
            ),
        ] {
            let r = app
                .get(&format!("{p}/cluster_config/services/bcs?{q}"))
                .await;
            r.assert_ok();
            let got: Vec<&str> = r.data()["clusters"]
                .as_array()
                .expect("clusters")
                .iter()
                .map(|c| c["clusterId"].as_str().unwrap_or("?"))
                .collect();
            assert_eq!(got, want, "{b:?} {q}");
        }
        // A PUT again replaces the cluster's configuration.
        let mut again = body.clone();
        again["needNat"] = json!(true);
        let r = app.put_json(&cluster("BCS-MESOS-10001"), &again).await;
        r.assert_ok();
        assert_eq!(
            r.data()["clusters"][0]["clusterConfig"]["common"]["nat"],
            json!(true)
        );
        // Refusals.
        for (uri, body, status, code, needle) in [
            (
                format!("{}?clusterId=OTHER", cluster("BCS-MESOS-10001")),
                json!({"service": "bcs"}),
                400,
                BAD_PARAM,
                "clusterId",
            ),
            (
                format!("{}?service=other", cluster("BCS-MESOS-10001")),
                json!({"service": "bcs"}),
                400,
                BAD_PARAM,
                "service",
            ),
            (
                cluster("C9"),
                json!({"service": "bcs", "zkIp": "10.0.0.1"}),
                400,
                BAD_BODY,
                "zkIp",
            ),
            (
                cluster("C9"),
                json!({"service": "bcs", "needNat": "yes"}),
                400,
                BAD_BODY,
                "needNat",
            ),
            (
                cluster("C9"),
                json!({"service": "bcs", "zkIP": []}),
                400,
                BAD_BODY,
                "zkIP",
            ),
            (
                cluster("C9"),
                json!({"service": "nosuch"}),
                404,
                NOT_EXIST,
                "nosuch",
            ),
            (
                format!("{p}/cluster_config/versions/bcs"),
                json!({"version": ""}),
                400,
                BAD_BODY,
                "version",
            ),
            (
                format!("{p}/cluster_config/versions/bcs"),
                json!({"version": 2}),
                400,
                BAD_BODY,
                "version",
            ),
        ] {
            app.put_json(&uri, &body)
                .await
                .assert_err(status, code, needle);
        }
        app.get(&format!("{p}/cluster_config/services/nosuch"))
            .await
            .assert_err(404, NOT_EXIST, "nosuch");
        let r = app
            .get(&format!("{p}/cluster_config/services/bcs?clusterId=C9"))
            .await;
        assert_eq!(r.data()["clusters"], json!([]), "nothing was stored for C9");
        let r = app.get(&format!("{p}/cluster_config/versions/bcs")).await;
        assert_eq!(
            r.data(),
            &json!("v1.20.3"),
            "the refused version changed nothing"
        );
    }
}

#[actix_web::test]
async fn a_host_database_the_go_service_wrote_reads_back() {
    if !backends().contains(&Backend::Mongo) {
        return;
    }
    let app = TestApp::new(Backend::Mongo).await;
    let coll = app
        .store
        .mongo_collection(bcs_storage::model::Database::Host, "host")
        .await;
    // As the Go handler writes a host: no deletion flag, BSON dates.
    let t = bson::DateTime::from_millis(1_700_000_000_123);
    coll.insert_one(bson::doc! {"ip": "10.1.0.1", "clusterId": "BCS-K8S-9",
    "data": {"rack": "r9"}, "createTime": t, "updateTime": t})
        .await
        .expect("insert");
    let h = host(&app, "10.1.0.1").await;
    assert_eq!(h["clusterId"], json!("BCS-K8S-9"));
    assert_eq!(h["createTime"], json!("2023-11-14T22:13:20.123Z"));
    assert_eq!(ips_of(&app, "BCS-K8S-9").await, ["10.1.0.1"]);
    // Moving it keeps what the Go service stored.
    app.send_json(
        "PUT",
        &cluster_hosts(PREFIX_PAIR[0], "BCS-K8S-10"),
        &json!({"ips": ["10.1.0.1"]}),
    )
    .await
    .assert_ok();
    let h = host(&app, "10.1.0.1").await;
    assert_eq!(
        (&h["clusterId"], &h["data"], &h["createTime"]),
        (
            &json!("BCS-K8S-10"),
            &json!({"rack": "r9"}),
            &json!("2023-11-14T22:13:20.123Z")
        )
    );
}

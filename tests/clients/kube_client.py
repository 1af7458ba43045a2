"""Drives the Kubernetes views of bcs-storage with the official Python client
(`kubernetes` on PyPI), as a dashboard or an operator would. Called by
tests/all/kube_clients.rs:

    python kube_client.py SERVER BCS_BASE SCENARIO [ARG]

SERVER is the view root (http://127.0.0.1:P/clusters/C1 or the server root);
BCS_BASE is the bcs namespace_resources URL of the cluster, for the writes a
scenario makes while it watches. Prints one JSON object with what it saw.
"""

import json
import sys
import threading
import time
import urllib.request

from kubernetes import client, watch
from kubernetes.client.rest import ApiException


def api(server, token=None):
    cfg = client.Configuration()
    cfg.host = server
    if token:
        cfg.api_key = {"authorization": token}
        cfg.api_key_prefix = {"authorization": "Bearer"}
    return client.CoreV1Api(client.ApiClient(cfg))


def put_pod(bcs_base, ns, name, labels, phase="Running"):
    body = json.dumps({"data": {
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "creationTimestamp": "2026-01-02T03:04:05Z"},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "nginx"}]},
        "status": {"phase": phase},
    }}).encode()
    req = urllib.request.Request(f"{bcs_base}/namespaces/{ns}/Pod/{name}", data=body, method="PUT")
    urllib.request.urlopen(req).read()


def delete_pod(bcs_base, ns, name):
    req = urllib.request.Request(f"{bcs_base}/namespaces/{ns}/Pod/{name}", method="DELETE")
    urllib.request.urlopen(req).read()


def names(pod_list):
    return [f"{p.metadata.namespace}/{p.metadata.name}" for p in pod_list.items]


def scenario_list(v1, bcs_base, _arg):
    out = {}
    out["web"] = names(v1.list_namespaced_pod("default", label_selector="app=web"))
    out["not_web"] = names(v1.list_pod_for_all_namespaces(label_selector="app notin (web)"))
    out["pending"] = names(v1.list_pod_for_all_namespaces(field_selector="status.phase=Pending"))
    paged, token, pages = [], None, 0
    while True:
        page = v1.list_pod_for_all_namespaces(limit=2, _continue=token)
        paged += names(page)
        pages += 1
        token = page.metadata._continue
        if not token:
            break
    out["paged"] = paged
    out["pages"] = pages
    pod = v1.read_namespaced_pod("web-1", "default")
    out["read"] = {
        "name": pod.metadata.name,
        "cluster": pod.metadata.annotations.get("shadow.clusterpedia.io/cluster-name"),
        "created": pod.metadata.creation_timestamp.isoformat(),
        "rv_is_store_revision": pod.metadata.resource_version
        != pod.metadata.annotations.get("storage.bkbcs.tencent.com/source-resource-version"),
        "phase": pod.status.phase,
    }
    try:
        v1.read_namespaced_pod("nope", "default")
        out["missing"] = None
    except ApiException as e:
        body = json.loads(e.body)
        out["missing"] = {"status": e.status, "reason": body["reason"], "message": body["message"]}
    try:
        v1.list_pod_for_all_namespaces(field_selector="spec.bogus=1")
        out["bad_field"] = None
    except ApiException as e:
        out["bad_field"] = {"status": e.status, "message": json.loads(e.body)["message"]}
    nodes = v1.list_node()
    out["nodes"] = [n.metadata.name for n in nodes.items]
    return out


def scenario_watch(v1, bcs_base, _arg):
    """List, then watch from the list's revision while another thread
    writes; every change exactly once, in order."""
    listed = v1.list_namespaced_pod("default", label_selector="app=watched")
    rv = listed.metadata.resource_version

    def writer():
        time.sleep(1.0)
        put_pod(bcs_base, "default", "w1", {"app": "watched"})
        put_pod(bcs_base, "default", "other", {"app": "other"})
        put_pod(bcs_base, "default", "w1", {"app": "watched"}, phase="Succeeded")
        delete_pod(bcs_base, "default", "w1")

    t = threading.Thread(target=writer)
    t.start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, "default", label_selector="app=watched",
                       resource_version=rv, timeout_seconds=20):
        seen.append([ev["type"], ev["object"].metadata.name, ev["object"].status.phase])
        if ev["type"] == "DELETED":
            w.stop()
    t.join()
    return {"initial": names(listed), "events": seen}


def scenario_expired(v1, bcs_base, stale_rv):
    """A watch from a revision no longer kept fails with 410; the client
    lists again and watches from the new list."""
    out = {}
    w = watch.Watch()
    try:
        for _ in w.stream(v1.list_namespaced_pod, "default", resource_version=stale_rv,
                          timeout_seconds=10):
            pass
        out["error"] = None
    except ApiException as e:
        out["error"] = e.status
    listed = v1.list_namespaced_pod("default")
    out["relisted"] = len(listed.items)

    def writer():
        time.sleep(1.0)
        put_pod(bcs_base, "default", "after-410", {"app": "x"})

    t = threading.Thread(target=writer)
    t.start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, "default",
                       resource_version=listed.metadata.resource_version, timeout_seconds=20):
        seen.append([ev["type"], ev["object"].metadata.name])
        w.stop()
    t.join()
    out["events"] = seen
    return out


def scenario_write(v1, _bcs_base, _arg):
    """Creates, patches, replaces the status of and deletes pods, the way
    an operator written with the client does."""
    out = {}

    def pod(name):
        return client.V1Pod(
            metadata=client.V1ObjectMeta(name=name, labels={"app": "py"}),
            spec=client.V1PodSpec(containers=[client.V1Container(name="c", image="busybox:1.36")]))

    created = v1.create_namespaced_pod("default", pod("py-1"))
    out["created"] = [created.metadata.name, created.status.phase, len(created.metadata.uid)]
    try:
        v1.create_namespaced_pod("default", pod("py-1"))
        out["again"] = "accepted"
    except ApiException as e:
        out["again"] = [e.status, json.loads(e.body)["reason"]]
    # A dict body goes as a strategic merge patch.
    patched = v1.patch_namespaced_pod("py-1", "default", {
        "metadata": {"labels": {"tier": "t"}},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.37"}]}})
    out["patched"] = [patched.metadata.labels, patched.spec.containers[0].image]
    current = v1.read_namespaced_pod("py-1", "default")
    current.status = client.V1PodStatus(phase="Running", pod_ip="10.1.1.1")
    current.spec.containers[0].image = "ignored:by-the-status-subresource"
    st = v1.replace_namespaced_pod_status("py-1", "default", current)
    out["status"] = [st.status.phase, st.status.pod_ip, st.spec.containers[0].image]
    # The object as created is stale now: its resourceVersion is refused.
    created.status = client.V1PodStatus(phase="Failed")
    try:
        v1.replace_namespaced_pod_status("py-1", "default", created)
        out["stale"] = "accepted"
    except ApiException as e:
        out["stale"] = [e.status, json.loads(e.body)["reason"]]
    out["phase"] = v1.read_namespaced_pod_status("py-1", "default").status.phase
    v1.create_namespaced_pod("default", pod("py-2"))
    v1.delete_collection_namespaced_pod("default", label_selector="app=py")
    out["left"] = names(v1.list_namespaced_pod("default"))
    try:
        v1.delete_namespaced_pod("py-1", "default")
        out["delete_again"] = "accepted"
    except ApiException as e:
        out["delete_again"] = e.status
    return out


def scenario_auth(_v1, _bcs_base, arg):
    """ARG is "SERVER READ_TOKEN WRITE_TOKEN": what each caller may do."""
    server, reader, writer = arg.split(" ")
    out = {}
    patch = {"metadata": {"labels": {"tier": "front"}}}
    for who, token in [("anonymous", None), ("wrong", "bcs_0"), ("reader", reader),
                       ("writer", writer)]:
        v1 = api(server, token)
        seen = {}
        try:
            seen["list"] = names(v1.list_namespaced_pod("default"))
        except ApiException as e:
            seen["list"] = [e.status, json.loads(e.body)["reason"]]
        try:
            v1.patch_namespaced_pod("web-1", "default", patch)
            seen["patch"] = "ok"
        except ApiException as e:
            seen["patch"] = [e.status, json.loads(e.body)["reason"]]
        out[who] = seen
    return out


def main():
    server, bcs_base, scenario = sys.argv[1], sys.argv[2], sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    v1 = api(server)
    fn = {"list": scenario_list, "watch": scenario_watch, "expired": scenario_expired,
          "write": scenario_write, "auth": scenario_auth}[scenario]
    print(json.dumps(fn(v1, bcs_base, arg)))


if __name__ == "__main__":
    main()

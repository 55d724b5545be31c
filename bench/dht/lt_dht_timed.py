#!/usr/bin/python3
"""lt_dht_timed.py — time one libtorrent dht_get_peers on a loopback DHT (for bench/dht).

Usage: /usr/bin/python3 bench/dht/lt_dht_timed.py --bootstrap 127.0.0.1:7001
           --info-hash HEX40 --expect 127.0.0.1:6881 [--port 7100] [--timeout 10]

Same session setup as test/lab/lt_dht.py get (a fresh libtorrent session that knows only the
bootstrap node, via add_dht_node, and waits until its routing table has a node; read-only, like
btkit dht-lookup), but it measures
from the dht_get_peers() call: to the first reply holding --expect, and to the end of the
get_peers traversal (libtorrent's DHT log line "[N] get_peers DONE"). Prints one JSON line:
{"firstPeerMs", "doneMs", "readyMs" (session start to table ready), "peers", "ok"}.
"""
import argparse
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "test", "lab"))
import libtorrent as lt  # noqa: E402
import ltlab  # noqa: E402
import lt_dht  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--bootstrap", required=True)
ap.add_argument("--info-hash", required=True)
ap.add_argument("--expect", required=True)
ap.add_argument("--port", type=int, default=7100)
ap.add_argument("--timeout", type=float, default=10)
a = ap.parse_args()

boot = [ltlab.parse_hostport(x) for x in a.bootstrap.split(",") if x]
mask = (lt.alert.category_t.dht_notification | lt.alert.category_t.dht_operation_notification
        | lt.alert.category_t.dht_log_notification | lt.alert.category_t.error_notification)
t_start = time.monotonic()
# Read-only (BEP 43), like btkit dht-lookup: a measuring session that is gone a second later must
# not stay in the lab nodes' routing tables, or every later lookup waits on its timeouts.
ses = ltlab.make_session(lt_dht.node_settings("127.0.0.1", a.port, boot, "loopback",
                                              {"alert_mask": mask, "dht_read_only": True}), boot)
# Wait for a routing-table node, polling every 10 ms (lt_dht.wait_tables sleeps 0.5 s between
# polls, which would inflate the process's wall time; the lookup times start after this anyway).
ready_deadline = time.monotonic() + 15
while time.monotonic() < ready_deadline and lt_dht.routing_nodes(ses, 0.2) < 1:
    time.sleep(0.01)
ready_ms = (time.monotonic() - t_start) * 1000

ses.dht_get_peers(lt.sha1_hash(bytes.fromhex(a.info_hash)))
t0 = time.monotonic()
traversal = None          # the "[N]" of our get_peers traversal in the DHT log
first_peer = None
done = None
peers = set()
while time.monotonic() - t0 < a.timeout and done is None:
    ses.wait_for_alert(20)
    for al in ses.pop_alerts():
        now = (time.monotonic() - t0) * 1000
        if isinstance(al, lt.dht_get_peers_reply_alert) and str(al.info_hash) == a.info_hash:
            peers.update(f"{h}:{p}" for h, p in al.peers())
            if first_peer is None and a.expect in peers:
                first_peer = now
        elif isinstance(al, lt.dht_log_alert):
            msg = al.log_message()
            m = re.match(r"\[(\d+)\] ", msg)
            if not m:
                continue
            if traversal is None and "type: get_peers" in msg:
                traversal = m.group(1)
            if os.environ.get("LT_DEBUG"):
                print(f"{now:8.2f} {msg[:120]}", file=sys.stderr)
            if m.group(1) == traversal and msg.endswith("get_peers DONE"):
                done = now
print(json.dumps({"firstPeerMs": first_peer, "doneMs": done, "readyMs": round(ready_ms, 1),
                  "peers": sorted(peers), "ok": first_peer is not None and done is not None}), flush=True)
del ses
sys.exit(0 if first_peer is not None else 1)

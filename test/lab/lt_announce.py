#!/usr/bin/python3
"""lt_announce.py — libtorrent as a tracker *client*, driven line by line, loopback only.

Usage:
  /usr/bin/python3 lt_announce.py MAGNET_OR_TORRENT_OR_HEX40 --tracker URL [--tracker URL ...]
        [--port 0] [--save DIR] [--seconds 60] [--no-ssrf-mitigation]

Adds the torrent (a bare infohash becomes a magnet) with exactly the given trackers, each in a tier
of its own, and lets libtorrent announce. It prints one JSON object per line on stdout:

  {"event": "listen", "port": P}                     libtorrent's listen port (what it announces)
  {"event": "tracker_reply", "url": U, "num_peers": N}
  {"event": "tracker_error", "url": U, "message": M}
  {"event": "tracker_warning", "url": U, "message": M}
  {"event": "scrape_reply", "url": U, "complete": C, "incomplete": I}
  {"event": "scrape_failed", "url": U, "message": M}
  {"event": "peers", "peers": ["127.0.0.1:6881", ...]}   answer to the `peers` command
  {"event": "bye"}

and reads commands on stdin, one per line:
  announce   force a re-announce to every tracker (ignoring min interval)
  scrape     scrape every tracker
  peers      list the peers libtorrent is connected to or connecting to
  quit       send `stopped` to the trackers and exit

It exits by itself after --seconds (bounded), or when stdin closes.

libtorrent's SSRF mitigation (on by default) accepts a tracker on a local address only at the path
/announce, and it applies the rule to the BEP 48 scrape URL too, which is /scrape: so scraping any
tracker on 127.0.0.1 fails with an empty error unless --no-ssrf-mitigation turns the rule off.
"""
import argparse
import json
import os
import queue
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import libtorrent as lt  # noqa: E402
import ltlab  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("source", help="magnet URI, .torrent path, or 40-hex infohash")
ap.add_argument("--tracker", action="append", default=[], required=True)
ap.add_argument("--port", type=int, default=0, help="listen port (0: any)")
ap.add_argument("--save", default=None, help="save path (default: a temporary directory)")
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--no-ssrf-mitigation", action="store_true", help="allow scraping a tracker on 127.0.0.1 (see above)")
a = ap.parse_args()

for url in a.tracker:
    if not ltlab.url_is_loopback(url):
        sys.exit(f"refusing non-loopback tracker {url!r}")


def emit(**obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


settings = ltlab.session_settings(a.port, "tcp", extra={
    # announce to every tracker we were given, not one per tier
    "announce_to_all_trackers": True,
    "announce_to_all_tiers": True,
    "ssrf_mitigation": not a.no_ssrf_mitigation,
})
ses = ltlab.make_session(settings)

src = a.source
if len(src) == 40 and all(c in "0123456789abcdefABCDEF" for c in src):
    src = f"magnet:?xt=urn:btih:{src}"
if src.startswith("magnet:"):
    atp = lt.parse_magnet_uri(src)
else:
    atp = lt.add_torrent_params()
    atp.ti = lt.torrent_info(src)
save = a.save or tempfile.mkdtemp(prefix="lt-announce-")
atp.save_path = save
atp.trackers = []
ltlab.sanitize_atp(atp)
atp.trackers = list(a.tracker)
atp.tracker_tiers = list(range(len(a.tracker)))
h = ses.add_torrent(atp)

commands = queue.Queue()


def read_stdin():
    for line in sys.stdin:
        commands.put(line.strip())
    commands.put("quit")


threading.Thread(target=read_stdin, daemon=True).start()

deadline = time.monotonic() + a.seconds
quitting_until = None
while time.monotonic() < deadline:
    if quitting_until is not None and time.monotonic() > quitting_until:
        break
    ses.wait_for_alert(100)
    for al in ses.pop_alerts():
        if isinstance(al, lt.listen_succeeded_alert):
            emit(event="listen", port=al.port)
        elif isinstance(al, lt.tracker_reply_alert):
            emit(event="tracker_reply", url=al.tracker_url(), num_peers=al.num_peers)
        elif isinstance(al, lt.tracker_error_alert):
            emit(event="tracker_error", url=al.tracker_url(), message=al.error_message() or al.message())
        elif isinstance(al, lt.tracker_warning_alert):
            emit(event="tracker_warning", url=al.tracker_url(), message=al.warning_message())
        elif isinstance(al, lt.scrape_reply_alert):
            emit(event="scrape_reply", url=al.tracker_url(), complete=al.complete, incomplete=al.incomplete)
        elif isinstance(al, lt.scrape_failed_alert):
            emit(event="scrape_failed", url=al.tracker_url(), message=al.error_message() or al.message())
    while quitting_until is None:
        try:
            cmd = commands.get_nowait()
        except queue.Empty:
            break
        if cmd == "announce":
            # ignore_min_interval = 1 (torrent_handle::reannounce_flags_t)
            h.force_reannounce(0, -1, 1)
        elif cmd == "scrape":
            for i in range(len(a.tracker)):
                h.scrape_tracker(i)
        elif cmd == "peers":
            emit(event="peers", peers=[f"{p.ip[0]}:{p.ip[1]}" for p in h.get_peer_info()])
        elif cmd == "quit":
            # removing the torrent sends `stopped`; give it a moment to go out
            ses.remove_torrent(h)
            quitting_until = time.monotonic() + 1.0
emit(event="bye")

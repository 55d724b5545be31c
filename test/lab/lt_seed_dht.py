#!/usr/bin/python3
"""lt_seed_dht.py — lt_seed.py for a loopback DHT: the same seeder, with libtorrent's per-IP DHT
rate limits lifted.

Usage: exactly lt_seed.py's (see that file), e.g.
  /usr/bin/python3 lt_seed_dht.py TORRENT SAVE_PATH --dht 127.0.0.1:7001 --no-tracker

Why: in a loopback lab every DHT node, lookup and announce comes from the one address 127.0.0.1.
libtorrent's DHT DoS blocker (dht_block_ratelimit, 5 packets/s per IP by default) then bans
127.0.0.1 for dht_block_timeout (5 min) after a few lookups in a row, and the seeder's DHT node
goes silent for everyone; its dht_upload_rate_limit (8 kB/s) drops replies the same way. Real
peers have their own addresses. lt_dht.py serve takes the same settings with --set.
"""
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import ltlab  # noqa: E402  (lt_seed.py imports this same module object)

UNTHROTTLED = {"dht_block_ratelimit": 100000, "dht_upload_rate_limit": 100000000}
_session_settings = ltlab.session_settings


def session_settings(*args, **kwargs):
    s = _session_settings(*args, **kwargs)
    s.update(UNTHROTTLED)
    return s


ltlab.session_settings = session_settings
sys.argv[0] = os.path.join(HERE, "lt_seed.py")
runpy.run_path(sys.argv[0], run_name="__main__")

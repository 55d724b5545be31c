#!/usr/bin/python3
"""lt_info.py — read a .torrent with libtorrent's torrent_info and print what it sees as JSON.

Usage: /usr/bin/python3 lt_info.py TORRENT

Prints one JSON object: name, total_size, piece_length, num_pieces, info_hash (v1 hex, or null),
info_hash_v2 (hex, or null), private, trackers [{url, tier}], web_seeds [url], creator, comment,
and files [{path, size, pad}] in torrent order (path joined with '/', the torrent name first for a
multi-file torrent, as libtorrent stores it). Exits 1 with the error on stderr when libtorrent
refuses the file.
"""
import json, sys
import libtorrent as lt

if len(sys.argv) != 2:
    print(__doc__, file=sys.stderr)
    sys.exit(2)
try:
    ti = lt.torrent_info(sys.argv[1])
except Exception as e:  # libtorrent raises RuntimeError with its own message
    print(f"libtorrent refused {sys.argv[1]}: {e}", file=sys.stderr)
    sys.exit(1)

fs = ti.files()
hashes = ti.info_hashes()
files = []
for i in range(fs.num_files()):
    files.append({
        "path": fs.file_path(i).replace("\\", "/"),
        "size": fs.file_size(i),
        "pad": bool(fs.file_flags(i) & lt.file_storage.flag_pad_file),
    })
v1 = str(hashes.v1) if hashes.has_v1() else None
v2 = str(hashes.v2) if hashes.has_v2() else None
print(json.dumps({
    "name": ti.name(),
    "total_size": ti.total_size(),
    "piece_length": ti.piece_length(),
    "num_pieces": ti.num_pieces(),
    "info_hash": v1,
    "info_hash_v2": v2,
    "private": ti.priv(),
    "trackers": [{"url": t.url, "tier": t.tier} for t in ti.trackers()],
    "web_seeds": [w["url"] for w in ti.web_seeds()],
    "creator": ti.creator(),
    "comment": ti.comment(),
    "files": files,
}, ensure_ascii=False))

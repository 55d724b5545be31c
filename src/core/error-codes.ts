/**
 * The catalogue of every error code btkit reports, one `const` object per domain.
 *
 * A code is part of btkit's public interface (scripts match on it in `--json` output and in the
 * `[CODE]` of an error line): add codes here, never rename or remove one. `BtError` only accepts a
 * code listed here (or an `IO_<errno>` built from a system error, see `SystemIoCode`), and only
 * with the category (or one of the categories) listed for it, so tsc rejects an unknown code and a
 * code thrown as the wrong kind of failure. docs/error-codes.md is generated from this file
 * (scripts/error-codes.js) with the exit code of each category (src/cli/exit-codes.ts).
 *
 * `category` is a list for the few codes that are thrown as more than one kind of failure.
 * `meaning` is one line, for the docs.
 */
import type { ErrorCategory } from './errors.js';

export interface ErrorCodeInfo {
  readonly category: ErrorCategory | readonly ErrorCategory[];
  readonly meaning: string;
}

type Domain = Record<string, ErrorCodeInfo>;

/** Decoding and encoding bencode (BEP 3). */
export const BENCODE_CODES = {
  BENCODE_EMPTY: { category: 'input', meaning: 'the input is empty where a bencoded value was expected' },
  BENCODE_UNEXPECTED_END: { category: 'input', meaning: 'the input ends inside a value (an unterminated integer, string length, list or dictionary)' },
  BENCODE_BAD_TOKEN: { category: 'input', meaning: 'a byte that cannot start a bencoded value' },
  BENCODE_BAD_INTEGER: { category: 'input', meaning: 'an integer without digits, or with a stray byte before its `e`' },
  BENCODE_INTEGER_TOO_LONG: { category: 'input', meaning: 'an integer with more digits than the decoder allows' },
  BENCODE_BAD_STRING: { category: 'input', meaning: 'a string length not followed by `:`' },
  BENCODE_LENGTH_PAST_END: { category: 'input', meaning: 'a string length that runs past the end of the input' },
  BENCODE_BAD_KEY: { category: 'input', meaning: 'a dictionary key that is not a string' },
  BENCODE_TOO_DEEP: { category: 'input', meaning: 'lists and dictionaries nested deeper than the decoder allows' },
  BENCODE_TOO_MANY_ITEMS: { category: 'input', meaning: 'more values than the decoder allows in one input' },
  BENCODE_TRAILING_BYTES: { category: 'input', meaning: 'bytes after the end of the bencoded value' },
  BENCODE_NONCANONICAL_UNSORTED_KEYS: { category: 'input', meaning: 'strict mode: dictionary keys out of order' },
  BENCODE_NONCANONICAL_DUPLICATE_KEY: { category: 'input', meaning: 'strict mode: a dictionary key repeated' },
  BENCODE_NONCANONICAL_INTEGER_LEADING_ZERO: { category: 'input', meaning: 'strict mode: an integer with a leading zero' },
  BENCODE_NONCANONICAL_NEGATIVE_ZERO: { category: 'input', meaning: 'strict mode: the integer `-0`' },
  BENCODE_NONCANONICAL_LENGTH_LEADING_ZERO: { category: 'input', meaning: 'strict mode: a string length with a leading zero' },
  BENCODE_ENCODE_BAD_VALUE: { category: 'internal', meaning: 'asked to encode a value bencode has no form for (a bug)' },
  BENCODE_ENCODE_NOT_INTEGER: { category: 'internal', meaning: 'asked to encode a non-integer number (a bug)' },
  BENCODE_ENCODE_DUPLICATE_KEY: { category: 'internal', meaning: 'asked to encode a dictionary with a repeated key (a bug)' },
  BENCODE_ENCODE_TOO_DEEP: { category: 'internal', meaning: 'asked to encode a value nested too deeply (a bug)' },
} as const satisfies Domain;

/** Torrent files (BEP 3, 52), magnet links (BEP 9, 53) and creating torrents. */
export const METAINFO_CODES = {
  METAINFO_TOO_LARGE: { category: 'input', meaning: 'the torrent file is larger than the 64 MiB a torrent can be' },
  METAINFO_NOT_DICT: { category: 'input', meaning: 'the top level of the torrent is not a dictionary' },
  METAINFO_MISSING_INFO: { category: 'input', meaning: 'the torrent has no `info` dictionary' },
  METAINFO_MISSING_NAME: { category: 'input', meaning: 'the info dictionary has no `name`' },
  METAINFO_BAD_NAME: { category: 'input', meaning: 'the `name` is not a UTF-8 string' },
  METAINFO_BAD_PIECE_LENGTH: { category: 'input', meaning: '`piece length` is missing, not an integer, or out of range' },
  METAINFO_BAD_PIECES: { category: 'input', meaning: '`pieces` is missing, not a string, or not a multiple of 20 bytes' },
  METAINFO_PIECE_COUNT_MISMATCH: { category: 'input', meaning: 'the number of piece hashes does not fit the total length' },
  METAINFO_BAD_LENGTH: { category: 'input', meaning: 'a `length` is missing, not an integer or out of range, or the total length overflows' },
  METAINFO_BAD_FILES: { category: 'input', meaning: '`files` is not a non-empty list of dictionaries, or the info has both `length` and `files`' },
  METAINFO_BAD_PATH: { category: 'input', meaning: 'a file\'s `path` is missing or not a list of strings' },
  METAINFO_PATH_NOT_UTF8: { category: 'input', meaning: 'a path component is not valid UTF-8' },
  METAINFO_PATH_EMPTY: { category: 'input', meaning: 'a path is empty or has an empty component' },
  METAINFO_PATH_TRAVERSAL: { category: 'input', meaning: 'a path has a `.` or `..` component (would leave the output directory)' },
  METAINFO_PATH_ABSOLUTE: { category: 'input', meaning: 'a path component is absolute or contains a path separator' },
  METAINFO_PATH_RESERVED: { category: 'input', meaning: 'a path component contains NUL or is a name Windows reserves' },
  METAINFO_BAD_FILE_TREE: { category: 'input', meaning: 'the v2 `file tree` is malformed (not a dictionary, a bad file node, no files)' },
  METAINFO_BAD_PIECES_ROOT: { category: 'input', meaning: 'a non-empty file of the v2 file tree lacks a 32-byte `pieces root`' },
  METAINFO_FILE_TREE_TOO_MANY_FILES: { category: 'input', meaning: 'the v2 file tree lists more files than btkit reads' },
  METAINFO_FILE_TREE_TOO_DEEP: { category: 'input', meaning: 'the v2 file tree is nested deeper than btkit reads' },
  METAINFO_HYBRID_MISMATCH: { category: 'input', meaning: 'a hybrid torrent\'s v1 file list does not match its v2 file tree' },
  METAINFO_BAD_PIECE_LAYERS: { category: 'input', meaning: '`piece layers` is not a dictionary, or a layer has the wrong length' },
  METAINFO_PIECE_LAYER_MISMATCH: { category: 'input', meaning: 'a piece layer does not hash to its file\'s `pieces root`' },
  METAINFO_DUPLICATE_PATH: { category: 'input', meaning: 'two files of the torrent have the same path' },
  METAINFO_BAD_META_VERSION: { category: 'input', meaning: 'an unsupported `meta version`' },
  METAINFO_V2_ONLY_UNSUPPORTED: { category: 'input', meaning: 'a v2-only torrent (BEP 52); btkit reads v1 and hybrid torrents' },
  TORRENT_FILE_BAD_INFO: { category: 'input', meaning: 'the info dictionary of a torrent file is not bencode' },
  MAGNET_NOT_MAGNET: { category: 'input', meaning: 'the text is not a `magnet:?` link' },
  MAGNET_NO_INFOHASH: { category: 'input', meaning: 'the magnet link has no `xt=urn:btih:` or `xt=urn:btmh:` parameter' },
  MAGNET_BAD_INFOHASH: { category: 'input', meaning: 'the magnet link\'s infohash is malformed' },
  MAGNET_BAD_ENCODING: { category: 'input', meaning: 'bad percent-encoding in a magnet link' },
  MAGNET_BAD_LENGTH: { category: 'input', meaning: 'the magnet link\'s `xl=` is not a length' },
  MAGNET_BAD_SELECT: { category: 'input', meaning: 'the magnet link\'s file selection (`so=`) is malformed, reversed or too large' },
  CREATE_EMPTY: { category: 'input', meaning: 'the content to create a torrent from holds only empty files' },
  CREATE_NO_FILES: { category: 'input', meaning: 'no files to add under the given directory' },
  CREATE_NOT_FILE: { category: 'input', meaning: 'the path to create a torrent from is neither a file nor a directory' },
  CREATE_TOO_MANY_FILES: { category: 'input', meaning: 'more files under the directory than a torrent may list' },
  CREATE_BAD_PIECE_LENGTH: { category: 'input', meaning: 'the requested piece length is outside 1 B to 1 GiB' },
} as const satisfies Domain;

/** Tracker clients (BEP 3, 15, 23, 48) and the built-in tracker. */
export const TRACKER_CODES = {
  TRACKER_NONE: { category: ['input', 'usage'], meaning: 'there is no tracker to announce to or scrape; give one with --tracker' },
  TRACKER_ALL_FAILED: { category: 'network', meaning: 'every tracker tried failed (each one\'s error is in the detail)' },
  TRACKER_FAILED: { category: 'network', meaning: 'a tracker of a download failed (reported as a session event)' },
  TRACKER_UNSUPPORTED_SCHEME: { category: 'input', meaning: 'the tracker URL is neither http(s) nor udp' },
  TRACKER_BAD_URL: { category: 'input', meaning: 'the tracker URL is malformed, or a udp:// URL lacks a host or port' },
  TRACKER_BAD_QUERY: { category: 'input', meaning: 'an announce query has bad percent-encoding' },
  TRACKER_BAD_PARAMS: { category: 'internal', meaning: 'an infohash or peer id that is not 20 bytes reached the UDP codec (a bug)' },
  TRACKER_UNREACHABLE: { category: 'network', meaning: 'the tracker could not be reached (DNS, refused, reset)' },
  TRACKER_TIMEOUT: { category: 'network', meaning: 'the tracker did not answer in time' },
  TRACKER_HTTP_STATUS: { category: 'network', meaning: 'the HTTP tracker answered with a non-200 status' },
  TRACKER_FAILURE: { category: 'network', meaning: 'the tracker answered with a `failure reason` / UDP error' },
  TRACKER_BAD_RESPONSE: { category: 'network', meaning: 'the tracker\'s answer is malformed' },
  TRACKER_BAD_PEERS: { category: 'network', meaning: 'the tracker\'s peer list is malformed (a truncated compact list)' },
  TRACKER_BAD_PACKET: { category: 'network', meaning: 'a UDP tracker sent a malformed or mismatched packet' },
  TRACKER_BAD_TRANSACTION: { category: 'network', meaning: 'a UDP tracker answered, but never with our transaction id' },
  TRACKER_PACKET_TOO_LARGE: { category: 'network', meaning: 'a UDP tracker sent a datagram over the size limit' },
  TRACKER_RESPONSE_TOO_LARGE: { category: 'network', meaning: 'an HTTP tracker\'s answer is over the size limit' },
  TRACKER_BAD_REDIRECT: { category: 'network', meaning: 'an HTTP tracker redirects to an invalid or unsupported URL' },
  TRACKER_REDIRECT_LOOP: { category: 'network', meaning: 'an HTTP tracker redirects in a loop' },
  TRACKER_TOO_MANY_REDIRECTS: { category: 'network', meaning: 'an HTTP tracker redirects too many times' },
  TRACKER_SCRAPE_UNSUPPORTED: { category: 'network', meaning: 'the announce URL has no scrape URL (BEP 48 convention)' },
  TRACKER_SERVER_FULL: { category: 'input', meaning: 'the built-in tracker already tracks as many torrents as it may' },
} as const satisfies Domain;

/** The DHT (BEP 5). */
export const DHT_CODES = {
  DHT_NO_NODES: { category: 'network', meaning: 'no DHT node answered' },
  DHT_NO_PEERS: { category: 'no-peers', meaning: 'the DHT answered, but nobody has peers for the infohash' },
  DHT_ANNOUNCE_FAILED: { category: 'network', meaning: 'no DHT node accepted the announce' },
  DHT_FAILED: { category: 'network', meaning: 'a DHT lookup of a download failed (reported as a session event)' },
  DHT_BIND_FAILED: { category: 'network', meaning: 'the DHT\'s UDP socket could not be bound' },
  DHT_BAD_BIND_ADDRESS: { category: 'usage', meaning: 'the address to bind the DHT to is not an IP address' },
  DHT_NO_BOOTSTRAP: { category: 'usage', meaning: 'no --bootstrap node, and BTKIT_NO_PUBLIC_DHT forbids the public routers' },
  DHT_NO_INFOHASH: { category: 'input', meaning: 'the target has no v1 infohash to look up' },
  DHT_BAD_INFOHASH: { category: 'input', meaning: 'a DHT key is not a 20-byte infohash' },
  DHT_STATE_WRITE_FAILED: { category: 'io', meaning: 'the DHT state file could not be written' },
  DHT_BAD_NODE_ID: { category: 'internal', meaning: 'a DHT node id that is not 20 bytes (a bug)' },
  DHT_BOOTSTRAP_REQUIRED: { category: 'internal', meaning: 'a DHT node started without an explicit bootstrap list (a bug)' },
  DHT_CLOSED: { category: 'internal', meaning: 'the DHT node was used after it was closed (a bug)' },
} as const satisfies Domain;

/** The peer wire protocol (BEP 3, 6) and peer connections. */
export const WIRE_CODES = {
  WIRE_BAD_HANDSHAKE: { category: 'network', meaning: 'the peer\'s handshake is malformed' },
  WIRE_MESSAGE_TOO_LARGE: { category: 'network', meaning: 'a peer message longer than the frame limit' },
  WIRE_UNKNOWN_MESSAGE: { category: 'network', meaning: 'a peer message with an unknown id' },
  WIRE_BAD_LENGTH: { category: 'network', meaning: 'a peer message of the wrong length for its type' },
  WIRE_BAD_REQUEST: { category: 'network', meaning: 'a request, cancel or reject for a block of a forbidden size' },
  WIRE_BAD_BITFIELD: { category: 'network', meaning: 'a bitfield of the wrong size, or with spare bits set' },
  WIRE_BAD_HASH_MESSAGE: { category: 'network', meaning: 'a BEP 52 hash request, hashes or hash reject out of bounds (no hashes, more than 8192, a layer past 63, more hashes than asked and proven)' },
  WIRE_BAD_INDEX: { category: 'network', meaning: 'a message names a piece the torrent does not have' },
  WIRE_UNEXPECTED_BITFIELD: { category: 'network', meaning: 'a bitfield, have all or have none after the first messages' },
  WIRE_FAST_NOT_NEGOTIATED: { category: 'network', meaning: 'a fast-extension (BEP 6) message from a peer that did not offer it' },
  WIRE_EXTENDED_NOT_NEGOTIATED: { category: 'network', meaning: 'an extended (BEP 10) message from a peer that did not offer it' },
  PEER_CLOSED: { category: 'network', meaning: 'the peer closed the connection during the handshake' },
  PEER_HANDSHAKE_TIMEOUT: { category: 'network', meaning: 'the peer sent no handshake in time' },
  PEER_WRONG_TORRENT: { category: 'network', meaning: 'the peer asked for another torrent' },
  PEER_FAILED: { category: 'network', meaning: 'a peer connection failed with an unexpected error' },
  PEER_REFUSED: { category: 'network', meaning: 'the session refused an incoming peer' },
  PEER_BANNED: { category: 'network', meaning: 'the peer was banned (bad data or broken rules) and dropped' },
  PEER_BAD_BLOCK: { category: 'network', meaning: 'the peer sent a block that is none of ours (bad index, offset or length)' },
  PEER_UNREQUESTED_DATA: { category: 'network', meaning: 'the peer kept sending blocks nobody asked it for, of pieces we were not fetching or already had (more than two full request pipelines)' },
  PEER_NOT_V2: { category: 'network', meaning: 'a BEP 52 hash message on a connection that does not speak v2' },
  PEER_BAD_HASHES: { category: 'network', meaning: 'BEP 52 hashes that do not fold to the file\'s pieces root (the peer is banned)' },
  PEER_HASH_REJECT_STORM: { category: 'network', meaning: 'more than 64 BEP 52 hash rejects or hashes nobody asked for (or past 16 rejects): the peer is dropped' },
  PEER_HASH_REQUEST_FLOOD: { category: 'network', meaning: 'more than 2048 BEP 52 hash requests in 10 s from one peer: the peer is dropped' },
  PEER_SILENT: { category: 'network', meaning: 'the peer sent nothing for too long' },
  PEER_TOO_SLOW: { category: 'network', meaning: 'the peer\'s requests timed out repeatedly' },
  PEER_NO_HANDSHAKE: { category: 'internal', meaning: 'a peer connection was run before its handshake (a bug)' },
  PEER_ID_TOO_LONG: { category: 'usage', meaning: 'the peer id prefix is longer than 20 bytes' },
} as const satisfies Domain;

/** The extension protocol (BEP 10), ut_metadata (BEP 9) and ut_pex (BEP 11). */
export const EXTENSION_CODES = {
  EXT_BAD_HANDSHAKE: { category: 'network', meaning: 'the peer\'s extended handshake is malformed' },
  EXT_UNKNOWN_MESSAGE: { category: 'network', meaning: 'an extended message with an id we never announced' },
  EXT_BAD_PEX: { category: 'network', meaning: 'a malformed ut_pex message' },
  EXT_BAD_METADATA_MESSAGE: { category: 'network', meaning: 'a malformed ut_metadata message' },
  EXT_METADATA_PIECE_OUT_OF_RANGE: { category: 'network', meaning: 'a ut_metadata piece past the end of the metadata' },
  EXT_METADATA_SIZE_MISMATCH: { category: 'network', meaning: 'a ut_metadata `total_size` other than the one the peer announced' },
  EXT_METADATA_BAD_PIECE_LENGTH: { category: 'network', meaning: 'a ut_metadata piece of the wrong length' },
  EXT_METADATA_UNREQUESTED: { category: 'network', meaning: 'too many ut_metadata pieces nobody asked for' },
  EXT_METADATA_HASH_MISMATCH: { category: 'network', meaning: 'the metadata a peer sent does not hash to the infohash' },
  EXT_METADATA_TOO_LARGE: { category: 'network', meaning: 'a peer announced metadata over the size limit (a metadata-rejected event)' },
  EXT_METADATA_TIMEOUT: { category: 'network', meaning: 'a peer did not answer a ut_metadata request in time (a metadata-rejected event)' },
  EXT_METADATA_REJECTED: { category: 'network', meaning: 'a peer rejected too many ut_metadata requests (a metadata-rejected event)' },
} as const satisfies Domain;

/** Download and seed sessions. */
export const SESSION_CODES = {
  NO_PEERS: { category: 'no-peers', meaning: 'no data arrived in time: no peer could be reached or none had data' },
  NO_METADATA: { category: 'no-metadata', meaning: 'no peer sent the metadata of a magnet link in time' },
  PIECE_LAYERS_MISSING: { category: 'network', meaning: 'a v2 or hybrid magnet\'s saved .torrent has no `piece layers`: no peer sent them (BEP 52 hash requests) within --timeout (a warning event; the download still exits 0, `torrentPieceLayers` false)' },
  DOWNLOAD_STALLED: { category: 'no-peers', meaning: 'a download received no data for too long' },
  DOWNLOAD_NO_SOURCES: { category: 'usage', meaning: 'no way to find peers: no tracker, --peer or DHT' },
  SESSION_STOPPED: { category: 'interrupted', meaning: 'the session was stopped' },
  SESSION_RUNNING: { category: 'internal', meaning: 'a session was run twice (a bug)' },
  SESSION_NO_INFOHASH: { category: 'internal', meaning: 'a session was made without a metainfo or infohash (a bug)' },
  SESSION_NO_METADATA_HANDLER: { category: 'internal', meaning: 'a session from an infohash was made without onMetadata (a bug)' },
  SESSION_NO_STORE: { category: 'internal', meaning: 'a session with a metainfo was made without a store (a bug)' },
  RESUME_SAVE_FAILED: { category: 'io', meaning: 'the resume state could not be saved' },
} as const satisfies Domain;

/** Content on disk, the output files and the local file system. */
export const STORAGE_CODES = {
  STORAGE_PATH_ESCAPES: { category: 'input', meaning: 'a file path resolves outside the output directory (also through a symbolic link)' },
  STORAGE_SYMLINK: { category: 'input', meaning: 'a file to write is a symbolic link; btkit does not write through links' },
  STORAGE_STATE_SYMLINK: { category: 'input', meaning: 'the resume state file is a symbolic link (refused)' },
  STORAGE_READ_ONLY: { category: 'internal', meaning: 'a write to content opened read-only for seeding (a bug)' },
  VERIFY_NOT_FOUND: { category: 'io', meaning: '`verify PATH`: PATH is a directory without the single-file torrent\'s file in it' },
  VERIFY_NOT_DIRECTORY: { category: 'input', meaning: '`verify PATH`: PATH is a file, but the torrent is a directory' },
  SEED_NOT_FOUND: { category: 'io', meaning: '`seed PATH`: PATH is a directory without the single-file torrent\'s file in it' },
  SEED_NOT_DIRECTORY: { category: 'input', meaning: '`seed PATH`: PATH is a file, but the torrent is a directory' },
  OUTPUT_EXISTS: { category: 'io', meaning: 'the output file exists (use --force to overwrite)' },
  OUTPUT_CLOSED: { category: 'io', meaning: 'standard output was closed by its reader' },
  STDIN_IS_TTY: { category: 'input', meaning: 'standard input (`-`) was asked for, but it is a terminal' },
  TARGET_NOT_FOUND: { category: 'io', meaning: 'the target is not a magnet link or infohash, and no such file exists' },
  IO_ENOENT: { category: 'io', meaning: 'no such file or directory' },
  IO_EACCES: { category: 'io', meaning: 'permission denied' },
  IO_EPERM: { category: 'io', meaning: 'operation not permitted' },
  IO_EISDIR: { category: 'io', meaning: 'is a directory' },
  IO_ENOTDIR: { category: 'io', meaning: 'not a directory' },
  IO_ENOSPC: { category: 'io', meaning: 'no space left on device' },
  IO_EEXIST: { category: 'io', meaning: 'already exists' },
  IO_EMFILE: { category: 'io', meaning: 'too many open files' },
  IO_EROFS: { category: 'io', meaning: 'read-only file system' },
  IO_ESHORT: { category: 'io', meaning: 'a file is shorter than the torrent says (btkit\'s own errno: it changed while being read)' },
  IO_EIO: { category: 'io', meaning: 'an I/O error of the device (also a hash worker\'s read that failed without an errno)' },
} as const satisfies Domain;

/** Connections (TCP, uTP, the in-memory transport) and system network errors. */
export const NET_CODES = {
  NET_CLOSED: { category: 'network', meaning: 'the connection was closed' },
  NET_CONNECT_TIMEOUT: { category: 'network', meaning: 'connecting to a peer timed out' },
  NET_ABORTED: { category: 'interrupted', meaning: 'a connection attempt was aborted' },
  NET_ECONNREFUSED: { category: 'network', meaning: 'connection refused' },
  NET_ECONNRESET: { category: 'network', meaning: 'connection reset by peer' },
  NET_ETIMEDOUT: { category: 'network', meaning: 'timed out' },
  NET_EHOSTUNREACH: { category: 'network', meaning: 'host unreachable' },
  NET_ENETUNREACH: { category: 'network', meaning: 'network unreachable' },
  NET_EPIPE: { category: 'network', meaning: 'broken pipe' },
  NET_ENOTFOUND: { category: 'network', meaning: 'host not found' },
  NET_EAI_AGAIN: { category: 'network', meaning: 'name resolution failed' },
  NET_EADDRINUSE: { category: 'network', meaning: 'address already in use' },
  NET_EADDRNOTAVAIL: { category: 'network', meaning: 'address not available' },
  TRANSPORT_ITERATED: { category: 'internal', meaning: 'a connection was iterated twice (a bug)' },
  UTP_IPV6_UNSUPPORTED: { category: 'network', meaning: 'uTP (BEP 29, utp-native) reaches IPv4 addresses only: an IPv6 peer or listening address was given' },
  UTP_BIND_FAILED: { category: 'network', meaning: 'the uTP (UDP) socket could not be bound to the address and port' },
  UTP_FAILED: { category: 'network', meaning: 'a uTP connection failed for a reason libutp does not name' },
  UTP_RECEIVE_OVERFLOW: { category: 'network', meaning: 'a uTP peer sent far more than was read (libutp has no read backpressure): the connection was closed' },
  UTP_CLOSED: { category: 'network', meaning: 'the uTP socket was closed (the session is stopping)' },
} as const satisfies Domain;

/** Hashing content (the worker pool). */
export const HASH_CODES = {
  HASH_WORKER_FAILED: { category: 'internal', meaning: 'a hash worker thread failed' },
  HASH_POOL_CLOSED: { category: 'internal', meaning: 'the hash pool was used after it was closed (a bug)' },
  HASH_UNALIGNED: { category: 'internal', meaning: 'merkle (v2) hashing was given a piece length or file layout that is not aligned (a bug)' },
  HASH_BAD_PIECE_LENGTH: { category: 'internal', meaning: 'a piece length that is not a positive integer reached the hasher (a bug)' },
} as const satisfies Domain;

/** Web seeds (BEP 19). */
export const WEBSEED_CODES = {
  WEBSEED_BAD_URL: { category: 'input', meaning: 'the web seed URL is malformed or not http(s)' },
  WEBSEED_TIMEOUT: { category: 'network', meaning: 'the web seed did not answer in time' },
  WEBSEED_HTTP_STATUS: { category: 'network', meaning: 'the web seed answered with an unexpected HTTP status' },
  WEBSEED_NOT_FOUND: { category: 'network', meaning: 'the web seed does not have the file (404 or 410)' },
  WEBSEED_RETRY_LATER: { category: 'network', meaning: 'the web seed is busy (429 or 503; Retry-After honoured)' },
  WEBSEED_RANGE_IGNORED: { category: 'network', meaning: 'the web seed ignored the Range header' },
  WEBSEED_RANGE_NOT_SATISFIABLE: { category: 'network', meaning: 'the web seed refused the range (416): its file is shorter' },
  WEBSEED_BAD_CONTENT_RANGE: { category: 'network', meaning: 'the web seed\'s Content-Range is not the range asked for' },
  WEBSEED_ENCODED_BODY: { category: 'network', meaning: 'the web seed sent a content-encoded (compressed) body' },
  WEBSEED_SHORT_BODY: { category: 'network', meaning: 'the web seed\'s body ended before the range did' },
  WEBSEED_BODY_TOO_LONG: { category: 'network', meaning: 'the web seed sent more bytes than the range' },
  WEBSEED_BAD_REDIRECT: { category: 'network', meaning: 'the web seed redirects to an invalid or unsupported URL' },
  WEBSEED_REDIRECT_LOOP: { category: 'network', meaning: 'the web seed redirects in a loop' },
  WEBSEED_TOO_MANY_REDIRECTS: { category: 'network', meaning: 'the web seed redirects too many times' },
  WEBSEED_TOO_MANY_ORIGINS: { category: 'network', meaning: 'the web seed\'s redirects lead to too many servers' },
  WEBSEED_CLOSED: { category: 'network', meaning: 'the web seed was closed' },
  WEBSEED_BUSY: { category: 'network', meaning: 'too many requests are already waiting for the web seed' },
  WEBSEED_PIECE_UNAVAILABLE: { category: 'network', meaning: 'the web seed cannot serve the piece (one of its files is unavailable)' },
  WEBSEED_NO_FILES: { category: 'network', meaning: 'the web seed serves none of the torrent\'s files' },
  WEBSEED_BAD_DATA: { category: 'network', meaning: 'too many pieces from the web seed failed their hash or broke the protocol' },
  WEBSEED_BAD_PIECE: { category: 'network', meaning: 'a piece from the web seed failed its hash (a webseed-strike event)' },
  WEBSEED_TOO_MANY_ERRORS: { category: 'network', meaning: 'the web seed failed too many times in a row' },
  WEBSEED_DROPPED: { category: 'network', meaning: 'the web seed was dropped (the reason and the cause\'s code are in the detail)' },
  WEBSEED_ERROR: { category: 'network', meaning: 'a web seed request failed with an unexpected error' },
  WEBSEED_CHECK_FAILED: { category: 'network', meaning: 'a web seed check failed with an unexpected error' },
  WEBSEED_CHECK_SIZE: { category: 'network', meaning: 'a web seed\'s file has another size than the torrent says' },
  WEBSEED_CHECK_MISMATCH: { category: 'network', meaning: 'a web seed\'s data does not match the torrent\'s piece hashes' },
} as const satisfies Domain;

/** The command line: usage, the commands' own failures, the demo. */
export const CLI_CODES = {
  USAGE: { category: 'usage', meaning: 'the command line is wrong (unknown flag, bad flag value, missing argument)' },
  UNKNOWN_COMMAND: { category: 'usage', meaning: 'no such command' },
  INTERNAL: { category: 'internal', meaning: 'an unexpected failure (a bug in btkit; please report it)' },
  ABORTED: { category: 'interrupted', meaning: 'the operation was aborted' },
  INTERRUPTED: { category: 'interrupted', meaning: 'interrupted by a signal (SIGINT, SIGTERM)' },
  ANNOUNCE_NO_INFOHASH: { category: 'input', meaning: '`announce`: the target has no infohash' },
  SCRAPE_NO_INFOHASH: { category: 'input', meaning: '`scrape`: a target has no infohash' },
  INSPECT_NEEDS_TORRENT: { category: 'input', meaning: '`inspect`: an infohash alone has nothing to inspect' },
  CREATE_STDOUT_IS_TTY: { category: 'usage', meaning: '`create`: refusing to write a binary torrent to a terminal' },
  VERIFY_FAILED: { category: 'verification', meaning: '`verify`: the data on disk does not match the torrent' },
  SEED_DATA_BAD: { category: 'verification', meaning: '`seed`: the data on disk fails its piece hashes' },
  SEED_DATA_MISSING: { category: 'verification', meaning: '`seed`: files of the torrent are missing or have the wrong size' },
  DEMO_FAILED: { category: ['internal', 'verification'], meaning: '`demo`: the demo did not produce the expected results' },
  DEMO_TIMEOUT: { category: ['internal', 'interrupted'], meaning: '`demo`: a step did not finish in time, or the demo was interrupted' },
  DEMO_CHILD_FAILED: { category: 'internal', meaning: '`demo`: a child btkit process failed' },
  DEMO_MAGNET_MISMATCH: { category: 'internal', meaning: '`demo`: the magnet link did not round-trip' },
} as const satisfies Domain;

/** Every domain, with its heading in the docs, in the order the docs list them. */
export const ERROR_CODE_DOMAINS = [
  { title: 'Bencode (BEP 3)', codes: BENCODE_CODES },
  { title: 'Torrent files, magnet links and creating torrents (BEP 3, 9, 52)', codes: METAINFO_CODES },
  { title: 'Trackers (BEP 3, 15, 23, 48)', codes: TRACKER_CODES },
  { title: 'DHT (BEP 5)', codes: DHT_CODES },
  { title: 'Peer wire and peer connections (BEP 3, 6)', codes: WIRE_CODES },
  { title: 'Extension protocol, ut_metadata and ut_pex (BEP 9, 10, 11)', codes: EXTENSION_CODES },
  { title: 'Download and seed sessions', codes: SESSION_CODES },
  { title: 'Storage, output files and the file system', codes: STORAGE_CODES },
  { title: 'Connections and system network errors', codes: NET_CODES },
  { title: 'Hashing', codes: HASH_CODES },
  { title: 'Web seeds (BEP 19)', codes: WEBSEED_CODES },
  { title: 'Command line', codes: CLI_CODES },
] as const satisfies readonly { title: string; codes: Domain }[];

/** All catalogued codes (a test checks that no domain repeats another's code). */
export const ERROR_CODES = {
  ...BENCODE_CODES,
  ...METAINFO_CODES,
  ...TRACKER_CODES,
  ...DHT_CODES,
  ...WIRE_CODES,
  ...EXTENSION_CODES,
  ...SESSION_CODES,
  ...STORAGE_CODES,
  ...NET_CODES,
  ...HASH_CODES,
  ...WEBSEED_CODES,
  ...CLI_CODES,
} as const;

export type CataloguedCode = keyof typeof ERROR_CODES;

declare const systemErrno: unique symbol;
/**
 * `IO_<errno>` for a system errno the catalogue does not list (fromSystemError passes any errno
 * through). Branded, so a string literal is never one: only fromSystemError makes them.
 */
export type SystemIoCode = `IO_${string}` & { readonly [systemErrno]: true };

/** Every code a BtError can carry. */
export type ErrorCode = CataloguedCode | SystemIoCode;

type Categories<T> = T extends readonly (infer X)[] ? X : T;

/** The category (or categories) a code may be thrown with. */
export type CategoryOf<C extends ErrorCode> = C extends CataloguedCode ? CategoryMap[C] : 'io';
type CategoryMap = { [K in CataloguedCode]: Categories<(typeof ERROR_CODES)[K]['category']> };

/** The codes that may be thrown with category `K`. */
export type CodeOf<K extends ErrorCategory> = { [C in CataloguedCode]: K extends CategoryOf<C> ? C : never }[CataloguedCode];

/** The system errnos fromSystemError reports as network errors (`NET_<errno>`). */
export const NET_ERRNOS = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRINUSE', 'EADDRNOTAVAIL'] as const;
export type NetErrno = (typeof NET_ERRNOS)[number];

export const isCataloguedCode = (code: string): code is CataloguedCode => Object.prototype.hasOwnProperty.call(ERROR_CODES, code);

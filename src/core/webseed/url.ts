/**
 * BEP 19 (`url-list`, "WebSeed - HTTP/FTP Seeding, GetRight style"): where each file of a torrent
 * lives on a web seed.
 *
 * - A URL ending in `/` names a directory: the torrent's name and then the file's path are appended
 *   below it, one percent-encoded segment per path component (so a space, `#`, `?`, `%` or a
 *   non-ASCII name reach the server as that file's name, never as a fragment, a query or a
 *   separator). This is the same for single- and multi-file torrents.
 * - Otherwise, for a single-file torrent, the URL *is* the file.
 * - For a multi-file torrent, a URL not ending in `/` cannot name every file, so `/` is appended
 *   and the directory rule applies. BEP 19 does not say this; libtorrent does it
 *   (web_peer_connection: "handle incorrect .torrent files which are multi-file but have web seeds
 *   not ending with a slash"), and a torrent made with a directory URL that lost its slash then
 *   still works. anacrolix/torrent instead uses such a URL as it is for every file.
 *
 * The test on `/` is on the whole URL text, as the BEP words it; a URL with a query string
 * (`…/dir/?token=x`) therefore counts as a file URL. Pure functions: no I/O.
 */

/** What URL mapping needs to know of a torrent. */
export interface WebSeedLayoutNames {
  name: string;
  /** True when the info dict has `files` (even with a single file in it). */
  multiFile: boolean;
  /** Path components below the torrent's name, in torrent order (single-file: `[name]`). */
  files: readonly { path: readonly string[] }[];
}

/**
 * One path component, percent-encoded as an RFC 3986 segment: everything but the unreserved
 * characters is encoded from its UTF-8 bytes. `encodeURIComponent` leaves `!'()*` alone; those are
 * legal in a segment, but encoding them too keeps the mapping one rule with no exceptions, and
 * servers decode either form to the same name.
 */
export function encodeSegment(component: string): string {
  return encodeURIComponent(component).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The base URL as used for requests: `/` appended for a multi-file torrent (libtorrent's rule). */
export function webSeedBase(url: string, multiFile: boolean): string {
  return multiFile && !url.endsWith('/') ? `${url}/` : url;
}

/** The URL of file `fileIndex` of the torrent on the web seed `url`. */
export function fileUrl(url: string, torrent: WebSeedLayoutNames, fileIndex: number): string {
  const file = torrent.files[fileIndex];
  if (file === undefined) throw new RangeError(`no file ${fileIndex}`);
  const base = webSeedBase(url, torrent.multiFile);
  if (!base.endsWith('/')) return base; // single-file torrent, the URL is the file
  const components = torrent.multiFile ? [torrent.name, ...file.path] : [torrent.name];
  return base + components.map(encodeSegment).join('/');
}

/**
 * BEP 17 (`httpseeds`, "HTTP Seeding", Hoffman style): the request for piece `piece` of the
 * torrent with v1 info hash `infoHash` from the script at `url`:
 * `<url>?info_hash=<hash>&piece=<piece>[&ranges=<a>-<b>]`. `range` is a byte range inside the
 * piece, both ends inclusive as in the BEP's example (`ranges=49152-131071`), left out for the
 * whole piece. The hash goes byte by byte, each byte that is not an RFC 3986 unreserved
 * character as `%XX` (as a tracker announce carries it). A URL that already has a query gets the
 * parameters appended with `&`.
 */
export function httpSeedUrl(url: string, infoHash: Uint8Array, piece: number, range?: { start: number; end: number }): string {
  let hash = '';
  for (const b of infoHash) {
    const unreserved = (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x2d || b === 0x2e || b === 0x5f || b === 0x7e;
    hash += unreserved ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  const sep = url.includes('?') ? (url.endsWith('?') || url.endsWith('&') ? '' : '&') : '?';
  return `${url}${sep}info_hash=${hash}&piece=${piece}${range ? `&ranges=${range.start}-${range.end}` : ''}`;
}
